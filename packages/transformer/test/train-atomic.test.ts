import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { parseCheckpoint } from "../src/index";
import { loadModel } from "../src/node/index";

/**
 * Kill -9 a training process at arbitrary moments while it checkpoints every step: the files in
 * the run directory must always parse (the checkpoint) and load (the exported model). The child
 * runs the built package (dist/), so this test needs `npx tsup` first and skips otherwise.
 */
const dist = fileURLToPath(new URL("../dist/index.js", import.meta.url));
const distNode = fileURLToPath(new URL("../dist/node.js", import.meta.url));

const child = (dir: string): string => `
import { modelConfig, resolveSettings } from ${JSON.stringify(pathToFileURL(dist).href)};
import { trainRun } from ${JSON.stringify(pathToFileURL(distNode).href)};
const tokens = Array.from({ length: 4000 }, (_, i) => (i * 13) % 50);
const config = modelConfig({ dim: 32, nLayers: 2, nHeads: 2, vocabSize: 50, seqLen: 16 });
const settings = resolveSettings({ steps: 100000, batchSize: 2, warmupSteps: 1, evalEvery: 0, evalWindows: 2, checkpointEvery: 1 });
await trainRun({ outDir: ${JSON.stringify(dir)}, tokens, config, settings, resume: true, onEvent: (e) => e.type === "checkpoint" && console.log(e.step) });
`;

describe.skipIf(!existsSync(dist))("checkpoint writes are atomic", () => {
  it("a run killed with SIGKILL at 6 arbitrary moments always leaves a loadable checkpoint", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "zllm-kill-"));
    let lastStep = 0;
    for (let round = 0; round < 6; round++) {
      const proc = spawn(process.execPath, ["--input-type=module", "-e", child(dir)], { stdio: ["ignore", "pipe", "inherit"] });
      let checkpoints = 0;
      await new Promise<void>((resolve) => {
        proc.stdout.on("data", (chunk: Buffer) => {
          checkpoints += chunk.toString().trim().split("\n").length;
          // kill somewhere inside the 2nd…4th checkpoint write of this round (timing varies per round)
          if (checkpoints >= 2) setTimeout(() => proc.kill("SIGKILL"), round * 3);
        });
        proc.on("exit", () => resolve());
      });
      const state = parseCheckpoint(readFileSync(path.join(dir, "checkpoint.safetensors")));
      expect(state.step).toBeGreaterThanOrEqual(lastStep); // resumed, never went back
      lastStep = state.step;
      await loadModel(dir); // config.json + model.safetensors always a complete pair of files
    }
    expect(lastStep).toBeGreaterThanOrEqual(6);
  }, 300_000);
});
