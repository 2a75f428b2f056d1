// Attention over a packed KV cache (attentionPacked): the wasm kernel against the js reference
// on random packed rows of every element type, K and V types mixed, head sizes that fill whole
// blocks and ones that share or split blocks, GQA, seqQ < seqKv, probabilities, threads; and the
// js reference with f32 rows against js attention, bit for bit.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createWasmBackend, jsBackend } from "../src/backend/index";
import type { WasmBackend } from "../src/backend/index";
import { f32ToF16 } from "../src/dtype/half";
import { KV_TYPES, kvRowBytes, kvRowValues, type KvType } from "../src/quant/kv";
import { TensorError } from "../src/errors";
import { expectClose, rng, uniform } from "./backend-helpers";

/** seqKv random rows of rowLen values packed as `type`: finite scales, every code value. */
function packedRows(type: KvType, seqKv: number, rowLen: number, next: () => number): Uint8Array {
  const rowBytes = kvRowBytes(type, rowLen);
  const bytes = new Uint8Array(seqKv * rowBytes);
  const half = (at: number, value: number): void => {
    const h = f32ToF16(value);
    bytes[at] = h & 0xff;
    bytes[at + 1] = h >> 8;
  };
  for (let t = 0; t < seqKv; t++) {
    const row = t * rowBytes;
    for (let i = 0; i < rowBytes; i++) bytes[row + i] = Math.floor(next() * 256);
    if (type === "f32") for (let e = 0; e < rowLen; e++) new DataView(bytes.buffer).setFloat32(row + 4 * e, 2 * next() - 1, true);
    else if (type === "f16") for (let e = 0; e < rowLen; e++) half(row + 2 * e, 2 * next() - 1);
    else {
      const { blockBytes } = KV_TYPES[type];
      for (let b = 0; b < rowBytes; b += blockBytes) {
        half(row + b, (next() < 0.5 ? -1 : 1) * (0.005 + 0.02 * next()));
        if (type === "q4_1") half(row + b + 2, -0.2 * next());
      }
    }
  }
  return bytes;
}

const shapes: Array<[number, number, number, number, number]> = [
  // [seqQ, seqKv, nHeads, nKvHeads, headDim]
  [1, 1, 1, 1, 32], [1, 37, 4, 2, 64], [3, 50, 6, 3, 32], [5, 5, 8, 4, 8], [2, 70, 2, 1, 48], [1, 9, 2, 2, 7],
  [1, 300, 12, 12, 64], [4, 129, 12, 4, 64],
  // half-block heads (a multiple of 16): stories15M's 6 × 48, GQA with KV heads starting mid-block, 16, 80 (five halves)
  [1, 260, 6, 6, 48], [3, 41, 6, 3, 48], [2, 33, 4, 4, 16], [1, 23, 2, 1, 80],
];
const typePairs: Array<[KvType, KvType]> = [
  ["f32", "f32"], ["f16", "f16"], ["q8_0", "q8_0"], ["q4_0", "q4_0"], ["q4_1", "q4_1"], ["f32", "q8_0"], ["q8_0", "f16"], ["q4_1", "q4_0"],
];
const configs = [
  { label: "1 thread", threads: 1, sharedMemory: true },
  { label: "2 threads", threads: 2, sharedMemory: true },
  { label: "1 thread, plain memory", threads: 1, sharedMemory: false },
];

describe.each(configs)("wasm attentionPacked ($label)", ({ threads, sharedMemory }) => {
  let wasm: WasmBackend;
  beforeAll(async () => { wasm = await createWasmBackend({ threads, sharedMemory, parallelMinMacs: 0 }); });
  afterAll(async () => { await wasm.dispose(); });

  for (const [kType, vType] of typePairs) {
    for (const [seqQ, seqKv, nHeads, nKvHeads, headDim] of shapes) {
      it(`K ${kType}, V ${vType}: q [${seqQ},${nHeads},${headDim}], ${seqKv} positions × ${nKvHeads} KV heads`, () => {
        const next = rng(seqQ * 31 + seqKv * 7 + nHeads + headDim + kType.length * 3 + vType.length);
        const rowLen = nKvHeads * headDim;
        const q = uniform(next, seqQ * nHeads * headDim);
        const k = packedRows(kType, seqKv, rowLen, next), v = packedRows(vType, seqKv, rowLen, next);
        const expected = new Float32Array(seqQ * nHeads * headDim), expectedProbs = new Float32Array(nHeads * seqQ * seqKv);
        jsBackend.attentionPacked(expected, q, k, v, kType, vType, seqQ, seqKv, nHeads, nKvHeads, headDim, { probs: expectedProbs });
        const kIn = wasm.allocBytes(k.length), vIn = wasm.allocBytes(v.length);
        kIn.set(k);
        vIn.set(v);
        const out = wasm.allocF32(expected.length), probs = wasm.allocF32(expectedProbs.length);
        wasm.attentionPacked(out, q, kIn, vIn, kType, vType, seqQ, seqKv, nHeads, nKvHeads, headDim, { probs });
        expectClose(probs, expectedProbs, 1e-7, 2e-5);
        expectClose(out, expected, 1e-6, 2e-5);
        // foreign arrays, no probabilities: the same output
        const foreign = new Float32Array(expected.length);
        wasm.attentionPacked(foreign, q, k, v, kType, vType, seqQ, seqKv, nHeads, nKvHeads, headDim);
        expectClose(foreign, out, 0, 0);
        wasm.free(kIn);
        wasm.free(vIn);
      });
    }
  }
});

describe("attentionPacked reference", () => {
  it("f32 rows give js attention's bits", () => {
    for (const [seqQ, seqKv, nHeads, nKvHeads, headDim] of shapes) {
      const next = rng(seqKv + headDim);
      const rowLen = nKvHeads * headDim;
      const q = uniform(next, seqQ * nHeads * headDim), kf = uniform(next, seqKv * rowLen), vf = uniform(next, seqKv * rowLen);
      const a = new Float32Array(q.length), b = new Float32Array(q.length);
      jsBackend.attention(a, q, kf, vf, seqQ, seqKv, nHeads, nKvHeads, headDim);
      jsBackend.attentionPacked(b, q, new Uint8Array(kf.buffer), new Uint8Array(vf.buffer), "f32", "f32", seqQ, seqKv, nHeads, nKvHeads, headDim);
      expect(b).toEqual(a);
    }
  });

  it("a block-typed key cache costs only the query's quantization: per 16 values (heads of 48) as little as per 32 (heads of 32, 64)", () => {
    // the same keys and values decoded to f32 give the exact scores; the packed path differs only
    // by the query codes (both backends take them the same way)
    const errors: Record<string, number> = {};
    for (const [nHeads, headDim] of [[6, 48], [4, 32], [12, 64]]) {
      for (const type of ["q8_0", "q4_0", "q4_1"] as KvType[]) {
        const next = rng(headDim + type.length);
        const seqKv = 200, rowLen = nHeads * headDim, rowBytes = kvRowBytes(type, rowLen);
        const q = uniform(next, rowLen).map((x) => 4 * x);
        const k = packedRows(type, seqKv, rowLen, next), v = packedRows(type, seqKv, rowLen, next);
        const kf = new Float32Array(seqKv * rowLen), vf = new Float32Array(seqKv * rowLen);
        for (let t = 0; t < seqKv; t++) {
          kvRowValues(type, k, t * rowBytes, 0, rowLen, kf, t * rowLen);
          kvRowValues(type, v, t * rowBytes, 0, rowLen, vf, t * rowLen);
        }
        const exact = new Float32Array(rowLen), got = new Float32Array(rowLen);
        jsBackend.attention(exact, q, kf, vf, 1, seqKv, nHeads, nHeads, headDim);
        jsBackend.attentionPacked(got, q, k, v, type, type, 1, seqKv, nHeads, nHeads, headDim);
        let err = 0, norm = 0;
        for (let i = 0; i < rowLen; i++) { err += (got[i] - exact[i]) ** 2; norm += exact[i] ** 2; }
        errors[`${type} ${headDim}`] = Math.sqrt(err / norm);
      }
    }
    for (const type of ["q8_0", "q4_0", "q4_1"]) {
      expect(errors[`${type} 48`]).toBeGreaterThan(0); // quantized: not the float path
      expect(errors[`${type} 48`]).toBeLessThan(1e-2);
      // the same order as llama.cpp's per-32 query codes (values vary with the data: 1e-4 … 8e-3 here)
      expect(errors[`${type} 48`]).toBeLessThan(3 * Math.max(errors[`${type} 32`], errors[`${type} 64`]));
    }
  });

  it("decodes rows as ggml's dequantize does", () => {
    // q8_0: d = 0.5, codes −3, 7; q4_0: d = 0.25, nibbles 0 and 15 (−8, 7); q4_1: d = 0.5, m = −1
    const q8 = new Uint8Array(34), q40 = new Uint8Array(18), q41 = new Uint8Array(20);
    const h = (v: number): [number, number] => [f32ToF16(v) & 0xff, f32ToF16(v) >> 8];
    q8.set(h(0.5)); q8[2] = 0xfd; q8[3] = 7;
    q40.set(h(0.25)); q40[2] = 0xf0;
    q41.set([...h(0.5), ...h(-1)]); q41[4] = 0x3a;
    const out = new Float32Array(2);
    kvRowValues("q8_0", q8, 0, 0, 2, out, 0);
    expect([...out]).toEqual([-1.5, 3.5]);
    kvRowValues("q4_0", q40, 0, 0, 1, out, 0);
    kvRowValues("q4_0", q40, 0, 16, 1, out, 1);
    expect([...out]).toEqual([-2, 1.75]);
    kvRowValues("q4_1", q41, 0, 0, 1, out, 0);
    kvRowValues("q4_1", q41, 0, 16, 1, out, 1);
    expect([...out]).toEqual([4, 0.5]);
    expect(kvRowBytes("q8_0", 48)).toBe(68);
    expect(kvRowBytes("f16", 48)).toBe(96);
  });

  it("typed errors for unknown types, short rows and bad shapes", async () => {
    const wasm = await createWasmBackend({ threads: 1 });
    try {
      for (const backend of [jsBackend, wasm]) {
        const code = (f: () => void): string | undefined => {
          try { f(); } catch (error) { return error instanceof TensorError ? error.code : String(error); }
          return undefined;
        };
        const out = new Float32Array(64), q = new Float32Array(64), k = new Uint8Array(2 * 68), v = new Uint8Array(2 * 68);
        expect(code(() => backend.attentionPacked(out, q, k, v, "q5_0" as KvType, "q8_0", 1, 2, 1, 1, 64))).toBe("INVALID_ARGUMENT");
        expect(code(() => backend.attentionPacked(out, q, k, v, "q8_0", "q8_0", 1, 3, 1, 1, 64))).toBe("SHAPE_MISMATCH");
        expect(code(() => backend.attentionPacked(out, q, k, v, "q8_0", "q8_0", 2, 1, 1, 1, 32))).toBe("INVALID_ARGUMENT");
        expect(code(() => backend.attentionPacked(out, q, k, v, "q8_0", "q8_0", 1, 2, 3, 2, 16))).toBe("INVALID_ARGUMENT");
      }
    } finally {
      await wasm.dispose();
    }
  });
});
