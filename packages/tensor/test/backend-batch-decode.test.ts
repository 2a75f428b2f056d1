// The batched decode entries, ropeBatch and attentionBatch: each row must be the same bits as the
// one-row call it replaces (rope at the row's position; attention of one query over its own
// cache), on both backends, whatever the other rows hold, and the wasm rows close to the js ones.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createWasmBackend, jsBackend } from "../src/backend/index";
import type { Backend, WasmBackend } from "../src/backend/index";
import { expectClose, rng, uniform } from "./backend-helpers";

const bits = (a: Float32Array): number[] => Array.from(new Uint32Array(Float32Array.from(a).buffer));

const configs = [
  { label: "1 thread", threads: 1, sharedMemory: true },
  { label: "2 threads", threads: 2, sharedMemory: true, parallelMinMacs: 100_000 },
  // every batch of two rows or more goes to the pool's attentionBatch job, whole rows per thread
  { label: "2 threads, every job split", threads: 2, sharedMemory: true, parallelMinMacs: 0 },
  { label: "1 thread, plain memory", threads: 1, sharedMemory: false },
];

// [rows, nHeads, nKvHeads, headDim, longest cache]: the embedded model's heads, stories15M's 48,
// odd sizes, and rows long enough (12 heads × 64 × 66+ positions, 2 · 12 · 64 · 66 ≥ the 2-thread
// config's 100,000 multiply-adds) for that backend to split a row's heads while shorter rows of the
// same batch run from the table
interface Case { rows: number; nHeads: number; nKvHeads: number; headDim: number; longest: number }
const cases: Case[] = [
  { rows: 1, nHeads: 1, nKvHeads: 1, headDim: 4, longest: 1 },
  { rows: 32, nHeads: 4, nKvHeads: 2, headDim: 32, longest: 80 },
  { rows: 5, nHeads: 6, nKvHeads: 6, headDim: 48, longest: 40 },
  { rows: 7, nHeads: 6, nKvHeads: 3, headDim: 10, longest: 23 },
  { rows: 3, nHeads: 12, nKvHeads: 12, headDim: 64, longest: 200 },
];

interface Batch { q: Float32Array; keys: Float32Array[]; values: Float32Array[]; lengths: Int32Array; positions: Int32Array }

/** Random rows and caches; caches have room past their length (as a KV cache does), rows of one shape. */
function batchOf(c: Case, alloc: (n: number) => Float32Array): Batch {
  const next = rng(c.rows * 131 + c.headDim * 7 + c.longest);
  const rowLen = c.nKvHeads * c.headDim;
  const lengths = Int32Array.from({ length: c.rows }, (_, r) => (r === 0 ? c.longest : 1 + Math.floor(next() * c.longest)));
  const cache = (length: number): Float32Array => {
    const a = alloc((length + 3) * rowLen);
    a.set(uniform(next, (length + 3) * rowLen, -2, 2));
    return a;
  };
  return {
    q: uniform(next, c.rows * c.nHeads * c.headDim, -2, 2),
    keys: Array.from(lengths, cache),
    values: Array.from(lengths, cache),
    lengths,
    positions: Int32Array.from(lengths, (n) => n - 1),
  };
}

/** Row by row with the one-row entries: what a batched call must reproduce bit for bit. */
function rowByRow(be: Backend, c: Case, b: Batch): { rotated: Float32Array; attended: Float32Array } {
  const width = c.nHeads * c.headDim;
  const rotated = b.q.slice(), attended = new Float32Array(c.rows * width);
  for (let r = 0; r < c.rows; r++) {
    const row = rotated.subarray(r * width, (r + 1) * width);
    be.rope(row, 1, c.nHeads, c.headDim, b.positions[r], 10000, "interleaved");
    const out = new Float32Array(width);
    be.attention(out, row, b.keys[r], b.values[r], 1, b.lengths[r], c.nHeads, c.nKvHeads, c.headDim);
    attended.set(out, r * width);
  }
  return { rotated, attended };
}

function batched(
  be: Backend, c: Case, b: Batch, x: Float32Array = b.q.slice(), out: Float32Array = new Float32Array(c.rows * c.nHeads * c.headDim),
): { rotated: Float32Array; attended: Float32Array } {
  be.ropeBatch(x, c.rows, c.nHeads, c.headDim, b.positions, 10000, "interleaved");
  be.attentionBatch(out, x, b.keys, b.values, b.lengths, c.rows, c.nHeads, c.nKvHeads, c.headDim);
  return { rotated: x, attended: out };
}

describe("js reference: ropeBatch and attentionBatch", () => {
  for (const c of cases) {
    it(`${c.rows} rows, heads ${c.nHeads}/${c.nKvHeads}×${c.headDim}: each row is the one-row call's bits`, () => {
      const b = batchOf(c, (n) => new Float32Array(n));
      const want = rowByRow(jsBackend, c, b), got = batched(jsBackend, c, b);
      expect(bits(got.rotated)).toEqual(bits(want.rotated));
      expect(bits(got.attended)).toEqual(bits(want.attended));
    });
  }

  it("half-split RoPE too", () => {
    const x = uniform(rng(5), 3 * 2 * 8), want = x.slice();
    const positions = Int32Array.of(7, 0, 300);
    for (let r = 0; r < 3; r++) jsBackend.rope(want.subarray(r * 16, (r + 1) * 16), 1, 2, 8, positions[r], 500000, "half");
    jsBackend.ropeBatch(x, 3, 2, 8, positions, 500000, "half");
    expect(bits(x)).toEqual(bits(want));
  });
});

describe.each(configs)("wasm ropeBatch and attentionBatch ($label)", ({ threads, sharedMemory, parallelMinMacs }) => {
  let wasm: WasmBackend;
  beforeAll(async () => { wasm = await createWasmBackend({ threads, sharedMemory, parallelMinMacs }); });
  afterAll(async () => { await wasm.dispose(); });

  for (const c of cases) {
    it(`${c.rows} rows, heads ${c.nHeads}/${c.nKvHeads}×${c.headDim}, caches up to ${c.longest}: the one-row calls' bits, close to js`, () => {
      // caches in wasm memory (read in place, the decode loop's case) and caches outside (copied in)
      for (const alloc of [(n: number) => wasm.allocF32(n), (n: number) => new Float32Array(n)]) {
        const b = batchOf(c, alloc);
        const want = rowByRow(wasm, c, b);
        const x = wasm.allocF32(b.q.length);
        x.set(b.q);
        const got = batched(wasm, c, b, x, wasm.allocF32(want.attended.length));
        expect(bits(got.rotated)).toEqual(bits(want.rotated));
        expect(bits(got.attended)).toEqual(bits(want.attended));
        const reference = batched(jsBackend, c, b);
        expectClose(got.rotated, reference.rotated, 1e-6, 1e-6);
        expectClose(got.attended, reference.attended, 1e-6, 2e-6);
      }
    });
  }

  // attentionBatchProject: the attention and then its rows' projection (a block's o_proj) in one
  // call, projected per row by the thread that attended it (in one job when every row is in the
  // batch table and the job is split; as the two calls otherwise: the 200-position row here).
  for (const c of cases) {
    for (const outFeatures of [c.nHeads * c.headDim, 7]) {
      it(`attentionBatchProject, ${c.rows} rows, heads ${c.nHeads}/${c.nKvHeads}×${c.headDim} → ${outFeatures}: attentionBatch's and then linear's bits`, () => {
        const b = batchOf(c, (n) => wasm.allocF32(n));
        const width = c.nHeads * c.headDim;
        const w = wasm.allocF32(outFeatures * width);
        w.set(uniform(rng(outFeatures + width), outFeatures * width));
        const q = wasm.allocF32(b.q.length);
        q.set(b.q);
        const attended = wasm.allocF32(c.rows * width), wantProjected = wasm.allocF32(c.rows * outFeatures);
        wasm.attentionBatch(attended, q, b.keys, b.values, b.lengths, c.rows, c.nHeads, c.nKvHeads, c.headDim);
        wasm.linear(wantProjected, attended, w, c.rows, width, outFeatures);
        const out = wasm.allocF32(c.rows * width).fill(Number.NaN), projected = wasm.allocF32(c.rows * outFeatures).fill(Number.NaN);
        wasm.attentionBatchProject(projected, out, q, b.keys, b.values, b.lengths, c.rows, c.nHeads, c.nKvHeads, c.headDim, w, outFeatures);
        expect(bits(out)).toEqual(bits(attended));
        expect(bits(projected)).toEqual(bits(wantProjected));
        // outputs outside wasm memory: copied out
        const foreignOut = new Float32Array(c.rows * width), foreignProjected = new Float32Array(c.rows * outFeatures);
        wasm.attentionBatchProject(foreignProjected, foreignOut, q, b.keys, b.values, b.lengths, c.rows, c.nHeads, c.nKvHeads, c.headDim, Float32Array.from(w), outFeatures);
        expect(bits(foreignOut)).toEqual(bits(attended));
        expect(bits(foreignProjected)).toEqual(bits(wantProjected));
      });
    }
  }

  it("attentionBatchProject rejects a weight or output shorter than the shape, and outputs that overlap", () => {
    const c = cases[3];
    const b = batchOf(c, (n) => wasm.allocF32(n));
    const width = c.nHeads * c.headDim;
    const call = (projected: Float32Array, out: Float32Array, w: Float32Array) =>
      () => wasm.attentionBatchProject(projected, out, b.q, b.keys, b.values, b.lengths, c.rows, c.nHeads, c.nKvHeads, c.headDim, w, 5);
    const out = wasm.allocF32(c.rows * width), projected = wasm.allocF32(c.rows * 5), w = wasm.allocF32(5 * width);
    expect(call(projected, out, w.subarray(1))).toThrow(expect.objectContaining({ code: "SHAPE_MISMATCH" }));
    expect(call(projected.subarray(1), out, w)).toThrow(expect.objectContaining({ code: "SHAPE_MISMATCH" }));
    const both = wasm.allocF32(c.rows * width + c.rows * 5);
    expect(call(both.subarray(c.rows * width - 1), both.subarray(0, c.rows * width), w)).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
    expect(call(both.subarray(c.rows * width), both.subarray(0, c.rows * width), w)).not.toThrow();
  });

  it("a row's result does not depend on the other rows: the same row alone and among others", () => {
    const c = cases[1];
    const b = batchOf(c, (n) => wasm.allocF32(n));
    const all = batched(wasm, c, b);
    const width = c.nHeads * c.headDim;
    for (const r of [0, 13, 31]) {
      const one: Batch = {
        q: b.q.slice(r * width, (r + 1) * width), keys: [b.keys[r]], values: [b.values[r]],
        lengths: b.lengths.slice(r, r + 1), positions: b.positions.slice(r, r + 1),
      };
      const alone = batched(wasm, { ...c, rows: 1 }, one);
      expect(bits(alone.attended)).toEqual(bits(all.attended.slice(r * width, (r + 1) * width)));
    }
  });

  it("rejects a length below 1, a negative position and a cache shorter than its length, with typed errors", () => {
    for (const be of [wasm, jsBackend]) {
      const x = new Float32Array(2 * 8), k = new Float32Array(4 * 8);
      expect(() => be.ropeBatch(x, 2, 1, 8, Int32Array.of(3, -1), 10000, "half")).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
      expect(() => be.ropeBatch(x, 2, 1, 8, Int32Array.of(3), 10000, "half")).toThrow(expect.objectContaining({ code: "SHAPE_MISMATCH" }));
      expect(() => be.attentionBatch(x, x, [k, k], [k, k], Int32Array.of(2, 0), 2, 1, 1, 8)).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
      expect(() => be.attentionBatch(x, x, [k, k], [k, k], Int32Array.of(2, 5), 2, 1, 1, 8)).toThrow(/keys of a row: expected at least 40 elements, found 32/);
      expect(() => be.attentionBatch(x, x, [k], [k], Int32Array.of(2, 2), 2, 1, 1, 8)).toThrow(expect.objectContaining({ code: "SHAPE_MISMATCH" }));
      expect(() => be.attentionBatch(x, x, [k, k], [k, k], Int32Array.of(2, 2), 2, 3, 2, 8)).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
    }
  });
});
