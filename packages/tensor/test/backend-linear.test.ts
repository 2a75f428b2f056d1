// The linear kernel behind LinearWeight.project: parity of the wasm kernel with the js reference,
// and batch invariance, bit for bit: row r of a call over n rows equals the same row projected
// alone (and the decode kernel matvec), for every n, on 1 and 2 threads, and the same bits on both.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createWasmBackend, jsBackend, type Backend, type WasmBackend } from "../src/backend/index";
import { F32Linear } from "../src/linear/linear-weight";
import { relaxedSimdSupported } from "../src/backend/wasm-module";
import { embedded, expectClose, rng, uniform } from "./backend-helpers";

const DOT_RTOL = 4e-6;

/** The IEEE bits of each element, so equality means bit-identical (−0 ≠ +0, NaN payloads count). */
const bits = (a: Float32Array): number[] => Array.from(new Uint32Array(Float32Array.from(a).buffer));

// [rows, inFeatures, outFeatures]: tails of every kind (k mod 16, k mod 4, k past the 512-column
// block, out mod 4, an odd last row), the 16-column groups ending with the first block (k 512–527:
// its last pass reduces) or with the second (k 1024–1039), the embedded model's k = 128 at 33 rows,
// and shapes above the threads' work threshold
const shapes: Array<[number, number, number]> = [
  [1, 1, 1], [2, 3, 5], [3, 7, 9], [4, 16, 4], [5, 19, 13], [2, 64, 8], [7, 300, 33], [6, 513, 130],
  [3, 1100, 21], [2, 2061, 7], [9, 600, 300], [17, 288, 768], [64, 288, 288], [33, 768, 65],
  [5, 526, 12], [4, 1035, 9], [33, 128, 70],
];

/** Every row of out [rows, n] projected alone, concatenated: what a decode step computes. */
function rowByRow(be: Backend, w: Float32Array, x: Float32Array, rows: number, k: number, n: number, kernel: "linear" | "matvec"): Float32Array {
  const out = new Float32Array(rows * n);
  const y = be.allocF32(n), xr = be.allocF32(k);
  for (let r = 0; r < rows; r++) {
    xr.set(x.subarray(r * k, (r + 1) * k));
    if (kernel === "linear") be.linear(y, xr, w, 1, k, n);
    else be.matvec(y, w, xr, n, k);
    out.set(y, r * n);
  }
  return out;
}

function checkInvariant(be: Backend, rows: number, k: number, n: number, seed: number): Float32Array {
  const next = rng(seed);
  const w = embedded(uniform(next, n * k), (len) => be.allocF32(len));
  const x = uniform(next, rows * k);
  const all = be.allocF32(rows * n);
  be.linear(all, x, w, rows, k, n);
  expect(bits(all)).toEqual(bits(rowByRow(be, w, x, rows, k, n, "linear")));
  expect(bits(all)).toEqual(bits(rowByRow(be, w, x, rows, k, n, "matvec")));
  // every prefix of the rows (a prefill chunk of another length) gives the same rows
  for (const sub of new Set([1, 2, Math.ceil(rows / 2), rows - 1].filter((r) => r >= 1 && r < rows))) {
    const part = new Float32Array(sub * n);
    be.linear(part, x.subarray(0, sub * k), w, sub, k, n);
    expect(bits(part)).toEqual(bits(all.subarray(0, sub * n)));
  }
  return Float32Array.from(all);
}

describe("js linear (the reference)", () => {
  for (const [rows, k, n] of shapes.slice(0, 10)) {
    it(`is batch-invariant and equals matvec per row: [${rows},${k}]·[${n},${k}]ᵀ`, () => {
      checkInvariant(jsBackend, rows, k, n, rows * 131 + k * 7 + n);
    });
  }
});

// The plain build and, where the engine has it, the relaxed-SIMD build (its sums use fused
// multiply-adds: other bits than the plain build's, the same guarantees within the build).
const builds = [
  ...[1, 2].map((threads) => ({ threads, relaxedSimd: false })),
  ...(relaxedSimdSupported() ? [1, 2].map((threads) => ({ threads, relaxedSimd: true })) : []),
];

describe.each(builds)("wasm linear, $threads thread(s), relaxed SIMD $relaxedSimd", ({ threads, relaxedSimd }) => {
  let wasm: WasmBackend, other: WasmBackend;
  beforeAll(async () => {
    wasm = await createWasmBackend({ threads, relaxedSimd, parallelMinMacs: 0 }); // every job split, however small
    other = await createWasmBackend({ threads: 3 - threads, relaxedSimd, parallelMinMacs: 0 });
    expect(wasm.relaxedSimd).toBe(relaxedSimd);
  });
  afterAll(async () => {
    await wasm.dispose();
    await other.dispose();
  });

  for (const [rows, k, n] of shapes) {
    it(`[${rows},${k}]·[${n},${k}]ᵀ: close to the reference, bit-identical whatever the rows and threads`, () => {
      const seed = rows * 131 + k * 7 + n;
      const next = rng(seed);
      const w = uniform(next, n * k), x = uniform(next, rows * k);
      const expected = new Float32Array(rows * n), bound = new Float32Array(rows * n);
      jsBackend.linear(expected, x, w, rows, k, n);
      jsBackend.linear(bound, x.map(Math.abs), w.map(Math.abs), rows, k, n);
      const out = embedded(new Float32Array(rows * n), (len) => wasm.allocF32(len));
      wasm.linear(out, embedded(x, (len) => new Float32Array(len)), w, rows, k, n);
      expectClose(out, expected, 1e-7, 0, bound.map((v) => v * DOT_RTOL));

      const mine = checkInvariant(wasm, rows, k, n, seed);
      const theirs = checkInvariant(other, rows, k, n, seed);
      expect(bits(mine)).toEqual(bits(theirs));
    });
  }

  it("rejects arrays shorter than the shape", () => {
    expect(() => wasm.linear(new Float32Array(4), new Float32Array(6), new Float32Array(5), 2, 3, 2))
      .toThrow(expect.objectContaining({ code: "SHAPE_MISMATCH" }));
  });

  it("allocBytes hands out zeroed, 16-byte aligned bytes in wasm memory, and free returns them", () => {
    const used = wasm.usedBytes;
    const bytes = wasm.allocBytes(1000);
    expect(bytes.length).toBe(1000);
    expect(bytes.byteOffset % 16).toBe(0);
    expect(bytes.every((b) => b === 0)).toBe(true);
    expect(bytes.buffer).toBe(wasm.allocF32(1).buffer);
    expect(wasm.usedBytes).toBeGreaterThanOrEqual(used + 1000);
    bytes.fill(7);
    wasm.free(bytes);
    expect(wasm.allocBytes(1000).every((b) => b === 0)).toBe(true);
    expect(() => wasm.allocBytes(-1)).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
  });
});

describe("F32Linear", () => {
  it("projects rows through the backend's linear kernel", () => {
    const next = rng(5);
    const w = uniform(next, 6 * 4), x = uniform(next, 3 * 4);
    const weight = new F32Linear(w, 6, 4, jsBackend);
    expect([weight.type, weight.outFeatures, weight.inFeatures, weight.byteLength]).toEqual(["f32", 6, 4, 96]);
    const y = new Float32Array(3 * 6), expected = new Float32Array(3 * 6);
    weight.project(y, x, 3);
    jsBackend.matmul(expected, x, w, 3, 4, 6, { transB: true });
    expect(bits(y)).toEqual(bits(expected));
  });

  it("refuses data that is not [outFeatures, inFeatures]", () => {
    expect(() => new F32Linear(new Float32Array(5), 2, 3, jsBackend)).toThrow(expect.objectContaining({ code: "SHAPE_MISMATCH" }));
    expect(() => new F32Linear(new Float32Array(0), -1, 0, jsBackend)).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
  });

  it("allocBytes on the js backend: plain zeroed bytes", () => {
    const bytes = jsBackend.allocBytes(33);
    expect(bytes.length).toBe(33);
    expect(bytes.byteOffset % 16).toBe(0);
  });
});
