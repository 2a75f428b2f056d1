// `zllm export`: the embedded model written as GGUF (F32, F16), llama2.c and a Hugging Face
// directory, each loaded back; logits compared with the source's on a few tokens.
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { jsBackend } from "@zero-llm/tensor";
import { fromGgufMetadata, fromTokenizerJson } from "@zero-llm/tokenizer-bpe";
import { type Model } from "@zero-llm/transformer";
import { openCheckpoint } from "@zero-llm/transformer/node";
import { afterAll, describe, expect, it } from "vitest";
import { exportCommand } from "../src/commands/export";
import { DEFAULT_MODEL_PATH } from "../src/commands/model-io";
import { runCli } from "./helpers";

const dir = mkdtempSync(path.join(os.tmpdir(), "zllm-export-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const TOKENS = [2047, 464, 1234, 88, 7];
function logitsOf(model: Model): Float32Array[] {
  const cache = model.newCache({ capacity: TOKENS.length });
  return TOKENS.map((t) => model.decode(t, cache).slice());
}
const maxDiff = (a: Float32Array[], b: Float32Array[]): number => Math.max(...a.map((row, i) => Math.max(...row.map((x, j) => Math.abs(x - b[i][j])))));

describe("zllm export", () => {
  const source = async (): Promise<Float32Array[]> => logitsOf((await openCheckpoint(DEFAULT_MODEL_PATH, { backend: jsBackend })).model);

  it("GGUF F32 carries the model's own tokenizer and gives the same logits", async () => {
    const out = path.join(dir, "default.gguf");
    const r = await runCli(["export", "--out", out], [exportCommand]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^wrote .*default\.gguf \(gguf, F32, llama, 1,049,728 parameters; tokenizer: byte-level BPE, 2048 tokens\)\n$/);
    const back = await openCheckpoint(out, { backend: jsBackend });
    expect(maxDiff(logitsOf(back.model), await source())).toBeLessThan(1e-4);
    const meta = new Map([...back.ggufMetadata!].map(([k, v]) => [k, typeof v.value === "bigint" ? Number(v.value) : v.value]));
    expect(meta.get("tokenizer.ggml.model")).toBe("gpt2");
    // the tokenizer in the file encodes as the model's tokenizer.json does
    const tok = fromGgufMetadata(meta);
    const reference = fromTokenizerJson(readFileSync(path.join(DEFAULT_MODEL_PATH, "tokenizer.json"), "utf8"));
    const text = "The jury said , `` it's 1961 '' . <|endoftext|> Für naïve café";
    expect(tok.vocabSize).toBe(reference.vocabSize);
    expect(tok.encode(text)).toEqual(reference.encode(text));
  });

  it("GGUF F16 stores half-precision matrices (logits within the f16 rounding)", async () => {
    const out = path.join(dir, "default-f16.gguf");
    expect((await runCli(["export", "--out", out, "--type", "F16"], [exportCommand])).code).toBe(0);
    const back = await openCheckpoint(out, { backend: jsBackend });
    const d = maxDiff(logitsOf(back.model), await source());
    expect(d).toBeGreaterThan(0);
    expect(d).toBeLessThan(0.05);
  });

  it("llama2.c .bin and a Hugging Face directory round-trip the weights", async () => {
    const bin = path.join(dir, "default.bin");
    expect((await runCli(["export", "--out", bin], [exportCommand])).code).toBe(0);
    expect(maxDiff(logitsOf((await openCheckpoint(bin, { backend: jsBackend })).model), await source())).toBeLessThan(1e-4);
    const hf = path.join(dir, "hf");
    const r = await runCli(["export", "--out", hf], [exportCommand]);
    expect(r.stdout).toMatch(/Hugging Face directory, F32, llama, .*tokenizer\.json copied/);
    expect(existsSync(path.join(hf, "tokenizer.json"))).toBe(true);
    expect(maxDiff(logitsOf((await openCheckpoint(hf, { backend: jsBackend })).model), await source())).toBe(0);
  });

  it("refuses what a format cannot hold, before writing anything", async () => {
    for (const argv of [["export"], ["export", "--out", path.join(dir, "x.bin"), "--type", "F16"], ["export", "--out", path.join(dir, "y"), "--type", "BF16"]]) {
      const r = await runCli(argv, [exportCommand]);
      expect(r.code, argv.join(" ")).toBe(2);
    }
    expect(existsSync(path.join(dir, "x.bin"))).toBe(false);
  });
});
