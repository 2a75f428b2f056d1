// One block body, batch-invariant projections: a token's logits (and the keys and values it
// leaves in the cache) are the same bits whether it is decoded alone, prefilled with the whole
// prompt (in one chunk or several) or decoded in a batch beside other sequences; for GPT-2 (every
// bias), Llama without biases and Llama with some (Qwen2-style q/k/v biases), on the js backend and
// on wasm with 1 and 2 threads (and the same bits on 1 and 2 threads).
import { createWasmBackend, jsBackend, type Backend, type WasmBackend } from "@zero-llm/tensor";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Model, quantizeWeights, type Config, type KVTypeName } from "../src/index";
import { bits, cacheBits } from "./bits";
import { seededWeights } from "./seeded-weights";

const GPT2: Config = {
  arch: "gpt2", dim: 48, hiddenDim: 102, nLayers: 2, nHeads: 4, nKvHeads: 4, vocabSize: 301, seqLen: 40,
  normEps: 1e-5, ropeTheta: 10000, ropeStyle: "interleaved", tiedEmbeddings: true,
};
const LLAMA: Config = {
  arch: "llama", dim: 48, hiddenDim: 70, nLayers: 2, nHeads: 6, nKvHeads: 2, vocabSize: 301, seqLen: 40,
  normEps: 1e-5, ropeTheta: 500, ropeStyle: "half", tiedEmbeddings: false,
};
// big enough that the wasm backend splits its projections across 2 threads
const LLAMA_WIDE: Config = {
  arch: "llama", dim: 128, hiddenDim: 344, nLayers: 2, nHeads: 4, nKvHeads: 4, vocabSize: 1024, seqLen: 40,
  normEps: 1e-5, ropeTheta: 10000, ropeStyle: "interleaved", tiedEmbeddings: true,
};

const PROMPT = [5, 17, 250, 3, 99, 42, 7, 7, 120, 33, 1, 64, 200];

interface Run {
  logits: number[][];
  keys: number[];
  values: number[];
}

function decodeRun(model: Model): Run {
  const cache = model.newCache();
  const logits = PROMPT.map((t) => bits(model.decode(t, cache)));
  return { logits, ...cacheBits(cache) };
}

function prefillRun(model: Model): Run {
  const cache = model.newCache();
  const all = new Float32Array(PROMPT.length * model.config.vocabSize);
  model.prefill(PROMPT, cache, { allLogits: all });
  const v = model.config.vocabSize;
  return { logits: PROMPT.map((_, p) => bits(all.subarray(p * v, (p + 1) * v))), ...cacheBits(cache) };
}

/** Decode, prefill (whole and in chunks of 5) and batched decode give the same logits and cache contents, bit for bit. */
function checkParity(model: Model, cacheTypes: { kType?: KVTypeName; vType?: KVTypeName } = {}): void {
  const { config, backend } = model;
    const decoded = decodeRun(model);
    const prefilled = prefillRun(model);
    expect(prefilled.logits).toEqual(decoded.logits);
    expect(prefilled.keys).toEqual(decoded.keys);
    expect(prefilled.values).toEqual(decoded.values);

    // prefill in chunks of 5 rows: different matrix heights, same rows
    const chunked = new Model(config, model.weights, { backend, maxBatchRows: 5, cacheTypes });
    expect(prefillRun(chunked).logits).toEqual(decoded.logits);
    // without allLogits only the last position's logits are computed (one row)
    const cache = model.newCache();
    expect(bits(model.prefill(PROMPT, cache).logits)).toEqual(decoded.logits[PROMPT.length - 1]);

    // batched decode: our sequence's next token beside two other sequences of other lengths
    for (const p of [4, PROMPT.length - 1]) {
      const ours = model.newCache(), other = model.newCache(), third = model.newCache();
      model.prefill(PROMPT.slice(0, p), ours);
      model.prefill([9, 8, 7], other);
      model.prefill([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], third);
      const rows = model.decodeBatch([11, PROMPT[p], 12], [other, ours, third]);
      const v = config.vocabSize;
      expect(bits(rows.subarray(v, 2 * v)), `batched row at position ${p}`).toEqual(decoded.logits[p]);
    }

    // a ragged batch (a speculative verify of several sequences): 3 tokens of ours in consecutive
    // rows between one token of another sequence and 2 of a third; then a one-row step after it
    {
      const ours = model.newCache(), other = model.newCache(), third = model.newCache();
      model.prefill(PROMPT.slice(0, 4), ours);
      model.prefill([9, 8, 7], other);
      model.prefill([1, 2, 3, 4, 5, 6], third);
      const rows = model.decodeBatch([11, PROMPT[4], PROMPT[5], PROMPT[6], 12, 13], [other, ours, ours, ours, third, third]);
      const v = config.vocabSize;
      for (let i = 0; i < 3; i++) expect(bits(rows.subarray((1 + i) * v, (2 + i) * v)), `ragged row ${i}`).toEqual(decoded.logits[4 + i]);
      expect([ours.length, other.length, third.length]).toEqual([7, 4, 8]);
      const thirdAlone = model.newCache();
      model.prefill([1, 2, 3, 4, 5, 6, 12], thirdAlone);
      expect(bits(rows.subarray(5 * v, 6 * v)), "the third sequence's second row").toEqual(bits(model.decode(13, thirdAlone)));
      expect(bits(model.decode(PROMPT[7], ours)), "after the ragged pass").toEqual(decoded.logits[7]);
      expect(() => model.decodeBatch([1, 2, 3], [ours, other, ours])).toThrow(/consecutive/);
    }

    // prompt chunks inside a decode batch (a server's mixed step): another sequence's decode row,
    // the first 5 tokens of our prompt into an empty cache, 3 tokens of a third; logits of the
    // rows a server samples only (logitRows), each the bits of decoding alone; then the rest of
    // our prompt as one more batched chunk, and the cache holds what decoding it token by token wrote
    {
      const v = config.vocabSize;
      const ours = model.newCache(), other = model.newCache(), third = model.newCache();
      model.prefill([9, 8, 7], other);
      model.prefill([1, 2, 3, 4, 5, 6], third);
      const tokens = [11, ...PROMPT.slice(0, 5), 21, 22, 23];
      const caches = [other, ours, ours, ours, ours, ours, third, third, third];
      const handed: number[] = [];
      const rows = model.decodeBatch(tokens, caches, (_l, r0, r1) => handed.push(r0, r1), [0, 5, 8]);
      expect(rows.length).toBe(3 * v);
      expect(handed[0]).toBe(0);
      expect(handed.at(-1)).toBe(3);
      const [decodeRow, chunkRow, thirdRow] = [0, 1, 2].map((j) => bits(rows.subarray(j * v, (j + 1) * v))); // a run-state view: copied before the next pass
      expect(chunkRow, "the chunk's last row").toEqual(decoded.logits[4]);
      const otherAlone = model.newCache(), thirdAlone = model.newCache();
      model.prefill([9, 8, 7], otherAlone);
      model.prefill([1, 2, 3, 4, 5, 6, 21, 22], thirdAlone);
      expect(decodeRow, "the decode row").toEqual(bits(model.decode(11, otherAlone)));
      expect(thirdRow, "the third's last row").toEqual(bits(model.decode(23, thirdAlone)));
      const rest = PROMPT.slice(5);
      const last = model.decodeBatch(rest, rest.map(() => ours), undefined, [rest.length - 1]);
      expect(bits(last), "the second chunk's last row").toEqual(decoded.logits[PROMPT.length - 1]);
      expect(cacheBits(ours)).toEqual({ keys: decoded.keys, values: decoded.values });
      expect(model.decodeBatch([4], [model.newCache()], undefined, []).length).toBe(0);
      for (const bad of [[1, 1], [2, 1], [-1], [3], [0.5]]) {
        expect(() => model.decodeBatch([4, 5, 6], [other, third, ours], undefined, bad)).toThrow(/logitRows/);
      }
    }
}

const families: Array<[string, Config, (name: string) => boolean]> = [
  ["gpt2, every bias", GPT2, () => false],
  ["llama, no bias", LLAMA, () => false],
  ["llama, q/k/v biases (Qwen2-style)", LLAMA, (name) => /\.[qkv]_proj\.bias$/.test(name)],
  ["llama, every optional bias", LLAMA, () => true],
  ["llama wide (threaded kernels)", LLAMA_WIDE, () => false],
];

describe.each([
  ["js", 0],
  ["wasm, 1 thread", 1],
  ["wasm, 2 threads", 2],
] as const)("decode = prefill = batched decode, bit for bit (%s)", (_label, threads) => {
  let backend: Backend;
  let wasm: WasmBackend | undefined;
  beforeAll(async () => {
    wasm = threads > 0 ? await createWasmBackend({ threads }) : undefined;
    backend = wasm ?? jsBackend;
  });
  afterAll(async () => { await wasm?.dispose(); });

  for (const [name, config, biases] of families) {
    it(name, () => {
      checkParity(new Model(config, seededWeights(config, backend, 7, biases), { backend }));
    });
  }
});

describe("the wasm backend gives the same bits on 1 and 2 threads, close to the js reference", () => {
  for (const [name, config, biases] of families) {
    it(name, async () => {
      const one = await createWasmBackend({ threads: 1 }), two = await createWasmBackend({ threads: 2 });
      try {
        const a = decodeRun(new Model(config, seededWeights(config, one, 3, biases), { backend: one }));
        const b = prefillRun(new Model(config, seededWeights(config, two, 3, biases), { backend: two }));
        expect(b.logits).toEqual(a.logits);
        const ref = new Model(config, seededWeights(config, jsBackend, 3, biases));
        const cache = ref.newCache();
        for (const [p, t] of PROMPT.entries()) {
          const expected = ref.decode(t, cache);
          const found = new Float32Array(new Uint32Array(a.logits[p]).buffer);
          for (let i = 0; i < expected.length; i++) expect(Math.abs(found[i] - expected[i])).toBeLessThan(2e-4);
        }
      } finally {
        await one.dispose();
        await two.dispose();
      }
    });
  }
});

// The same with the weights quantized in memory (Q8_0, Q4_K: matmulQuant, f16 where rows are not
// whole blocks) and quantized KV caches (attentionPacked): every pair of K and V types, head sizes
// that are whole 32-blocks (llama wide: 32), that share blocks (llama: 2 KV heads × 8 in one
// padded block; gpt2: 4 × 12 = 48, a block and a half).
const cachePairs: Array<[KVTypeName, KVTypeName]> = [["q8_0", "q8_0"], ["q4_0", "q4_1"], ["f16", "q8_0"], ["q8_0", "f32"], ["f32", "q4_0"]];
describe.each([
  ["js", 0],
  ["wasm, 1 thread", 1],
  ["wasm, 2 threads", 2],
] as const)("quantized weights and KV caches: decode = prefill = batched decode, bit for bit (%s)", (_label, threads) => {
  let backend: Backend;
  let wasm: WasmBackend | undefined;
  beforeAll(async () => {
    wasm = threads > 0 ? await createWasmBackend({ threads }) : undefined;
    backend = wasm ?? jsBackend;
  });
  afterAll(async () => { await wasm?.dispose(); });

  for (const [name, config] of [["gpt2", GPT2], ["llama", LLAMA], ["llama wide", LLAMA_WIDE]] as const) {
    for (const [kType, vType] of cachePairs) {
      it(`${name}, q8_0 / q4_k weights, K ${kType} V ${vType}`, () => {
        const weightType = kType === "q4_0" || kType === "f32" ? "q4_k" : "q8_0";
        const weights = quantizeWeights(seededWeights(config, backend, 11, () => false), weightType, backend);
        checkParity(new Model(config, weights, { backend, cacheTypes: { kType, vType } }), { kType, vType });
      });
    }
  }
});
