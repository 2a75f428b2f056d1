// The wasm backend under the Tensor ops: non-contiguous inputs (transposed, step-sliced,
// head-sliced, permuted and expanded views) reach the kernels through the ops' own contiguous
// copies, and every result must match the same op on the js reference backend. Each case builds
// its inputs from a fresh seeded generator on the backend under test, so on the wasm run they
// live in wasm memory; hand-picked shapes sit beside seeded random ones with odd sizes.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  Rng, add, attention, gelu, getBackend, layerNorm, matmul, mul, ones, permute, randn, rmsNorm, rope, setBackend,
  silu, slice, softmax, swiglu, transpose,
} from "../src/index";
import type { Backend, Tensor } from "../src/index";
import { createWasmBackend } from "../src/backend/index";
import type { WasmBackend } from "../src/backend/index";
import { expectClose, rng } from "./backend-helpers";

function onBoth(js: Backend, wasm: Backend, seed: number, op: (g: Rng) => Tensor): [Float32Array, Float32Array] {
  setBackend(js);
  const expected = op(new Rng(seed)).data.slice();
  setBackend(wasm);
  const actual = op(new Rng(seed)).data.slice();
  setBackend(js);
  return [actual, expected];
}

/** An odd integer in [lo, hi] (hi odd). */
const odd = (next: () => number, lo: number, hi: number): number => lo + 2 * Math.floor(next() * ((hi - lo) / 2 + 1));

// A [rows, cols] operand laid out four ways, none of them (but the first) contiguous.
type Layout = "contiguous" | "transposed" | "step-sliced" | "expanded";
const layouts: Layout[] = ["contiguous", "transposed", "step-sliced", "expanded"];
function laidOut(layout: Layout, g: Rng, rows: number, cols: number): Tensor {
  switch (layout) {
    case "contiguous": return randn([rows, cols], g);
    case "transposed": return transpose(randn([cols, rows], g), 0, 1);
    case "step-sliced": return slice(slice(randn([2 * rows + 1, cols + 3], g), 0, 1, 2 * rows + 1, 2), 1, 2, cols + 2);
    case "expanded": return randn([1, cols], g).expand([rows, cols]);
  }
}

describe.each([1, 2])("Tensor ops on the wasm backend, %i thread(s)", (threads) => {
  let wasm: WasmBackend;
  let js: Backend;
  beforeAll(async () => {
    js = getBackend();
    wasm = await createWasmBackend({ threads, parallelMinMacs: 0 });
  });
  afterAll(async () => {
    setBackend(js);
    await wasm.dispose();
  });

  it("matmul of transposed views", () => {
    // aᵀ [33,70] · bᵀ [70,45]: both operands are strided views
    const [actual, expected] = onBoth(js, wasm, 5, (g) => matmul(transpose(randn([70, 33], g), 0, 1), transpose(randn([45, 70], g), 0, 1)));
    expectClose(actual, expected, 1e-4, 1e-5);
  });

  it("softmax over a non-last axis and rmsnorm of a transposed view", () => {
    let [actual, expected] = onBoth(js, wasm, 6, (g) => softmax(transpose(randn([9, 31], g), 0, 1), -1));
    expectClose(actual, expected, 1e-8, 2e-6);
    [actual, expected] = onBoth(js, wasm, 6, (g) => softmax(randn([9, 31], g), 0));
    expectClose(actual, expected, 1e-8, 2e-6);
    [actual, expected] = onBoth(js, wasm, 6, (g) => rmsNorm(transpose(randn([9, 31], g), 0, 1), ones([9]), 1e-5));
    expectClose(actual, expected, 1e-6, 2e-6);
  });

  const next = rng(1234 + threads);
  const normShapes: Array<[number, number]> = [[5, 17], [1, 3], [33, 64], ...Array.from({ length: 4 }, (): [number, number] => [odd(next, 1, 41), odd(next, 1, 301)])];
  for (const [rows, cols] of normShapes) {
    for (const layout of layouts) {
      it(`layerNorm and rmsNorm of a ${layout} [${rows},${cols}], weight and bias strided too`, () => {
        const params = (g: Rng): [Tensor, Tensor] => [slice(randn([2 * cols], g), 0, 0, 2 * cols, 2), randn([cols], g)];
        let [actual, expected] = onBoth(js, wasm, rows * cols, (g) => {
          const [weight, bias] = params(g);
          return layerNorm(laidOut(layout, g, rows, cols), weight, bias, 1e-5);
        });
        expectClose(actual, expected, 2e-6, 4e-6);
        [actual, expected] = onBoth(js, wasm, rows + cols, (g) => rmsNorm(laidOut(layout, g, rows, cols), params(g)[0], 1e-5));
        expectClose(actual, expected, 1e-6, 2e-6);
      });
    }
  }

  // [batch, seq, nHeads, headDim]
  const ropeShapes: Array<[number, number, number, number]> = [
    [1, 5, 3, 8], [2, 4, 6, 16], ...Array.from({ length: 3 }, (): [number, number, number, number] => [odd(next, 1, 3), odd(next, 1, 13), odd(next, 1, 7), 2 * odd(next, 1, 33)]),
  ];
  for (const [batch, seq, nHeads, headDim] of ropeShapes) {
    for (const style of ["interleaved", "half"] as const) {
      it(`rope ${style} of a permuted [${batch},${seq},${nHeads},${headDim}] and of every other head`, () => {
        // stored [batch, nHeads, seq, headDim] (the layout after a head split), read as [batch, seq, nHeads, headDim]
        let [actual, expected] = onBoth(js, wasm, seq * headDim, (g) =>
          rope(permute(randn([batch, nHeads, seq, headDim], g), [0, 2, 1, 3]), style, { pos0: 7, theta: 10000 }));
        expectClose(actual, expected, 1e-6, 1e-6);
        [actual, expected] = onBoth(js, wasm, seq + headDim, (g) =>
          rope(slice(randn([batch, seq, 2 * nHeads, headDim], g), 2, 1, 2 * nHeads, 2), style, { pos0: 300, theta: 500000 }));
        expectClose(actual, expected, 1e-6, 1e-6);
      });
    }
  }

  // [batch, seqQ, seqKv, nHeads, nKvHeads, headDim]
  const attentionShapes: Array<[number, number, number, number, number, number]> = [
    [1, 1, 9, 4, 2, 16], [2, 6, 6, 6, 3, 8], [1, 16, 40, 8, 2, 32],
    ...Array.from({ length: 3 }, (): [number, number, number, number, number, number] => {
      const nKvHeads = odd(next, 1, 3), seqQ = odd(next, 1, 9);
      return [odd(next, 1, 3), seqQ, seqQ + odd(next, 1, 21) - 1, nKvHeads * odd(next, 1, 3), nKvHeads, odd(next, 1, 37)];
    }),
  ];
  for (const [batch, seqQ, seqKv, nHeads, nKvHeads, headDim] of attentionShapes) {
    it(`attention of views: q permuted, k and v head slices of one fused kv tensor, v expanded (${batch}×${seqQ}/${seqKv}, heads ${nHeads}/${nKvHeads}×${headDim})`, () => {
      const fusedKv = (g: Rng): Tensor => randn([batch, seqKv, 2 * nKvHeads, headDim], g);
      let [actual, expected] = onBoth(js, wasm, seqKv * headDim + nHeads, (g) => {
        const q = permute(randn([batch, nHeads, seqQ, headDim], g), [0, 2, 1, 3]);
        const kv = fusedKv(g);
        // rows are 2·nKvHeads·headDim floats apart: neither half is contiguous
        return attention(q, slice(kv, 2, 0, nKvHeads), slice(kv, 2, nKvHeads, 2 * nKvHeads));
      });
      expectClose(actual, expected, 1e-6, 2e-6);
      [actual, expected] = onBoth(js, wasm, seqQ + seqKv, (g) => {
        const q = randn([batch, seqQ, nHeads, headDim], g);
        const k = transpose(randn([batch, nKvHeads, seqKv, headDim], g), 1, 2);
        const v = randn([batch, seqKv, 1, headDim], g).expand([batch, seqKv, nKvHeads, headDim]);
        return attention(q, k, v);
      });
      expectClose(actual, expected, 1e-6, 2e-6);
    });
  }

  const elementShapes: Array<[number, number]> = [[3, 5], [16, 64], ...Array.from({ length: 4 }, (): [number, number] => [odd(next, 1, 61), odd(next, 1, 131)])];
  for (const [rows, cols] of elementShapes) {
    for (const layout of layouts) {
      it(`add, mul, silu, gelu, swiglu with ${layout} operands [${rows},${cols}]`, () => {
        const ops: Array<[string, (x: Tensor, y: Tensor) => Tensor, number, number]> = [
          ["add", add, 0, 0],
          ["mul", mul, 0, 0],
          ["silu", (x) => silu(x.mul(12)), 1e-7, 1e-6],
          ["gelu", (x) => gelu(x.mul(4)), 1e-7, 1e-6],
          ["swiglu", (x, y) => swiglu(x.mul(12), y), 1e-7, 1e-6],
        ];
        for (const [name, op, atol, rtol] of ops) {
          // one operand in the layout under test, the other contiguous, then both in it
          for (const both of [false, true]) {
            const [actual, expected] = onBoth(js, wasm, rows * 7 + cols, (g) =>
              op(laidOut(layout, g, rows, cols), both ? laidOut(layout, g, rows, cols) : randn([rows, cols], g)));
            expect(actual.length, name).toBe(rows * cols);
            expectClose(actual, expected, atol, rtol);
          }
        }
      });
    }
  }
});
