import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { jsBackend } from "@zero-llm/tensor";
import { describe, expect, it } from "vitest";
import { Model, TransformerError, allocateWeights, type Config } from "../src/index";

const here = path.dirname(fileURLToPath(import.meta.url));

interface TinyFixture {
  config: Config;
  tokens: number[];
  weights: Record<string, { shape: number[]; data: number[] }>;
  logits: number[][];
}

function loadTiny(file: string, maxBatchRows?: number): { model: Model; fx: TinyFixture } {
  const fx = JSON.parse(readFileSync(path.join(here, "fixtures", file), "utf8")) as TinyFixture;
  const weights = allocateWeights(fx.config, jsBackend);
  for (const [name, { shape, data }] of Object.entries(fx.weights)) {
    if (weights.has(name)) weights.get(name).data.set(data);
    else weights.set(name, shape, Float32Array.from(data)); // llama's optional biases
  }
  return { model: new Model(fx.config, weights, { maxBatchRows }), fx };
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

// PyTorch float64 references (tools/fixtures/make_tiny_models.py): one model per architecture
// feature the llama2.c checkpoint does not exercise.
describe.each([
  ["tiny-gpt2.json", "gpt2: LayerNorm + bias, learned positions, GELU MLP, biases, tied head"],
  ["tiny-llama-half.json", "llama: half-split RoPE (theta 500), GQA 4/2, untied head"],
  ["tiny-llama-bias.json", "llama with the optional biases: q, k, v, o, gate, up, down"],
])("%s (%s)", (file) => {
  it("decode path matches PyTorch at every position", () => {
    const { model, fx } = loadTiny(file);
    const cache = model.newCache();
    fx.tokens.forEach((t, p) => {
      expect(maxAbsDiff(model.decode(t, cache), fx.logits[p]), `position ${p}`).toBeLessThan(1e-5);
    });
  });

  it("prefill (chunks of 4) matches PyTorch at every position", () => {
    const { model, fx } = loadTiny(file, 4);
    const V = fx.config.vocabSize;
    const all = new Float32Array(fx.tokens.length * V);
    model.prefill(fx.tokens, model.newCache(), { allLogits: all });
    fx.logits.forEach((row, p) => {
      expect(maxAbsDiff(all.subarray(p * V, (p + 1) * V), row), `position ${p}`).toBeLessThan(1e-5);
    });
  });

  it("batched decode equals separate decodes", () => {
    const { model, fx } = loadTiny(file);
    const V = fx.config.vocabSize;
    const a = model.newCache(), b = model.newCache();
    model.prefill(fx.tokens.slice(0, 5), a);
    model.prefill(fx.tokens.slice(0, 2), b);
    const batched = Float32Array.from(model.decodeBatch([fx.tokens[5], fx.tokens[2]], [a, b]));
    expect(maxAbsDiff(batched.subarray(0, V), fx.logits[5])).toBeLessThan(1e-5);
    expect(maxAbsDiff(batched.subarray(V, 2 * V), fx.logits[2])).toBeLessThan(1e-5);
  });
});

describe("gpt2 position limit", () => {
  it("refuses a cache longer than the learned positions", () => {
    const { model, fx } = loadTiny("tiny-gpt2.json");
    expect(() => model.newCache({ capacity: fx.config.seqLen + 1 })).toThrowError(TransformerError);
    expect(() => model.newCache({ capacity: fx.config.seqLen + 1 })).toThrow(/expected ≤ 16/);
  });
});
