import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { runCli } from "./helpers";

const tmp = (): string => mkdtempSync(path.join(os.tmpdir(), "zllm-cli-train-"));
const text = "The cat sat on the mat. The dog sat on the log. A bird sang in the tree.\n".repeat(60);

describe("zllm train / zllm eval ppl", () => {
  it("trains with --json progress, resumes, exports a model that eval ppl and generate read", async () => {
    const dir = tmp();
    const data = path.join(dir, "data.txt");
    writeFileSync(data, text);
    const out = path.join(dir, "run");
    const common = ["--out", out, "--data", data, "--backend", "js"];
    const config = path.join(dir, "train.json");
    writeFileSync(config, JSON.stringify({ vocab: 300, dim: 32, layers: 1, heads: 2, "kv-heads": 1, "seq-len": 16, steps: 24, batch: 4, warmup: 2, "eval-every": 12, "checkpoint-every": 12, lr: 0.01 }));
    const first = await runCli(["train", ...common, "--config", config, "--steps", "12", "--json"]);
    expect(first.stderr).toBe("");
    expect(first.code).toBe(0);
    const events = first.stdout.trim().split("\n").map((l) => JSON.parse(l) as { type: string; step?: number; valLoss?: number });
    expect(events[0].type).toBe("start");
    expect(events.filter((e) => e.type === "step")).toHaveLength(12);
    expect(events.at(-1)).toMatchObject({ type: "done", step: 12 });

    // --steps from the command line won over the file's 24; resume continues that run's settings
    const resumed = await runCli(["train", ...common, "--resume", "--quiet"]);
    expect(resumed.code).toBe(0);
    expect(resumed.stdout).toMatch(/^done: step 12, validation loss/);
    expect(readFileSync(path.join(out, "loss.csv"), "utf8").trim().split("\n")).toHaveLength(13);

    const ppl = await runCli(["eval", "ppl", "--model", out, "--data", data, "--backend", "js", "--json"]);
    expect(ppl.code).toBe(0);
    const r = JSON.parse(ppl.stdout) as { loss: number; perplexity: number; tokens: number };
    expect(r.perplexity).toBeCloseTo(Math.exp(r.loss), 8);
    expect(r.perplexity).toBeLessThan(300); // below uniform over the 300-token vocabulary
    const gen = await runCli(["generate", "--model", out, "--backend", "js", "--max-tokens", "5", "--seed", "1", "The cat"]);
    expect(gen.code).toBe(0);
  }, 60_000);

  it("refuses bad flags before any work", async () => {
    const dir = tmp();
    const data = path.join(dir, "data.txt");
    writeFileSync(data, text);
    const bad = await runCli(["train", "--out", path.join(dir, "r"), "--data", data, "--dim", "30", "--heads", "4"]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/dim divisible by nHeads \(4\), found 30/);
    const none = await runCli(["train", "--out", path.join(dir, "r")]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/--data FILE or --brown/);
    writeFileSync(path.join(dir, "empty.txt"), "");
    const empty = await runCli(["train", "--out", path.join(dir, "r"), "--data", path.join(dir, "empty.txt")]);
    expect(empty.code).toBe(2);
    expect(empty.stderr).toMatch(/empty file/);
  });
});
