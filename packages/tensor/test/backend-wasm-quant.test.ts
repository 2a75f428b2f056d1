// Parity of the quantized matrix products (matmulQuant) between the js reference and the wasm
// kernels, plain and relaxed SIMD, 1 and 2 threads, on random blocks of every type: the same
// bits for the block types (the float sums are taken in the same order), and within the f32
// rounding bound for f16. Also: row r's result does not depend on how many rows run with it.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createWasmBackend, jsBackend } from "../src/backend/index";
import type { WasmBackend } from "../src/backend/index";
import { f32ToF16, f16ToF32 } from "../src/dtype/half";
import { QUANT_TYPES, quantRowBytes, type QuantType } from "../src/quant/types";
import { canTileQ4_0, packQ4_0Tiles, q4_0TileCodesAt, q4_0TileScaleAt, tryPackQ4_0Tiles, unpackQ4_0Tiles } from "../src/quant/tiles";
import { TensorError } from "../src/errors";
import { relaxedSimdSupported } from "../src/backend/wasm-module";
import { expectClose, rng, uniform } from "./backend-helpers";

const TYPES: QuantType[] = ["q8_0", "q4_0", "q4_1", "q4_k", "f16"];

/** Random valid blocks of `type` for a [n, k] weight: scales of either sign, every code value. */
function randomWeights(type: QuantType, n: number, k: number, next: () => number): Uint8Array {
  const bytes = new Uint8Array(n * quantRowBytes(type, k));
  for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(next() * 256);
  const { blockSize, blockBytes } = QUANT_TYPES[type];
  const half = (at: number, lo: number, hi: number): void => {
    const v = (next() < 0.5 ? -1 : 1) * (lo + (hi - lo) * next());
    const h = f32ToF16(v);
    bytes[at] = h & 0xff;
    bytes[at + 1] = h >> 8;
  };
  for (let b = 0; b < bytes.length / blockBytes; b++) {
    const at = b * blockBytes;
    if (type === "f16") half(at, 0, 1);
    else if (type === "q4_k") { half(at, 1e-3, 2e-2); half(at + 2, 1e-3, 2e-2); }
    else {
      half(at, 1e-3, 5e-2);
      if (type === "q4_1") half(at + 2, 0, 0.5);
    }
  }
  expect(bytes.length).toBe((n * k / blockSize) * blockBytes);
  return bytes;
}

/** Σ|W||x| per output: the scale of the f16 products' float rounding error. */
function f16Bound(w: Uint8Array, x: Float32Array, rows: number, k: number, n: number): Float32Array {
  const bound = new Float32Array(rows * n);
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < n; o++) {
      let s = 0;
      for (let c = 0; c < k; c++) s += Math.abs(f16ToF32(w[2 * (o * k + c)] | (w[2 * (o * k + c) + 1] << 8)) * x[r * k + c]);
      bound[r * n + o] = 4e-6 * s;
    }
  }
  return bound;
}

function expectSameBits(actual: Float32Array, expected: Float32Array, what: string): void {
  const a = new Uint32Array(actual.buffer, actual.byteOffset, actual.length);
  const e = new Uint32Array(expected.buffer, expected.byteOffset, expected.length);
  const at = a.findIndex((bits, i) => bits !== e[i]);
  expect(at, `${what}: first differing element (${actual[at]} vs ${expected[at]})`).toBe(-1);
}

const shapes: Record<string, Array<[number, number, number]>> = {
  // [rows, k, n]: k = 1, 2, 3, 5, 9, 24 blocks (every tail of the 4-block groups); n above the thread split
  blocks32: [[1, 32, 1], [1, 64, 7], [2, 96, 13], [3, 160, 33], [1, 288, 300], [5, 768, 64], [33, 96, 40], [1, 2048, 130]],
  q4_k: [[1, 256, 1], [1, 512, 9], [3, 768, 33], [1, 1280, 300], [17, 256, 20], [2, 2048, 64]],
  f16: [[1, 1, 1], [1, 7, 5], [2, 16, 3], [3, 33, 17], [1, 288, 300], [9, 130, 31], [1, 1001, 67]],
};
const shapesOf = (type: QuantType): Array<[number, number, number]> =>
  type === "q4_k" ? shapes.q4_k : type === "f16" ? shapes.f16 : shapes.blocks32;

const configs = [
  { label: "1 thread", threads: 1, sharedMemory: true, relaxedSimd: false },
  { label: "2 threads", threads: 2, sharedMemory: true, relaxedSimd: false },
  { label: "1 thread, plain memory", threads: 1, sharedMemory: false, relaxedSimd: false },
  ...(relaxedSimdSupported()
    ? [
      { label: "relaxed SIMD, 1 thread", threads: 1, sharedMemory: true, relaxedSimd: true },
      { label: "relaxed SIMD, 2 threads", threads: 2, sharedMemory: true, relaxedSimd: true },
    ]
    : []),
];

describe.each(configs)("wasm matmulQuant ($label)", ({ threads, sharedMemory, relaxedSimd }) => {
  let wasm: WasmBackend;
  beforeAll(async () => { wasm = await createWasmBackend({ threads, sharedMemory, relaxedSimd, parallelMinMacs: 0 }); });
  afterAll(async () => { await wasm.dispose(); });

  it("reports its build", () => {
    expect(wasm.relaxedSimd).toBe(relaxedSimd);
  });

  for (const type of TYPES) {
    for (const [rows, k, n] of shapesOf(type)) {
      it(`${type}: [${rows},${k}] · [${n},${k}]ᵀ`, () => {
        const next = rng(rows * 7919 + k * 31 + n + type.length);
        const x = uniform(next, rows * k);
        const w = randomWeights(type, n, k, next);
        const expected = new Float32Array(rows * n);
        jsBackend.matmulQuant(expected, x, w, type, rows, k, n);
        // weights and input in wasm memory, as a model keeps them
        const wIn = wasm.allocBytes(w.length);
        wIn.set(w);
        const xIn = wasm.allocF32(x.length);
        xIn.set(x);
        const out = wasm.allocF32(rows * n);
        wasm.matmulQuant(out, xIn, wIn, type, rows, k, n);
        if (type === "f16") expectClose(out, expected, 1e-7, 0, f16Bound(w, x, rows, k, n));
        else expectSameBits(out, expected, "wasm vs js");
        // foreign arrays (copied in and out) give the same bits
        const foreign = new Float32Array(rows * n);
        wasm.matmulQuant(foreign, x, w, type, rows, k, n);
        expectSameBits(foreign, out, "foreign arrays");
        // batch invariance: each row alone gives the bits it gave among the others
        const single = new Float32Array(n);
        for (let r = 0; r < rows; r++) {
          wasm.matmulQuant(single, x.subarray(r * k, (r + 1) * k), w, type, 1, k, n);
          expectSameBits(single, out.subarray(r * n, (r + 1) * n), `row ${r} alone`);
        }
        wasm.free(wIn);
        wasm.free(xIn);
        wasm.free(out);
      });
    }
  }

  // q4_0 in tiles of four rows (src/quant/tiles.ts): the same bits as the rows they were made
  // from, on the reference; k of 1, 2, 3, 5, 9 and 24 blocks (every tail tile), n across the split
  for (const [rows, k, n] of [[1, 32, 4], [1, 64, 8], [2, 96, 12], [3, 160, 36], [1, 288, 300], [5, 768, 64], [33, 96, 40], [1, 288, 32000 / 50]] as const) {
    it(`q4_0 tiles: [${rows},${k}] · [${n},${k}]ᵀ`, () => {
      const next = rng(rows * 104729 + k * 31 + n);
      const x = uniform(next, rows * k);
      const w = randomWeights("q4_0", n, k, next);
      const expected = new Float32Array(rows * n);
      jsBackend.matmulQuant(expected, x, w, "q4_0", rows, k, n);
      const wIn = wasm.allocBytes(w.length);
      wIn.set(w);
      packQ4_0Tiles(wIn, n, k);
      const xIn = wasm.allocF32(x.length);
      xIn.set(x);
      const out = wasm.allocF32(rows * n);
      wasm.matmulQuant(out, xIn, wIn, "q4_0", rows, k, n, "q4_0x4");
      expectSameBits(out, expected, "wasm tiles vs js rows");
      const single = new Float32Array(n);
      for (let r = 0; r < rows; r++) {
        wasm.matmulQuant(single, x.subarray(r * k, (r + 1) * k), wIn, "q4_0", 1, k, n, "q4_0x4");
        expectSameBits(single, out.subarray(r * n, (r + 1) * n), `row ${r} alone`);
      }
      wasm.free(wIn);
      wasm.free(xIn);
      wasm.free(out);
    });
  }

  // ggml's own quantizer never writes −128, but a foreign q8_0 file may hold it; the relaxed
  // kernel's i8 × i7 product must stay exact there (the sign trick of ggml's x86 kernel wraps it)
  it("q8_0: weight codes of −128 and 127 against input codes of ±127, every lane at its extreme", () => {
    const k = 256, n = 9, rows = 5;
    const w = new Uint8Array(n * quantRowBytes("q8_0", k));
    const next = rng(128);
    for (let b = 0; b < w.length / 34; b++) {
      const scale = f32ToF16(b % 2 === 0 ? 0.03 : -0.02);
      w[34 * b] = scale & 0xff;
      w[34 * b + 1] = scale >> 8;
      const o = Math.floor(b / (k / 32));
      for (let j = 0; j < 32; j++) w[34 * b + 2 + j] = o === 0 ? 0x80 : o === 1 ? 0x7f : next() < 0.5 ? 0x80 : 0x7f;
    }
    // every value of a block ±(its block's max), so every code is ±127
    const x = new Float32Array(rows * k);
    for (let i = 0; i < x.length; i++) x[i] = (next() < 0.5 ? -1 : 1) * (1 + (i >> 5));
    const expected = new Float32Array(rows * n);
    jsBackend.matmulQuant(expected, x, w, "q8_0", rows, k, n);
    // row 0 of the weights (all −128) against an input row of −max: the largest exact sum
    expect(expected[0]).not.toBe(0);
    const out = new Float32Array(rows * n);
    wasm.matmulQuant(out, x, w, "q8_0", rows, k, n);
    expectSameBits(out, expected, "wasm vs js");
    const single = new Float32Array(n);
    wasm.matmulQuant(single, x.subarray(0, k), w, "q8_0", 1, k, n);
    expectSameBits(single, expected.subarray(0, n), "row 0 alone");
  });
});

describe("matmulQuant on every backend", () => {
  let wasm: WasmBackend;
  beforeAll(async () => { wasm = await createWasmBackend({ threads: 1 }); });
  afterAll(async () => { await wasm.dispose(); });

  it("js: the block types are batch-invariant too", () => {
    for (const type of TYPES) {
      const [rows, k, n] = type === "q4_k" ? [5, 512, 7] : [5, 96, 7];
      const next = rng(11);
      const x = uniform(next, rows * k), w = randomWeights(type, n, k, next);
      const all = new Float32Array(rows * n), one = new Float32Array(n);
      jsBackend.matmulQuant(all, x, w, type, rows, k, n);
      for (let r = 0; r < rows; r++) {
        jsBackend.matmulQuant(one, x.subarray(r * k, (r + 1) * k), w, type, 1, k, n);
        expectSameBits(one, all.subarray(r * n, (r + 1) * n), `${type} row ${r}`);
      }
    }
  });

  it("zero rows or outputs do nothing; zero inputs give zeros", () => {
    for (const backend of [jsBackend, wasm]) {
      const out = new Float32Array(4).fill(7);
      backend.matmulQuant(out, new Float32Array(0), new Uint8Array(4 * 34), "q8_0", 0, 32, 4);
      expect([...out]).toEqual([7, 7, 7, 7]);
      backend.matmulQuant(out, new Float32Array(0), new Uint8Array(0), "q4_0", 2, 0, 2);
      expect([...out]).toEqual([0, 0, 0, 0]);
    }
  });

  it("an input row of zeros, and one with a NaN, as the reference says", () => {
    const k = 64, n = 3, next = rng(5);
    const w = randomWeights("q4_0", n, k, next);
    const x = new Float32Array(2 * k);
    x[k + 5] = Number.NaN;
    for (const backend of [jsBackend, wasm]) {
      const out = new Float32Array(2 * n);
      backend.matmulQuant(out, x, w, "q4_0", 2, k, n);
      expect([...out.subarray(0, n)]).toEqual([0, 0, 0]);
      expect(out.subarray(n).every(Number.isNaN)).toBe(true);
    }
  });

  it("q4_0 tiles: the reference reads them as the rows they were made from; pack and unpack are inverse", () => {
    const next = rng(4404);
    for (const [rows, k, n] of [[3, 96, 8], [2, 288, 12], [1, 32, 4], [5, 256, 16]] as const) {
      const x = uniform(next, rows * k);
      const w = randomWeights("q4_0", n, k, next);
      const tiles = w.slice();
      expect(canTileQ4_0(tiles, n, k)).toBe(true);
      packQ4_0Tiles(tiles, n, k);
      expect(Buffer.from(tiles).equals(Buffer.from(w))).toBe(false);
      // every block's scale and codes where tiles.ts says
      const nb = k / 32;
      for (let o = 0; o < n; o++) {
        for (let b = 0; b < nb; b++) {
          const at = (o * nb + b) * 18, s = q4_0TileScaleAt(o, b, nb), c = q4_0TileCodesAt(o, b, nb);
          expect([tiles[s], tiles[s + 1]]).toEqual([w[at], w[at + 1]]);
          expect(Array.from(tiles.subarray(c, c + 16))).toEqual(Array.from(w.subarray(at + 2, at + 18)));
        }
      }
      const a = new Float32Array(rows * n), b = new Float32Array(rows * n);
      jsBackend.matmulQuant(a, x, w, "q4_0", rows, k, n);
      jsBackend.matmulQuant(b, x, tiles, "q4_0", rows, k, n, "q4_0x4");
      expectSameBits(b, a, "js tiles vs js rows");
      unpackQ4_0Tiles(tiles, n, k);
      expect(Buffer.from(tiles).equals(Buffer.from(w))).toBe(true);
    }
  });

  it("q4_0 tiles: refused for other types, row counts not a multiple of 4 and NaN/inf scales", () => {
    const w = randomWeights("q4_0", 6, 64, rng(5));
    const out = new Float32Array(6), x = new Float32Array(64);
    for (const b of [jsBackend, wasm]) {
      expect(() => b.matmulQuant(out, x, w, "q4_0", 1, 64, 6, "q4_0x4")).toThrow(/outFeatures a multiple of 4/);
      expect(() => b.matmulQuant(out, x, w, "q8_0", 1, 32, 4, "q4_0x4")).toThrow(TensorError);
    }
    expect(canTileQ4_0(w, 6, 64)).toBe(false);
    expect(() => packQ4_0Tiles(w, 6, 64)).toThrow(/multiple of 4/);
    const inf = randomWeights("q4_0", 4, 64, rng(6));
    inf[18 * 5 + 1] = 0x7c; // block 5's scale: +inf
    inf[18 * 5] = 0;
    expect(canTileQ4_0(inf, 4, 64)).toBe(false);
    expect(() => packQ4_0Tiles(inf, 4, 64)).toThrow(TensorError);
  });

  it("tryPackQ4_0Tiles tiles as packQ4_0Tiles does, or leaves the bytes as they were (a NaN scale in a later row group)", () => {
    const w = randomWeights("q4_0", 12, 96, rng(7));
    const tiled = w.slice();
    packQ4_0Tiles(tiled, 12, 96);
    const tried = w.slice();
    expect(tryPackQ4_0Tiles(tried, 12, 96)).toBe(true);
    expect(tried).toEqual(tiled);
    const nan = w.slice();
    nan[(9 * 3 + 2) * 18 + 1] = 0x7e; // row 9 (the third group), block 2: NaN
    const before = nan.slice();
    expect(tryPackQ4_0Tiles(nan, 12, 96)).toBe(false);
    expect(nan).toEqual(before); // the two groups tiled before it were put back in rows
    expect(tryPackQ4_0Tiles(w.slice(), 6, 96)).toBe(false);
    expect(() => packQ4_0Tiles(nan, 12, 96)).toThrow(/NaN\/inf scale/);
  });

  it("refuses row lengths that are not whole blocks, short arrays and unknown types", () => {
    for (const backend of [jsBackend, wasm]) {
      const code = (f: () => void): string | undefined => {
        try { f(); } catch (error) { return error instanceof TensorError ? error.code : String(error); }
        return undefined;
      };
      expect(code(() => backend.matmulQuant(new Float32Array(1), new Float32Array(48), new Uint8Array(51), "q8_0", 1, 48, 1))).toBe("INVALID_ARGUMENT");
      expect(code(() => backend.matmulQuant(new Float32Array(1), new Float32Array(32), new Uint8Array(144), "q4_k", 1, 128, 1))).toBe("INVALID_ARGUMENT");
      expect(code(() => backend.matmulQuant(new Float32Array(2), new Float32Array(32), new Uint8Array(34), "q8_0", 1, 32, 2))).toBe("SHAPE_MISMATCH");
      expect(code(() => backend.matmulQuant(new Float32Array(1), new Float32Array(31), new Uint8Array(34), "q8_0", 1, 32, 1))).toBe("SHAPE_MISMATCH");
      expect(code(() => backend.matmulQuant(new Float32Array(1), new Float32Array(32), new Uint8Array(34), "q5_0" as QuantType, 1, 32, 1))).toBe("INVALID_ARGUMENT");
    }
  });

  it("f16 weights: subnormals, ±0, ±inf and NaN convert exactly", () => {
    const specials = [0, -0, 5.960464477539063e-8, -6.097555160522461e-5, 65504, -65504, Infinity, -Infinity, Number.NaN, 1.5, -2.25, 1e-5];
    const k = specials.length, n = specials.length;
    // row o holds special o at column o and zeros elsewhere; x is all ones, so out[o] = special o
    const w = new Uint8Array(2 * n * k);
    specials.forEach((v, o) => {
      const h = f32ToF16(v);
      w[2 * (o * k + o)] = h & 0xff;
      w[2 * (o * k + o) + 1] = h >> 8;
    });
    for (const backend of [jsBackend, wasm]) {
      const out = new Float32Array(n);
      backend.matmulQuant(out, new Float32Array(k).fill(1), w, "f16", 1, k, n);
      out.forEach((v, o) => {
        const want = f16ToF32(f32ToF16(specials[o]));
        if (Number.isNaN(want)) expect(v).toBeNaN();
        else expect(v).toBe(want + 0); // 0 · inf terms are absent: only the diagonal is non-zero
      });
    }
  });
});
