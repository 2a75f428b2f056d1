// The wasm SwiGLU, RoPE and attention bit for bit against their arithmetic emulated in JS
// (wasm-f32-emulation.ts: one f32 rounding per wasm operation, in the kernels' order). The
// kernels are unrolled and restructured (swiglu four vectors a round; rope on halves four pairs a
// vector; attention's weighted sums two heads of a group at a time, dots four keys at a time,
// softmax's vector body and tail): every length that reaches each body and tail, contexts 1 … 40
// (every n % 4 and n % 16), grouped-query ratios 1, 2, 4 and 3, odd head counts and head sizes
// that take dot's scalar tail or the pair's rest, and the probs path.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createWasmBackend } from "../src/backend/index";
import type { WasmBackend } from "../src/backend/index";
import { rng, uniform } from "./backend-helpers";
import { attentionEmulated, exp4Lane, ropeEmulated, softmaxEmulated, swigluLane } from "./wasm-f32-emulation";

const bits = (a: ArrayLike<number>): number[] => Array.from(new Uint32Array(Float32Array.from(a).buffer));

describe("the emulation itself", () => {
  it("exp4Lane is exp to ~1e-7 and softmaxEmulated sums to 1", () => {
    for (const x of [-80, -20, -1.5, -0.25, 0, 0.3, 1, 7.5, 80]) {
      expect(Math.abs(exp4Lane(x) / Math.exp(x) - 1)).toBeLessThan(3e-7);
    }
    const p = softmaxEmulated([0.5, -1, 2, 3, 0.25]);
    expect(Math.abs(p.reduce((s, v) => s + v, 0) - 1)).toBeLessThan(1e-6);
    expect(Math.abs(swigluLane(2, 3) - (2 / (1 + Math.exp(-2))) * 3)).toBeLessThan(1e-6);
  });
});

describe.each([
  { label: "1 thread", threads: 1, parallelMinMacs: undefined },
  { label: "2 threads, every job split", threads: 2, parallelMinMacs: 0 },
])("wasm exp kernels, bit for bit in their order ($label)", ({ threads, parallelMinMacs }) => {
  let wasm: WasmBackend;
  beforeAll(async () => { wasm = await createWasmBackend({ threads, parallelMinMacs }); });
  afterAll(async () => { await wasm.dispose(); });

  it("swiglu at every length 1 … 70 (16-float rounds, 4-float vectors, single-lane tail) and the embedded FFN's 384", () => {
    const next = rng(17);
    for (const len of [...Array.from({ length: 70 }, (_, i) => i + 1), 384]) {
      // gates across the exp's range, including the clamp (|x| > 200) and subnormal products
      const gate = Float32Array.from({ length: len }, () => (next() - 0.5) * (next() < 0.1 ? 500 : 30));
      const up = uniform(next, len, -4, 4);
      const out = new Float32Array(len);
      wasm.swiglu(out, gate, up);
      expect(bits(out), `len ${len}`).toEqual(bits(Array.from(gate, (g, i) => swigluLane(g, up[i]))));
    }
  });

  // [nHeads, nKvHeads, headDim]: the embedded model's 4/2×32, ratios 1 and 4, an odd ratio (3),
  // odd head counts, a head size that is not a multiple of 8 (scores one key at a time, dot's tail),
  // head sizes below 16 and 24 (the paired weighted sum's rest, head by head)
  const shapes = [[4, 2, 32], [2, 2, 16], [4, 1, 8], [3, 1, 8], [5, 5, 8], [6, 2, 12], [3, 3, 5], [4, 2, 24]];
  for (const [nHeads, nKvHeads, headDim] of shapes) {
    it(`one query over 1 … 40 keys, heads ${nHeads}/${nKvHeads}×${headDim}: out and probs`, () => {
      const next = rng(nHeads * 100 + nKvHeads * 10 + headDim);
      const kvStride = nKvHeads * headDim + 3; // rows of a wider cache
      for (let seqKv = 1; seqKv <= 40; seqKv++) {
        const q = uniform(next, nHeads * headDim, -3, 3);
        const k = uniform(next, seqKv * kvStride, -3, 3), v = uniform(next, seqKv * kvStride, -2, 2);
        const want = attentionEmulated(q, k, v, 1, seqKv, nHeads, nKvHeads, headDim, kvStride);
        const out = new Float32Array(nHeads * headDim), probs = new Float32Array(nHeads * seqKv);
        wasm.attention(out, q, k, v, 1, seqKv, nHeads, nKvHeads, headDim, { kvStride });
        expect(bits(out), `seqKv ${seqKv}`).toEqual(bits(want.out));
        out.fill(0);
        wasm.attention(out, q, k, v, 1, seqKv, nHeads, nKvHeads, headDim, { kvStride, probs });
        expect(bits(out), `seqKv ${seqKv}, with probs`).toEqual(bits(want.out));
        expect(bits(probs), `seqKv ${seqKv}, probs`).toEqual(bits(want.probs));
      }
    });
  }

  it("rope on halves (four pairs a vector, the rest one by one) and on interleaved pairs, 1 and 3 positions", () => {
    const next = rng(23);
    for (const style of ["half", "interleaved"] as const) {
      for (const headDim of [32, 24, 12, 8, 6, 2]) {
        for (const nHeads of [1, 2, 3]) {
          for (const [seq, pos0] of [[1, 0], [1, 7], [1, 70], [3, 41]]) {
            const x = uniform(next, seq * nHeads * headDim, -3, 3);
            const want = ropeEmulated(x, seq, nHeads, headDim, pos0, 10000, style);
            wasm.rope(x, seq, nHeads, headDim, pos0, 10000, style);
            expect(bits(x), `${style} ${nHeads}×${headDim} at ${pos0} (+${seq})`).toEqual(bits(want));
          }
        }
      }
    }
  });

  it("causal prefill (7 queries over 23 keys, heads 4/2×32): every query's row and its masked probs", () => {
    const next = rng(5);
    const [seqQ, seqKv, nHeads, nKvHeads, headDim] = [7, 23, 4, 2, 32];
    const q = uniform(next, seqQ * nHeads * headDim, -3, 3);
    const k = uniform(next, seqKv * nKvHeads * headDim, -3, 3), v = uniform(next, seqKv * nKvHeads * headDim, -2, 2);
    const want = attentionEmulated(q, k, v, seqQ, seqKv, nHeads, nKvHeads, headDim);
    const out = new Float32Array(q.length), probs = new Float32Array(nHeads * seqQ * seqKv);
    wasm.attention(out, q, k, v, seqQ, seqKv, nHeads, nKvHeads, headDim, { probs });
    expect(bits(out)).toEqual(bits(want.out));
    expect(bits(probs)).toEqual(bits(want.probs));
  });

  it("attentionBatch rows (the decode step's path) over the embedded model's heads, contexts 10 … 80", () => {
    const next = rng(9);
    const [nHeads, nKvHeads, headDim, rows] = [4, 2, 32, 15];
    const kvDim = nKvHeads * headDim;
    const lengths = Int32Array.from({ length: rows }, (_, r) => 10 + 5 * r);
    const keys = Array.from(lengths, (n) => uniform(next, (n + 2) * kvDim, -3, 3));
    const values = Array.from(lengths, (n) => uniform(next, (n + 2) * kvDim, -2, 2));
    const q = uniform(next, rows * nHeads * headDim, -3, 3);
    const out = new Float32Array(q.length);
    wasm.attentionBatch(out, q, keys, values, lengths, rows, nHeads, nKvHeads, headDim);
    for (let r = 0; r < rows; r++) {
      const width = nHeads * headDim;
      const want = attentionEmulated(q.subarray(r * width, (r + 1) * width), keys[r], values[r], 1, lengths[r], nHeads, nKvHeads, headDim);
      expect(bits(out.subarray(r * width, (r + 1) * width)), `row ${r}`).toEqual(bits(want.out));
    }
  });
});
