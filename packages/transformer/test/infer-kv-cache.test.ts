import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { jsBackend } from "@zero-llm/tensor";
import { describe, expect, it } from "vitest";
import {
  KVCache, Model, TransformerError, allocateWeights, generate, randomWeights, type Config, type KVDType, type KVStore,
} from "../src/index";
import { loadModel } from "../src/node/index";

const here = path.dirname(fileURLToPath(import.meta.url));
const fx = JSON.parse(readFileSync(path.join(here, "fixtures/tiny-llama-half.json"), "utf8")) as {
  config: Config; tokens: number[]; weights: Record<string, { data: number[] }>; logits: number[][];
};
const stories260K = path.resolve(here, "../../../../shared/fixtures/llama2c/stories260K.bin");
const haveStories = existsSync(stories260K);
const reference = JSON.parse(readFileSync(path.join(here, "fixtures/stories260k.json"), "utf8")) as {
  tokens: number[]; logits: number[][]; attention: number[][];
};

/**
 * A bfloat16 store (top 16 bits of each float, round to nearest even), written here only to prove
 * that the element type is pluggable: rows are packed on write, and unpacked on readRows into the
 * caller's buffer, so the store holds its packed rows and nothing else.
 */
const bf16KV: KVDType = {
  name: "bf16",
  create(capacity, rowLen) {
    const packed = new Uint16Array(capacity * rowLen);
    const one = new Float32Array(1);
    const bits = new Uint32Array(one.buffer);
    return {
      dtype: "bf16", capacity, rowLen, f32Rows: null,
      write(row, src, srcOffset, nRows) {
        for (let i = 0; i < nRows * rowLen; i++) {
          one[0] = src[srcOffset + i];
          const u = bits[0];
          packed[row * rowLen + i] = (u + 0x7fff + ((u >>> 16) & 1)) >>> 16;
        }
      },
      readRows(start, nRows, dst, dstOffset) {
        const out = new Uint32Array(dst.buffer, dst.byteOffset, dst.length);
        for (let i = 0; i < nRows * rowLen; i++) out[dstOffset + i] = packed[start * rowLen + i] << 16;
      },
      bytes: () => packed.byteLength,
    };
  },
};

/**
 * f32 rows that are NOT exposed (f32Rows null), so attention must take the chunked path; values
 * are exact, so it must agree with the in-place kernel to rounding. Records the longest read.
 */
function opaqueF32(): { type: KVDType; longestRead: () => number } {
  let longest = 0;
  const type: KVDType = {
    name: "opaque-f32",
    create(capacity, rowLen) {
      const data = new Float32Array(capacity * rowLen);
      const store: KVStore = {
        dtype: "opaque-f32", capacity, rowLen, f32Rows: null,
        write(row, src, srcOffset, nRows) {
          data.set(src.subarray(srcOffset, srcOffset + nRows * rowLen), row * rowLen);
        },
        readRows(start, nRows, dst, dstOffset) {
          longest = Math.max(longest, nRows);
          dst.set(data.subarray(start * rowLen, (start + nRows) * rowLen), dstOffset);
        },
        bytes: () => data.byteLength,
      };
      return store;
    },
  };
  return { type, longestRead: () => longest };
}

function tinyModel(): Model {
  const weights = allocateWeights(fx.config, jsBackend);
  for (const [name, { data }] of Object.entries(fx.weights)) weights.get(name).data.set(data);
  return new Model(fx.config, weights);
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

// a random llama long enough (200 positions) to cross several 64-position chunks, GQA 4/2
const LONG: Config = {
  arch: "llama", dim: 32, hiddenDim: 48, nLayers: 2, nHeads: 4, nKvHeads: 2, vocabSize: 50, seqLen: 200,
  normEps: 1e-5, ropeTheta: 10000, ropeStyle: "interleaved", tiedEmbeddings: false,
};
const longTokens = Array.from({ length: 150 }, (_, i) => (i * 17 + 3) % LONG.vocabSize);

describe("KVCache", () => {
  it("reports capacity, length and bytes honestly", () => {
    const cache = new KVCache(fx.config, jsBackend, { capacity: 10 });
    // 2 layers × (K + V) × 10 positions × kvDim 8 × 4 bytes
    expect(cache.bytes()).toBe(2 * 2 * 10 * 8 * 4);
    expect(cache.length).toBe(0);
    expect(() => cache.truncate(1)).toThrowError(TransformerError);
    expect(() => new KVCache(fx.config, jsBackend, { capacity: 0 })).toThrow(/positive integer, found 0/);
  });

  it("takes a pluggable element type: a bf16 store holds half the bytes (nothing else) and stays close to f32", () => {
    const model = tinyModel();
    const f32 = model.newCache();
    const bf16 = model.newCache({ kType: bf16KV, vType: bf16KV });
    expect(bf16.bytes()).toBe(f32.bytes() / 2);
    const before = model.runStateBytes();
    let worst = 0;
    fx.tokens.forEach((t, p) => {
      const exact = Float32Array.from(model.decode(t, f32));
      const rounded = model.decode(t, bf16);
      for (let i = 0; i < exact.length; i++) worst = Math.max(worst, Math.abs(exact[i] - rounded[i]));
      expect(Math.abs(exact[0] - fx.logits[p][0])).toBeLessThan(1e-5);
    });
    // bf16 keeps 8 mantissa bits: small but nonzero error
    expect(worst).toBeGreaterThan(0);
    expect(worst).toBeLessThan(0.05);
    // the unpacking buffers are the model's, allocated once on the first packed read:
    // K and V chunks [64, kvDim 8] f32, scores [64] f64, running max and sum [maxBatchRows 64 · nHeads 4] f64
    expect(model.runStateBytes() - before).toBe(2 * 64 * 8 * 4 + 64 * 8 + 2 * 64 * 4 * 8);
  });

  it("a store read only through readRows (chunked online softmax) matches the in-place kernel across chunk boundaries", () => {
    const model = new Model(LONG, randomWeights(LONG, { seed: 5 }), { maxBatchRows: 50 });
    const { type, longestRead } = opaqueF32();
    const plain = model.newCache(), chunked = model.newCache({ kType: type, vType: type });
    let worst = 0;
    for (const t of longTokens) worst = Math.max(worst, maxAbsDiff(Float32Array.from(model.decode(t, plain)), model.decode(t, chunked)));
    expect(worst).toBeLessThan(1e-5);
    expect(longestRead()).toBe(64); // never the whole length: one chunk at a time

    // prefill: query chunks of 50 rows against key chunks of 64, with the attention maps
    const V = LONG.vocabSize, n = longTokens.length;
    const allA = new Float32Array(n * V), allB = new Float32Array(n * V);
    const a = model.prefill(longTokens, model.newCache(), { allLogits: allA, captureAttention: true });
    const mapsA = a.attention?.layers.map((m) => Float32Array.from(m)) ?? [];
    const b = model.prefill(longTokens, model.newCache({ kType: type, vType: type }), { allLogits: allB, captureAttention: true });
    expect(maxAbsDiff(allA, allB)).toBeLessThan(1e-5);
    b.attention?.layers.forEach((map, l) => expect(maxAbsDiff(map, mapsA[l]), `layer ${l}`).toBeLessThan(1e-6));

    // batched decode, one packed cache and one plain cache in the same batch
    const c1 = model.newCache({ kType: type, vType: type }), c2 = model.newCache();
    model.prefill(longTokens.slice(0, 70), c1);
    model.prefill(longTokens.slice(0, 70), c2);
    const rows = model.decodeBatch([7, 7], [c1, c2]);
    expect(maxAbsDiff(rows.subarray(0, V), rows.subarray(V, 2 * V))).toBeLessThan(1e-5);
  });

  it.skipIf(!haveStories)("the chunked path matches the float64 numpy reference on stories260K (logits and attention maps)", async () => {
    const model = await loadModel(stories260K, { maxBatchRows: 5 });
    const { type } = opaqueF32();
    const cache = model.newCache({ kType: type, vType: type });
    reference.tokens.forEach((t, p) => expect(maxAbsDiff(model.decode(t, cache), reference.logits[p]), `position ${p}`).toBeLessThan(1e-4));
    const { attention } = model.prefill(reference.tokens, model.newCache({ kType: type, vType: type }), { captureAttention: true });
    attention?.layers.forEach((map, l) => expect(maxAbsDiff(map, reference.attention[l]), `layer ${l}`).toBeLessThan(1e-5));
  });

  it("keys(layer, head) / values(layer, head) give the head-major view [length, headDim] of the position-major cache", () => {
    const model = new Model(LONG, randomWeights(LONG, { seed: 2 }));
    const cache = model.newCache();
    model.prefill(longTokens.slice(0, 9), cache);
    const headDim = LONG.dim / LONG.nHeads, rowLen = LONG.nKvHeads * headDim;
    const raw = cache.layers[1].k.f32Rows ?? new Float32Array(0);
    const k = cache.keys(1, 1);
    expect(k.length).toBe(9 * headDim);
    for (let p = 0; p < 9; p++) {
      for (let d = 0; d < headDim; d++) expect(k[p * headDim + d]).toBe(raw[p * rowLen + headDim + d]);
    }
    // a packed cache presents the same view, unpacked: bf16 rounding of the f32 values
    const packed = model.newCache({ kType: bf16KV, vType: bf16KV });
    model.prefill(longTokens.slice(0, 9), packed);
    const v = cache.values(0, 0), vb = packed.values(0, 0);
    expect(vb.length).toBe(v.length);
    expect(maxAbsDiff(v, vb)).toBeLessThan(Math.max(...v.map(Math.abs)) / 128);
    expect(() => cache.keys(2, 0)).toThrow(/layer in \[0, 2\), found 2/);
    expect(() => cache.values(0, 2)).toThrow(/kv head in \[0, 2\), found 2/);
  });

  it("a cache too large to allocate is a typed BAD_CACHE error, not a RangeError", () => {
    const big: Config = { ...LONG, dim: 4096, nHeads: 32, nKvHeads: 32, seqLen: 1 << 24 };
    let caught: unknown;
    try {
      new KVCache(big, jsBackend);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(TransformerError);
    expect((caught as TransformerError).code).toBe("BAD_CACHE");
    expect((caught as TransformerError).message).toMatch(/16777216 positions × 4096 numbers.*pass a smaller \{ capacity \}/);
  });

  it("generate stops with contextFull when the cache fills, after yielding the last token", () => {
    const model = tinyModel();
    const cache = model.newCache({ capacity: 5 });
    const run = generate(model, [1, 2, 3], { cache, maxTokens: 10 });
    const ids = [...run];
    // prompt at positions 0-2, new tokens 1 and 2 fed back at 3-4; token 3 is yielded but has no room
    expect(ids.length).toBe(3);
    expect(cache.length).toBe(5);
    expect(run.stats.stopReason).toBe("contextFull");
    expect(() => [...run]).toThrow(/only once/);
  });
});
