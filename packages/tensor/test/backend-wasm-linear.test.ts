// Parity of the wasm matmul / matvec kernels with the js reference, on odd shapes, both B
// layouts, batches, accumulation, and inputs that are foreign or unaligned views.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createWasmBackend, jsBackend } from "../src/backend/index";
import type { WasmBackend } from "../src/backend/index";
import { embedded, expectClose, rng, uniform } from "./backend-helpers";

const configs = [
  { label: "1 thread", threads: 1, sharedMemory: true },
  { label: "2 threads", threads: 2, sharedMemory: true },
  { label: "1 thread, plain memory", threads: 1, sharedMemory: false },
];

// f32 sums of k products differ from the f64 reference by at most ~k·2⁻²⁴·Σ|a||b|; in practice
// far less. 4e-6·Σ|a||b| is tight enough to catch any wrong index yet loose for k ≤ 2048.
const DOT_RTOL = 4e-6;

// Seeded random shapes with odd sizes, beside the hand-picked ones (the same on every run).
const shapeRng = rng(20261201);
const odd = (lo: number, hi: number): number => lo + 2 * Math.floor(shapeRng() * ((hi - lo) / 2 + 1));
function randomShapes<T>(count: number, draw: () => T): T[] {
  return Array.from({ length: count }, draw);
}

function absBound(
  a: Float32Array, b: Float32Array, m: number, k: number, n: number,
  opts: { transA?: boolean; transB?: boolean; batch?: number; bBatchStride?: number },
): Float32Array {
  const bound = new Float32Array((opts.batch ?? 1) * m * n);
  jsBackend.matmul(bound, a.map(Math.abs), b.map(Math.abs), m, k, n, opts);
  return bound.map((x) => x * DOT_RTOL);
}

describe.each(configs)("wasm matmul and matvec ($label)", ({ threads, sharedMemory }) => {
  let wasm: WasmBackend;
  beforeAll(async () => { wasm = await createWasmBackend({ threads, sharedMemory, parallelMinMacs: 0 }); });
  afterAll(async () => { await wasm.dispose(); });

  const shapes: Array<[number, number, number]> = [
    [1, 1, 1], [1, 7, 5], [2, 3, 4], [3, 5, 7], [4, 8, 8], [5, 9, 13], [17, 31, 23],
    [37, 70, 45], [64, 64, 64], [65, 300, 33], [6, 513, 130], [130, 257, 9],
    // above the threads' work threshold: split by columns, by rows, and the m = 1 paths
    [9, 600, 300], [130, 257, 33], [1, 2048, 700],
    ...randomShapes<[number, number, number]>(6, () => [odd(1, 131), odd(1, 301), odd(1, 71)]),
  ];
  for (const [m, k, n] of shapes) {
    for (const transB of [false, true]) {
      it(`[${m},${k}]·${transB ? `[${n},${k}]ᵀ` : `[${k},${n}]`}`, () => {
        const next = rng(m * 1000 + k * 10 + n + (transB ? 7 : 0));
        const a = uniform(next, m * k), b = uniform(next, k * n);
        const expected = new Float32Array(m * n);
        jsBackend.matmul(expected, a, b, m, k, n, { transB });
        const bound = absBound(a, b, m, k, n, { transB });
        // in wasm memory
        const out = wasm.allocF32(m * n);
        wasm.matmul(out, embedded(a, (len) => wasm.allocF32(len)), embedded(b, (len) => wasm.allocF32(len)), m, k, n, { transB });
        expectClose(out, expected, 1e-7, 0, bound);
        // foreign arrays at unaligned offsets, copied in and out
        const foreignOut = embedded(new Float32Array(m * n), (len) => new Float32Array(len));
        wasm.matmul(foreignOut, embedded(a, (len) => new Float32Array(len)), b, m, k, n, { transB });
        expectClose(foreignOut, expected, 1e-7, 0, bound);
        expect(foreignOut.buffer).not.toBe(out.buffer);
      });
    }
  }

  // transA (A stored [k, m]) with either B layout, accumulation, past the 256-deep slice, and
  // in batches: the weight-gradient form dW = dYᵀ·X
  const transAShapes: Array<[number, number, number, number]> = [
    [1, 1, 1, 1], [1, 5, 3, 1], [3, 2, 5, 1], [4, 9, 8, 2], [7, 33, 13, 1], [128, 300, 40, 1],
    [130, 257, 33, 1], [33, 64, 65, 3], ...randomShapes<[number, number, number, number]>(4, () => [odd(1, 99), odd(1, 301), odd(1, 71), 1 + Math.floor(shapeRng() * 3)]),
  ];
  for (const [m, k, n, batch] of transAShapes) {
    for (const transB of [false, true]) {
      it(`transA: ${batch}×[${k},${m}]ᵀ·${transB ? `[${n},${k}]ᵀ` : `[${k},${n}]`}, accumulating`, () => {
        const next = rng(m * 7919 + k * 31 + n + batch + (transB ? 3 : 0));
        const a = uniform(next, batch * m * k), b = uniform(next, batch * k * n), c0 = uniform(next, batch * m * n);
        const opts = { transA: true, transB, batch };
        const expected = new Float32Array(batch * m * n);
        jsBackend.matmul(expected, a, b, m, k, n, opts);
        const bound = absBound(a, b, m, k, n, opts);
        const out = wasm.allocF32(batch * m * n);
        wasm.matmul(out, embedded(a, (len) => wasm.allocF32(len)), b, m, k, n, opts);
        expectClose(out, expected, 1e-7, 0, bound);
        const acc = c0.slice(), accExpected = c0.slice();
        jsBackend.matmul(accExpected, a, b, m, k, n, { ...opts, accumulate: true });
        wasm.matmul(acc, a, b, m, k, n, { ...opts, accumulate: true });
        expectClose(acc, accExpected, 1e-6, 0, bound);
      });
    }
  }
  it("transA with one B for every batch (bBatchStride 0) keeps each batch's A apart", () => {
    const next = rng(99);
    const [m, k, n, batch] = [5, 7, 6, 3];
    const a = uniform(next, batch * m * k), b = uniform(next, k * n);
    const opts = { transA: true, batch, bBatchStride: 0 };
    const expected = new Float32Array(batch * m * n);
    jsBackend.matmul(expected, a, b, m, k, n, opts);
    const out = new Float32Array(batch * m * n);
    wasm.matmul(out, a, b, m, k, n, opts);
    expectClose(out, expected, 1e-7, 0, absBound(a, b, m, k, n, opts));
  });

  it("accumulates into out", () => {
    const next = rng(11);
    const [m, k, n] = [9, 300, 21];
    const a = uniform(next, m * k), b = uniform(next, n * k), c0 = uniform(next, m * n);
    const expected = c0.slice();
    jsBackend.matmul(expected, a, b, m, k, n, { transB: true, accumulate: true });
    const out = c0.slice();
    wasm.matmul(out, a, b, m, k, n, { transB: true, accumulate: true });
    expectClose(out, expected, 1e-6, 0, absBound(a, b, m, k, n, { transB: true }));
    const owned = wasm.allocF32(m * n);
    owned.set(c0);
    wasm.matmul(owned, a, b, m, k, n, { transB: true, accumulate: true });
    expectClose(owned, expected, 1e-6, 0, absBound(a, b, m, k, n, { transB: true }));
  });

  const batchShapes: Array<[number, number, number, number]> = [[11, 7, 19, 10], [8, 33, 64, 40]];
  for (const [batch, m, k, n] of batchShapes) for (const bBatchStride of [undefined, 0]) {
    for (const transB of [false, true]) {
      it(`batched ${batch}×[${m},${k},${n}], bBatchStride ${bBatchStride ?? "k·n"}, transB ${transB}`, () => {
        const next = rng(23 + (bBatchStride ?? 1) + (transB ? 5 : 0) + batch);
        const a = uniform(next, batch * m * k);
        const b = uniform(next, bBatchStride === 0 ? k * n : batch * k * n);
        const opts = { batch, transB, bBatchStride };
        const expected = new Float32Array(batch * m * n);
        jsBackend.matmul(expected, a, b, m, k, n, opts);
        const out = wasm.allocF32(batch * m * n);
        wasm.matmul(out, a, b, m, k, n, opts);
        expectClose(out, expected, 1e-7, 0, absBound(a, b, m, k, n, opts));
      });
    }
  }

  it("k = 0 gives zeros", () => {
    const out = new Float32Array(6).fill(5);
    wasm.matmul(out, new Float32Array(0), new Float32Array(0), 2, 0, 3);
    expect(Array.from(out)).toEqual([0, 0, 0, 0, 0, 0]);
  });

  const mv: Array<[number, number]> = [
    [1, 1], [3, 5], [4, 8], [7, 9], [288, 288], [130, 771], [1001, 67], ...randomShapes<[number, number]>(4, () => [odd(1, 513), odd(1, 301)]),
  ];
  for (const [rows, cols] of mv) {
    it(`matvec [${rows},${cols}]`, () => {
      const next = rng(rows * 7 + cols);
      const w = uniform(next, rows * cols), x = uniform(next, cols);
      const expected = new Float32Array(rows);
      jsBackend.matvec(expected, w, x, rows, cols);
      const bound = new Float32Array(rows);
      jsBackend.matvec(bound, w.map(Math.abs), x.map(Math.abs), rows, cols);
      const out = embedded(new Float32Array(rows), (len) => wasm.allocF32(len));
      wasm.matvec(out, embedded(w, (len) => wasm.allocF32(len)), x, rows, cols);
      expectClose(out, expected, 1e-7, 0, bound.map((v) => v * DOT_RTOL));
    });
  }

  it("rejects arrays shorter than the shape", () => {
    expect(() => wasm.matvec(new Float32Array(2), new Float32Array(5), new Float32Array(3), 2, 3))
      .toThrow(expect.objectContaining({ code: "SHAPE_MISMATCH" }));
  });
});
