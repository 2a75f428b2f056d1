// `zllm export` and the places it writes (issue 12 #1, #2, #11): an output directory describes
// exactly one model, files it does not own are refused unless --force, output extensions in any
// case, `.safetensors` outputs, leftovers of a killed export removed, and no hang on /proc.
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { jsBackend } from "@zero-llm/tensor";
import { BENCH_SHAPES, randomWeights, type Model } from "@zero-llm/transformer";
import { openCheckpoint, writeGgufModel } from "@zero-llm/transformer/node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_MODEL_PATH } from "../src/commands/model-io";
import { runCli } from "./helpers";

const dir = mkdtempSync(path.join(os.tmpdir(), "zllm-export-dirs-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const cli = fileURLToPath(new URL("../dist/cli.js", import.meta.url));

const TOKENS = [2047, 464, 1234, 88, 7];
function logitsOf(model: Model): Float32Array[] {
  const cache = model.newCache({ capacity: TOKENS.length });
  return TOKENS.map((t) => model.decode(t, cache).slice());
}
const maxDiff = (a: Float32Array[], b: Float32Array[]): number => Math.max(...a.map((row, i) => Math.max(...row.map((x, j) => Math.abs(x - b[i][j])))));
const sourceLogits = async (): Promise<Float32Array[]> => logitsOf((await openCheckpoint(DEFAULT_MODEL_PATH, { backend: jsBackend })).model);

/** A llama2.c file of the default model: a source with no tokenizer. */
const noTokenizerModel = path.join(dir, "no-tokenizer.bin");
beforeAll(async () => {
  const r = await runCli(["export", "--out", noTokenizerModel]);
  expect(r.code, r.stderr).toBe(0);
});

interface Generated { prompt: number[]; tokens: number[] }
const greedy = async (...model: string[]): Promise<Generated> => {
  const r = await runCli(["generate", ...model, "--greedy", "--max-tokens", "8", "--backend", "js", "--json", "The jury said"]);
  expect(r.code, r.stderr).toBe(0);
  const { prompt, tokens } = JSON.parse(r.stdout) as Generated;
  return { prompt, tokens };
};

describe("an export into a directory leaves it describing exactly one model (#2)", () => {
  it("a model with no tokenizer over one with a tokenizer removes the stale tokenizer.json", async () => {
    const out = path.join(dir, "d");
    expect((await runCli(["export", "--out", out])).code).toBe(0);
    expect(readdirSync(out).sort()).toEqual(["config.json", "model.safetensors", "tokenizer.json"]);
    const again = await runCli(["export", "--model", noTokenizerModel, "--out", out]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/; no tokenizer\)\n$/);
    expect(readdirSync(out).sort()).toEqual(["config.json", "model.safetensors"]);
    // text needs the model's own tokenizer: without one it is a usage error, never the old tokenizer
    const text = await runCli(["generate", "--model", out, "--backend", "js", "--max-tokens", "3", "The jury said"]);
    expect(text.code).toBe(2);
    expect(text.stderr.split("\n")[0]).toBe(`zllm: no tokenizer: expected ${path.join(out, "tokenizer.json")} beside the Hugging Face checkpoint, or pass --tokenizer FILE, or use --ids`);
    const ids = await runCli(["generate", "--model", out, "--backend", "js", "--max-tokens", "3", "--greedy", "--ids", "2047,464"]);
    expect(ids.code, ids.stderr).toBe(0);
    expect(ids.stdout).toMatch(/^\d+,\d+,\d+\n$/);
  });

  it("the exported directory generates what its source does: config.json carries the tokenizer's bos and eos", async () => {
    const out = path.join(dir, "same");
    expect((await runCli(["export", "--out", out])).code).toBe(0);
    const config = JSON.parse(readFileSync(path.join(out, "config.json"), "utf8")) as Record<string, unknown>;
    expect(config).toMatchObject({ bos_token_id: 2047, eos_token_id: 2047 });
    expect(await greedy("--model", out)).toEqual(await greedy());
  });

  it("GGUF → Hugging Face keeps the byte-level BPE as tokenizer.json, and the same generations", async () => {
    const gguf = path.join(dir, "round.gguf");
    expect((await runCli(["export", "--out", gguf])).code).toBe(0);
    const out = path.join(dir, "from-gguf");
    const r = await runCli(["export", "--model", gguf, "--out", out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/; tokenizer\.json from the source's byte-level BPE\)\n$/);
    expect(await greedy("--model", out)).toEqual(await greedy());
  });

  it("a directory holding other files is refused before anything is read or written; --force writes beside them", async () => {
    const out = path.join(dir, "busy");
    mkdirSync(out);
    writeFileSync(path.join(out, "notes.txt"), "mine");
    mkdirSync(path.join(out, "sub"));
    const r = await runCli(["export", "--out", out]);
    expect(r.code).toBe(2);
    expect(r.stderr.split("\n")[0]).toBe(
      `zllm: --out ${out}: expected ${out} to be empty or to hold only a model export (model.safetensors, config.json, tokenizer.json), found other files: notes.txt, sub; export elsewhere, or pass --force to write beside them (they are left as they are)`,
    );
    expect(readdirSync(out).sort()).toEqual(["notes.txt", "sub"]);
    const forced = await runCli(["export", "--out", out, "--force"]);
    expect(forced.code, forced.stderr).toBe(0);
    expect(readdirSync(out).sort()).toEqual(["config.json", "model.safetensors", "notes.txt", "sub", "tokenizer.json"]);
    expect(readFileSync(path.join(out, "notes.txt"), "utf8")).toBe("mine");
  });
});

describe("output names (#11)", () => {
  it("extensions in any case: X.GGUF is a GGUF file and Y.BIN a llama2.c file, not directories", async () => {
    const gguf = path.join(dir, "upper", "X.GGUF");
    const r = await runCli(["export", "--out", gguf]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^wrote .*X\.GGUF \(gguf, F32, llama, 1,049,728 parameters; tokenizer: byte-level BPE, 2048 tokens\)\n$/);
    expect(statSync(gguf).isFile()).toBe(true);
    expect(maxDiff(logitsOf((await openCheckpoint(gguf, { backend: jsBackend })).model), await sourceLogits())).toBeLessThan(1e-4);
    const bin = path.join(dir, "upper", "Y.Bin");
    expect((await runCli(["export", "--out", bin])).code).toBe(0);
    expect(statSync(bin).isFile()).toBe(true);
  });

  it("*.safetensors writes the weights there with config.json and tokenizer.json beside them, loadable by that path", async () => {
    const out = path.join(dir, "st", "m.safetensors");
    const r = await runCli(["export", "--out", out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`wrote ${out} (safetensors, with config.json beside it, F32, llama, 1,049,728 parameters; tokenizer.json copied)\n`);
    expect(readdirSync(path.dirname(out)).sort()).toEqual(["config.json", "m.safetensors", "tokenizer.json"]);
    expect(maxDiff(logitsOf((await openCheckpoint(out, { backend: jsBackend })).model), await sourceLogits())).toBe(0);
    expect(await greedy("--model", out)).toEqual(await greedy());
    // its directory follows the directory rule: another model's weights there are not its own
    const other = path.join(dir, "st", "other.SAFETENSORS");
    const refused = await runCli(["export", "--out", other]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/found other files: m\.safetensors; export elsewhere, or pass --force/);
  });

  it("a trailing separator asks for a directory whatever the name; a single-file output that is a directory is refused", async () => {
    const out = path.join(dir, "looks-like.gguf") + path.sep;
    expect((await runCli(["export", "--out", out])).code).toBe(0);
    expect(statSync(path.join(out, "model.safetensors")).isFile()).toBe(true);
    const r = await runCli(["export", "--out", path.join(dir, "looks-like.gguf")]);
    expect(r.code).toBe(2);
    expect(r.stderr.split("\n")[0]).toBe(`zllm: --out ${path.join(dir, "looks-like.gguf")}: expected a file to write, found a directory (for a Hugging Face directory, end --out with "/")`);
  });
});

describe("leftovers of a killed export (#11)", () => {
  it("temporary files of a dead writer are removed by the next export into the same place, and said so", async () => {
    const out = path.join(dir, "stale");
    mkdirSync(out);
    const stale = ["model.safetensors.99999991.m3x9.0.tmp", "config.json.99999992.m3xa.1.tmp"];
    for (const name of stale) writeFileSync(path.join(out, name), "partial");
    const r = await runCli(["export", "--out", out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe(`removed 2 temporary file(s) an interrupted export left in ${out}: ${[...stale].sort().join(", ")}\n`);
    expect(readdirSync(out).sort()).toEqual(["config.json", "model.safetensors", "tokenizer.json"]);
    const gguf = path.join(out, "..", "stale.gguf.99999993.m3xb.2.tmp");
    writeFileSync(gguf, "partial");
    const g = await runCli(["export", "--out", path.join(dir, "stale.gguf")]);
    expect(g.code, g.stderr).toBe(0);
    expect(g.stderr).toContain("stale.gguf.99999993.m3xb.2.tmp");
    expect(existsSync(gguf)).toBe(false);
  });

  it.skipIf(!existsSync(cli))("kill -9 during an export, then the next export cleans up (a 60 MB model, killed mid-write)", async () => {
    const big = path.join(dir, "big.gguf");
    const config = BENCH_SHAPES["15M"];
    await writeGgufModel(big, { config, weights: randomWeights(config, { seed: 3, backend: jsBackend }) });
    const outDir = path.join(dir, "killed");
    const out = path.join(outDir, "copy.gguf");
    mkdirSync(outDir);
    const temps = (): string[] => readdirSync(outDir).filter((n) => n.endsWith(".tmp"));
    for (let attempt = 0; attempt < 5 && temps().length === 0; attempt++) {
      const child = spawn(process.execPath, [cli, "export", "--model", big, "--out", out], { stdio: "ignore" });
      await new Promise<void>((resolve) => {
        const poll = setInterval(() => {
          if (temps().length > 0) child.kill("SIGKILL");
        }, 2);
        child.on("exit", () => {
          clearInterval(poll);
          resolve();
        });
      });
    }
    const left = temps();
    expect(left).toHaveLength(1);
    expect(existsSync(out)).toBe(false); // never a half-written copy.gguf
    const next = await runCli(["export", "--model", big, "--out", out]);
    expect(next.code, next.stderr).toBe(0);
    expect(next.stderr).toBe(`removed 1 temporary file(s) an interrupted export left in ${outDir}: ${left[0]}\n`);
    expect(readdirSync(outDir)).toEqual(["copy.gguf"]);
  }, 300_000);
});

describe("directories that cannot be made (#1)", () => {
  it.skipIf(process.platform !== "linux" || !existsSync("/proc/self"))("--out /proc/zzdir fails at once with a typed error naming the path (Node's recursive mkdir loops forever there)", async () => {
    const r = await runCli(["export", "--model", noTokenizerModel, "--out", "/proc/zzdir"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("zllm: makeDirectory: expected to create the directory /proc/zzdir, found ENOENT although /proc exists (a file system that accepts no new directories there, such as /proc) (MKDIR_FAILED)\n");
    const file = await runCli(["export", "--model", noTokenizerModel, "--out", "/proc/zzdir/m.gguf"]);
    expect(file.code).toBe(1);
    expect(file.stderr).toMatch(/^zllm: makeDirectory: expected to create the directory \/proc\/zzdir, found ENOENT .*\(MKDIR_FAILED\)\n$/);
  }, 300_000);
});
