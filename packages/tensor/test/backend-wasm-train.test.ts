// Parity of the wasm training kernels (assembly/train.ts) with the js reference (js-train.ts):
// data movement exactly, Adam bit for bit (both run in float64 with the same order of
// operations), the rest to f32 tolerances (sums in f32 lanes, exp as a ~1e-7 polynomial).
// Arrays come both from wasm memory (used in place) and from the JS heap at odd offsets (staged).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createWasmBackend, jsBackend } from "../src/backend/index";
import type { AdamHyper, TrainKernels } from "../src/backend/backend";
import type { WasmBackend } from "../src/backend/index";
import { embedded, expectClose, rng, uniform } from "./backend-helpers";

const shapeRng = rng(20261203);
const pick = (lo: number, hi: number): number => lo + Math.floor(shapeRng() * (hi - lo + 1));
const rowShapes: Array<[number, number]> = [[1, 1], [2, 3], [3, 4], [5, 17], [7, 128], [3, 1027], ...Array.from({ length: 4 }, (): [number, number] => [pick(1, 9), pick(1, 300)])];
const lengths = [0, 1, 3, 4, 5, 16, 1027, pick(5, 99), pick(101, 4099)];

describe.each([
  { label: "1 thread, wasm-memory arrays", threads: 1, inWasm: true },
  { label: "1 thread, JS arrays (staged)", threads: 1, inWasm: false },
  { label: "2 threads, wasm-memory arrays", threads: 2, inWasm: true },
])("wasm training kernels ($label)", ({ threads, inWasm }) => {
  let wasm: WasmBackend;
  let next: () => number;
  beforeAll(async () => {
    wasm = await createWasmBackend({ threads, parallelMinMacs: 0 });
    next = rng(7);
  });
  afterAll(async () => { await wasm.dispose(); });

  /** The same values as an array each backend gets: wasm memory or a JS view at an odd offset. */
  const place = (data: Float32Array): Float32Array => (inWasm ? embedded(data, (n) => wasm.allocF32(n)) : embedded(data, (n) => new Float32Array(n)));
  const rand = (n: number, lo = -1, hi = 1): Float32Array => uniform(next, n, lo, hi);
  /** Runs `op` on fresh copies of `inputs` for js and wasm; returns the outputs (inputs listed in `outs`). */
  function both(inputs: Float32Array[], outs: number[], op: (k: TrainKernels, a: Float32Array[]) => void): [Float32Array[], Float32Array[]] {
    const js = inputs.map((x) => x.slice());
    const wa = inputs.map((x) => place(x));
    op(jsBackend, js);
    op(wasm, wa);
    return [outs.map((i) => js[i]), outs.map((i) => Float32Array.from(wa[i]))];
  }

  it("transpose, gatherHeads and scatterHeadsAdd move values exactly", () => {
    for (const [rows, cols] of rowShapes) {
      for (const batch of [1, 3]) {
        const [[a], [b]] = both([rand(batch * rows * cols), new Float32Array(batch * rows * cols)], [1], (k, [x, o]) => k.transpose(o, x, batch, rows, cols));
        expect(Array.from(b)).toEqual(Array.from(a));
      }
    }
    for (const [batch, seq, nSrc, group, d] of [[1, 1, 1, 1, 1], [2, 5, 2, 3, 7], [3, 4, 4, 1, 32], [1, 9, 1, 4, 5]]) {
      const nHeads = nSrc * group;
      const [[a], [b]] = both([rand(batch * seq * nSrc * d), new Float32Array(batch * nHeads * seq * d)], [1], (k, [x, o]) => k.gatherHeads(o, x, batch, seq, nSrc, nHeads, d));
      expect(Array.from(b)).toEqual(Array.from(a));
      const [[c], [e]] = both([rand(batch * seq * nSrc * d), rand(batch * nHeads * seq * d)], [0], (k, [g, x]) => k.scatterHeadsAdd(g, x, batch, seq, nSrc, group, d));
      expectClose(e, c, 1e-6, 1e-6);
    }
  });

  it("axpy, mulAdd, scale, sumSquares", () => {
    for (const n of lengths) {
      let [[a], [b]] = both([rand(n), rand(n)], [0], (k, [o, x]) => k.axpy(o, x, -0.75));
      expectClose(b, a, 1e-7, 1e-6);
      [[a], [b]] = both([rand(n), rand(n), rand(n)], [0], (k, [o, x, y]) => k.mulAdd(o, x, y));
      expectClose(b, a, 1e-7, 1e-6);
      [[a], [b]] = both([rand(n)], [0], (k, [x]) => k.scale(x, 0.3));
      expect(Array.from(b)).toEqual(Array.from(a));
      const x = rand(n, -3, 3);
      const ref = jsBackend.sumSquares(x), got = wasm.sumSquares(place(x));
      expect(Math.abs(got - ref)).toBeLessThanOrEqual(1e-12 * Math.max(1, ref));
    }
  });

  it("geluBackward and siluBackward, including large |x|, ±inf and NaN", () => {
    for (const n of lengths) {
      for (const op of ["geluBackward", "siluBackward"] as const) {
        const [[a], [b]] = both([rand(n), rand(n, -8, 8), rand(n)], [0], (k, [g, x, dy]) => k[op](g, x, dy));
        expectClose(b, a, 1e-6, 1e-5);
      }
    }
    const x = Float32Array.of(-100, -30, -9, 0, 9, 30, 100, Infinity, -Infinity, Number.NaN);
    for (const op of ["geluBackward", "siluBackward"] as const) {
      const [[a], [b]] = both([new Float32Array(x.length), x, new Float32Array(x.length).fill(1)], [0], (k, [g, xx, dy]) => k[op](g, xx, dy));
      for (let i = 0; i < x.length; i++) {
        if (Number.isNaN(a[i])) expect(b[i], `${op}(${x[i]})`).toBeNaN();
        else expect(Math.abs(b[i] - a[i]), `${op}(${x[i]}): ${b[i]} vs ${a[i]}`).toBeLessThanOrEqual(1e-6 + 1e-5 * Math.abs(a[i]));
      }
    }
  });

  it("softmaxBackward, layernormBackward, rmsnormBackward on odd shapes, with and without gains", () => {
    for (const [rows, cols] of rowShapes) {
      const n = rows * cols;
      const y = new Float32Array(n);
      jsBackend.softmax(y, rand(n, -3, 3), rows, cols);
      let [[a], [b]] = both([rand(n), y, rand(n)], [0], (k, [g, yy, dy]) => k.softmaxBackward(g, yy, dy, rows, cols, 0.5));
      expectClose(b, a, 1e-6, 1e-5);
      for (const gain of [true, false]) {
        const inputs = [rand(n), rand(cols), rand(cols), rand(n, -2, 2), rand(cols, 0.5, 1.5), rand(n)];
        const [ja, wa] = both(inputs, [0, 1, 2], (k, [gx, gw, gb, x, w, dy]) => k.layernormBackward(gx, gw, gb, x, gain ? w : null, dy, rows, cols, 1e-5));
        ja.forEach((r, i) => expectClose(wa[i], r, 2e-5, 2e-5));
        const [jr, wr] = both(inputs, [0, 1], (k, [gx, gw, , x, w, dy]) => k.rmsnormBackward(gx, gw, x, gain ? w : null, dy, rows, cols, 1e-5));
        jr.forEach((r, i) => expectClose(wr[i], r, 2e-5, 2e-5));
      }
      // only some of the gradients wanted
      [[a], [b]] = both([rand(cols), rand(n, -2, 2), rand(cols), rand(n)], [0], (k, [gw, x, w, dy]) => k.layernormBackward(null, gw, null, x, w, dy, rows, cols, 1e-5));
      expectClose(b, a, 2e-5, 2e-5);
    }
  });

  it("expSumRows and crossEntropyBackward, with ignored rows and label smoothing", () => {
    for (const [rows, cols] of rowShapes) {
      const z = rand(rows * cols, -6, 6);
      const [[s1, m1], [s2, m2]] = both([z, new Float32Array(rows), new Float32Array(rows)], [1, 2], (k, [zz, s, m]) => k.expSumRows(s, m, zz, rows, cols));
      expect(Array.from(m2)).toEqual(Array.from(m1));
      expectClose(s2, s1, 1e-6, 1e-6);
      const lse = Float32Array.from(s1, (s, r) => m1[r] + Math.log(s));
      const target = Float32Array.from({ length: rows }, (_, r) => (r % 3 === 1 ? -1 : Math.floor(next() * cols)));
      for (const smoothing of [0, 0.1]) {
        const [[a], [b]] = both([rand(rows * cols), z, lse, target], [0], (k, [g, zz, l, t]) => k.crossEntropyBackward(g, zz, l, t, rows, cols, 0.25, smoothing));
        expectClose(b, a, 1e-6, 1e-5);
      }
    }
    expect(() => wasm.crossEntropyBackward(new Float32Array(4), new Float32Array(4), new Float32Array(1), Float32Array.of(4), 1, 4, 1, 0)).toThrow(/targets in \[0, 4\)/);
  });

  it("adam equals the js reference bit for bit (Adam and AdamW, odd lengths)", () => {
    const hypers: AdamHyper[] = [
      { beta1: 0.9, beta2: 0.999, eps: 1e-8, stepSize: 1e-3 / (1 - 0.9), c2: Math.sqrt(1 - 0.999), shrink: 1, l2: 0.01 },
      { beta1: 0.9, beta2: 0.95, eps: 1e-8, stepSize: 3e-3 / (1 - 0.9 ** 7), c2: Math.sqrt(1 - 0.95 ** 7), shrink: 1 - 3e-3 * 0.1, l2: 0 },
    ];
    for (const n of lengths) {
      for (const h of hypers) {
        const [ja, wa] = both([rand(n), rand(n), rand(n, -0.1, 0.1), rand(n, 0, 0.01)], [0, 2, 3], (k, [p, g, m, v]) => k.adam(p, g, m, v, h));
        ja.forEach((r, i) => expect(Array.from(wa[i])).toEqual(Array.from(r)));
      }
    }
  });
});
