// Parity of the wasm row-wise, rope, attention and elementwise kernels with the js reference.
// Tolerances: exp is a polynomial with ≈1e-7 relative error and sums run in f32 lanes, so
// softmax/attention/silu/gelu agree to a few 1e-7 relative; norms to ~1e-6.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createWasmBackend, jsBackend } from "../src/backend/index";
import type { WasmBackend } from "../src/backend/index";
import { embedded, expectClose, rng, uniform } from "./backend-helpers";

const configs = [
  { label: "1 thread", threads: 1, sharedMemory: true },
  { label: "2 threads", threads: 2, sharedMemory: true },
  { label: "1 thread, plain memory", threads: 1, sharedMemory: false },
];

// Seeded random shapes with odd sizes, beside the hand-picked ones (the same on every run).
const shapeRng = rng(20261202);
const odd = (lo: number, hi: number): number => lo + 2 * Math.floor(shapeRng() * ((hi - lo) / 2 + 1));

const rowShapes: Array<[number, number]> = [
  [1, 1], [1, 3], [2, 4], [3, 5], [5, 17], [4, 288], [3, 1027], ...Array.from({ length: 4 }, (): [number, number] => [odd(1, 9), odd(1, 777)]),
];
const ropeCases: Array<[number, number, number, number, number]> = [
  [1, 1, 2, 0, 10000], [3, 2, 6, 5, 10000], [4, 6, 48, 1000, 500000],
  ...Array.from({ length: 3 }, (): [number, number, number, number, number] => [odd(1, 9), odd(1, 7), 2 * odd(1, 41), odd(1, 2001), 10000]),
];
// [seqQ, seqKv, nHeads, nKvHeads, headDim, extra floats per KV-cache row]
const attentionCases: Array<[number, number, number, number, number, number]> = [
  [1, 1, 1, 1, 4, 0], [1, 17, 6, 2, 6, 0], [5, 5, 4, 4, 8, 0], [3, 19, 6, 3, 16, 5],
  [1, 300, 12, 12, 64, 0], [7, 40, 8, 2, 33, 7], [16, 16, 6, 6, 48, 0],
  ...Array.from({ length: 4 }, (): [number, number, number, number, number, number] => {
    const seqQ = odd(1, 11), nKvHeads = odd(1, 3);
    return [seqQ, seqQ + odd(1, 61) - 1, nKvHeads * odd(1, 5), nKvHeads, odd(1, 67), odd(1, 9) - 1];
  }),
];
const lengths = [0, 1, 3, 4, 5, 16, 1027, odd(5, 99), odd(101, 2049)];

describe.each(configs)("wasm nn kernels ($label)", ({ threads, sharedMemory }) => {
  let wasm: WasmBackend;
  beforeAll(async () => { wasm = await createWasmBackend({ threads, sharedMemory, parallelMinMacs: 0 }); });
  afterAll(async () => { await wasm.dispose(); });
  const owned = (len: number): Float32Array => wasm.allocF32(len);

  for (const [rows, cols] of rowShapes) {
    it(`softmax [${rows},${cols}], in place and out of place`, () => {
      const x = uniform(rng(rows * 31 + cols), rows * cols, -30, 30);
      const expected = new Float32Array(rows * cols);
      jsBackend.softmax(expected, x, rows, cols);
      const out = owned(rows * cols);
      wasm.softmax(out, embedded(x, owned), rows, cols);
      expectClose(out, expected, 1e-9, 2e-6);
      const inPlace = embedded(x, (len) => new Float32Array(len));
      wasm.softmax(inPlace, inPlace, rows, cols);
      expectClose(inPlace, expected, 1e-9, 2e-6);
    });

    it(`rmsnorm and layernorm [${rows},${cols}]`, () => {
      const next = rng(rows * 37 + cols);
      const x = uniform(next, rows * cols, -3, 3), weight = uniform(next, cols), bias = uniform(next, cols);
      const expected = new Float32Array(rows * cols), out = owned(rows * cols);
      jsBackend.rmsnorm(expected, x, weight, rows, cols, 1e-5);
      wasm.rmsnorm(out, embedded(x, owned), weight, rows, cols, 1e-5);
      expectClose(out, expected, 1e-6, 2e-6);
      for (const b of [bias, null]) {
        jsBackend.layernorm(expected, x, weight, b, rows, cols, 1e-5);
        wasm.layernorm(out, x, embedded(weight, owned), b, rows, cols, 1e-5);
        expectClose(out, expected, 2e-6, 4e-6);
      }
    });
  }

  for (const style of ["interleaved", "half"] as const) {
    for (const [seq, nHeads, headDim, pos0, theta] of ropeCases) {
      it(`rope ${style} seq ${seq} heads ${nHeads} headDim ${headDim} pos ${pos0}`, () => {
        const x = uniform(rng(seq * 13 + headDim + pos0), seq * nHeads * headDim);
        const expected = x.slice();
        jsBackend.rope(expected, seq, nHeads, headDim, pos0, theta, style);
        const inWasm = embedded(x, owned);
        wasm.rope(inWasm, seq, nHeads, headDim, pos0, theta, style);
        expectClose(inWasm, expected, 1e-6, 1e-6);
        const foreign = x.slice();
        wasm.rope(foreign, seq, nHeads, headDim, pos0, theta, style);
        expectClose(foreign, expected, 1e-6, 1e-6);
      });
    }
  }

  it("rope's angle table grows with the positions asked for (one position at a time, then a jump)", () => {
    // the same (theta, headDim) as a decode loop: the table's rows are computed 32 first, then
    // doubling as calls reach them; it is reallocated (computed rows copied) past its 256
    for (const pos0 of [0, 1, 30, 31, 32, 33, 70, 255, 256, 257, 5000, 3]) {
      const x = uniform(rng(pos0 + 77), 2 * 4 * 16);
      const expected = x.slice();
      jsBackend.rope(expected, 2, 4, 16, pos0, 10000, "interleaved");
      const inWasm = embedded(x, owned);
      wasm.rope(inWasm, 2, 4, 16, pos0, 10000, "interleaved");
      expectClose(inWasm, expected, 1e-6, 1e-6);
    }
  });

  it("rope rejects a negative or fractional start position", () => {
    const x = owned(8);
    expect(() => wasm.rope(x, 1, 1, 8, -1, 10000, "half")).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
    expect(() => wasm.rope(x, 1, 1, 8, 0.5, 10000, "half")).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
  });

  for (const [seqQ, seqKv, nHeads, nKvHeads, headDim, extra] of attentionCases) {
    it(`attention seqQ ${seqQ} seqKv ${seqKv} heads ${nHeads}/${nKvHeads} headDim ${headDim} kvStride +${extra}`, () => {
      const next = rng(seqQ * 101 + seqKv * 7 + headDim + extra);
      const kvStride = nKvHeads * headDim + extra;
      const q = uniform(next, seqQ * nHeads * headDim, -2, 2);
      const k = uniform(next, seqKv * kvStride, -2, 2), v = uniform(next, seqKv * kvStride);
      const expected = new Float32Array(seqQ * nHeads * headDim);
      const expectedProbs = new Float32Array(nHeads * seqQ * seqKv);
      jsBackend.attention(expected, q, k, v, seqQ, seqKv, nHeads, nKvHeads, headDim, { kvStride, probs: expectedProbs });
      const out = owned(expected.length);
      wasm.attention(out, embedded(q, owned), embedded(k, owned), v, seqQ, seqKv, nHeads, nKvHeads, headDim, { kvStride });
      expectClose(out, expected, 1e-6, 2e-6);
      const probs = new Float32Array(expectedProbs.length).fill(Number.NaN);
      const out2 = new Float32Array(expected.length);
      wasm.attention(out2, q, k, v, seqQ, seqKv, nHeads, nKvHeads, headDim, { kvStride, probs });
      expectClose(out2, expected, 1e-6, 2e-6);
      expectClose(probs, expectedProbs, 1e-8, 2e-6);
    });
  }

  // A prefill computes query i over keys 0…pos(i); a decode step computes the same query alone over
  // the same keys. The kernel's blocked forms (four keys' scores at once, 16 value rows per block)
  // depend only on the query's own key count, so both must be the same bits.
  for (const [seqQ, nHeads, nKvHeads, headDim] of [[37, 4, 2, 32], [21, 6, 3, 48], [9, 2, 1, 12], [19, 3, 3, 7], [6, 2, 1, 128]]) {
    it(`attention: each query of a ${seqQ}-row prefill equals it decoded alone, bit for bit (heads ${nHeads}/${nKvHeads}×${headDim})`, () => {
      const next = rng(seqQ * 13 + headDim);
      const kvDim = nKvHeads * headDim;
      const q = uniform(next, seqQ * nHeads * headDim, -2, 2);
      const k = uniform(next, seqQ * kvDim, -2, 2), v = uniform(next, seqQ * kvDim);
      const all = owned(q.length);
      wasm.attention(all, q, k, v, seqQ, seqQ, nHeads, nKvHeads, headDim);
      const one = owned(nHeads * headDim);
      for (let i = 0; i < seqQ; i++) {
        wasm.attention(one, q.subarray(i * nHeads * headDim, (i + 1) * nHeads * headDim), k, v, 1, i + 1, nHeads, nKvHeads, headDim);
        expect(Array.from(new Uint32Array(Float32Array.from(one).buffer))).toEqual(
          Array.from(new Uint32Array(all.slice(i * nHeads * headDim, (i + 1) * nHeads * headDim).buffer)),
        );
      }
    });
  }

  for (const len of lengths) {
    it(`elementwise add mul silu gelu swiglu, length ${len}`, () => {
      const next = rng(len + 3);
      const a = uniform(next, len, -12, 12), b = uniform(next, len, -12, 12);
      if (len >= 5) { a[0] = 95; a[1] = -95; a[2] = 0; a[3] = 1e-8; a[4] = -40; }
      const cases: Array<[string, (be: typeof jsBackend, out: Float32Array) => void, number, number]> = [
        ["add", (be, out) => be.add(out, a, b), 0, 0],
        ["mul", (be, out) => be.mul(out, a, b), 0, 0],
        ["silu", (be, out) => be.silu(out, a), 1e-7, 1e-6],
        ["gelu", (be, out) => be.gelu(out, a), 1e-6, 1e-6],
        ["swiglu", (be, out) => be.swiglu(out, a, b), 1e-6, 1e-6],
      ];
      for (const [name, run, atol, rtol] of cases) {
        const expected = new Float32Array(len);
        run(jsBackend, expected);
        const out = embedded(new Float32Array(len), owned);
        run(wasm, out);
        expect(name).toBeTruthy();
        expectClose(out, expected, atol, rtol);
      }
      // out aliasing an input, in wasm memory
      const x = embedded(a, owned);
      wasm.add(x, x, b);
      const expected = new Float32Array(len);
      jsBackend.add(expected, a, b);
      expectClose(x, expected, 0, 0);
    });
  }
});

describe("wasm backend memory and lifecycle", () => {
  it("allocF32 is zero-filled, reuses freed blocks, and survives memory growth", async () => {
    const wasm = await createWasmBackend({ initialMemoryMB: 1 });
    const first = wasm.allocF32(1000);
    expect(first.every((v) => v === 0)).toBe(true);
    first.fill(7);
    wasm.free(first);
    const again = wasm.allocF32(1000);
    expect(again.every((v) => v === 0)).toBe(true);
    const keep = wasm.allocF32(300);
    keep.fill(2);
    const big = wasm.allocF32(8 << 20); // 32 MiB: forces the memory to grow
    expect(big.length).toBe(8 << 20);
    expect(keep.every((v) => v === 2)).toBe(true);
    const out = wasm.allocF32(300);
    wasm.add(out, keep, keep);
    expect(out.every((v) => v === 4)).toBe(true);
    await wasm.dispose();
  });

  it("a plain (non-shared) memory refuses to grow rather than detach arrays", async () => {
    const wasm = await createWasmBackend({ sharedMemory: false, initialMemoryMB: 1 });
    expect(wasm.sharedMemory).toBe(false);
    expect(() => wasm.allocF32(1 << 20)).toThrow(expect.objectContaining({ code: "OUT_OF_MEMORY" }));
    await wasm.dispose();
  });

  it("a shared memory grows up to maximumMemoryMB and no further", async () => {
    const wasm = await createWasmBackend({ initialMemoryMB: 1, maximumMemoryMB: 4 });
    expect(wasm.sharedMemory).toBe(true);
    const fits = wasm.allocF32(512 * 1024); // 2 MiB: grows past the initial 1 MiB
    expect(fits.length).toBe(512 * 1024);
    expect(() => wasm.allocF32(1 << 20)).toThrow(expect.objectContaining({ code: "OUT_OF_MEMORY" }));
    await wasm.dispose();
  });

  it("rejects bad thread counts and calls after dispose", async () => {
    await expect(createWasmBackend({ threads: 0 })).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
    await expect(createWasmBackend({ threads: 2, sharedMemory: false })).rejects.toMatchObject({ code: "WASM_UNAVAILABLE" });
    const wasm = await createWasmBackend({ threads: 2 });
    await wasm.dispose();
    expect(() => wasm.add(new Float32Array(1), new Float32Array(1), new Float32Array(1)))
      .toThrow(expect.objectContaining({ code: "BACKEND_DISPOSED" }));
  });
});
