import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { jsBackend } from "@zero-llm/tensor";
import type { Token } from "node-llama-cpp";
import { afterAll, describe, expect, it } from "vitest";
import { Model, allocateWeights, generate, loadModel, writeGgufModel, type Config } from "../src/index";

// Opt-in (ZLLM_LLAMA_CPP=1): llama.cpp itself (node-llama-cpp's CPU prebuilt, a devDependency)
// loads the GGUF files we write and must compute the same logits. Its KV cache is set to f32 and
// flash attention off (both default to f16 arithmetic, which alone moves logits by ~1e-2).
const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, "../../..");
const stories260K = path.resolve(repoRoot, "../shared/fixtures/llama2c/stories260K.bin");
const enabled = process.env.ZLLM_LLAMA_CPP === "1";

interface TinyFixture { config: Config; tokens: number[]; weights: Record<string, { data: number[] }>; logits: number[][] }

function tiny(file: string): { model: Model; fx: TinyFixture } {
  const fx = JSON.parse(readFileSync(path.join(here, "fixtures", file), "utf8")) as TinyFixture;
  const weights = allocateWeights(fx.config, jsBackend);
  for (const [name, { data }] of Object.entries(fx.weights)) weights.get(name).data.set(data);
  return { model: new Model(fx.config, weights), fx };
}

describe.skipIf(!enabled)("llama.cpp loads our GGUF files (opt-in: ZLLM_LLAMA_CPP=1)", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "zllm-llama-cpp-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function llamaLogits(file: string, tokens: number[]): Promise<Map<number, number>[]> {
    const { getLlama, LlamaLogLevel } = await import("node-llama-cpp");
    const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error });
    const model = await llama.loadModel({ modelPath: file });
    const context = await model.createContext({
      contextSize: 64, threads: 1, flashAttention: false, experimentalKvCacheKeyType: "F32", experimentalKvCacheValueType: "F32",
    });
    const input = tokens.map((t): [Token, { generateNext: { logits: true } }] => [t as unknown as Token, { generateNext: { logits: true } }]);
    const out = await context.getSequence().controlledEvaluate(input);
    await model.dispose();
    return out.map((o) => o?.next.logits ?? new Map<number, number>());
  }

  it.each([
    // ggml computes GELU through an f16 table: 1e-3 is its approximation, not a layout error
    ["tiny-gpt2.json", 2e-3],
    ["tiny-llama-half.json", 1e-5],
  ] as const)("%s: llama.cpp's logits match PyTorch's", async (file, tolerance) => {
    const { model, fx } = tiny(file);
    const gguf = path.join(dir, `${file}.gguf`);
    await writeGgufModel(gguf, model);
    const theirs = await llamaLogits(gguf, fx.tokens);
    let worst = 0;
    theirs.forEach((row, p) => {
      expect(row.size).toBe(fx.config.vocabSize);
      for (const [token, logit] of row) worst = Math.max(worst, Math.abs(logit - fx.logits[p][token]));
    });
    expect(worst).toBeLessThan(tolerance);
  }, 60_000);

  it.skipIf(!existsSync(stories260K))("stories260K: same logits and the same 60 greedy tokens", async () => {
    const ours = await loadModel(stories260K);
    const gguf = path.join(dir, "stories260K.gguf");
    await writeGgufModel(gguf, ours);
    const tokens = [1, 100, 200, 300, 400, 42, 7, 500, 13, 256];
    const theirs = await llamaLogits(gguf, tokens);
    const cache = ours.newCache();
    let worst = 0;
    tokens.forEach((t, p) => {
      const logits = ours.decode(t, cache);
      for (const [token, logit] of theirs[p]) worst = Math.max(worst, Math.abs(logit - logits[token]));
    });
    expect(worst).toBeLessThan(1e-4); // measured 3.3e-5 on logits up to ~15

    const { getLlama, LlamaLogLevel } = await import("node-llama-cpp");
    const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error });
    const model = await llama.loadModel({ modelPath: gguf });
    const context = await model.createContext({ contextSize: 128, threads: 1, flashAttention: false });
    const greedy: number[] = [];
    for await (const t of context.getSequence().evaluate([1, 100, 200] as unknown as Token[], { temperature: 0 })) {
      greedy.push(t as unknown as number);
      if (greedy.length === 60) break;
    }
    await model.dispose();
    expect(greedy).toEqual([...generate(ours, [1, 100, 200], { maxTokens: 60 })]);
  }, 60_000);
});
