// linearGroup: linear() of two or three weights over the same rows in one call (a block's q, k,
// v; its gate and up), each output linear()'s bits, the parts crossing from one weight to the next.
//
// linearEach: linear() whose rows are handed to a callback as they are finished while the pool's
// workers compute the next ones (a decode step samples its first logits while the lm_head goes
// on). The same bits as linear(), consecutive ranges in order covering every row, each range
// final when it is handed over, kernels callable from the callback, and the worker really woken:
// the callback of the first rows waits for the last rows, which only a worker can compute then.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createWasmBackend, jsBackend, type Backend, type WasmBackend } from "../src/backend/index";
import { F32Linear, projectEach } from "../src/linear/linear-weight";
import { F32LinearGroup } from "../src/linear/linear-group";
import { rng, uniform } from "./backend-helpers";

const bits = (a: Float32Array): number[] => Array.from(new Uint32Array(Float32Array.from(a).buffer));

/** x [rows, k], w [n, k] in wasm memory (or plain arrays) and linear()'s result for them. */
function operands(be: Backend, rows: number, k: number, n: number, inWasm: boolean) {
  const next = rng(rows * 7919 + k * 31 + n);
  const place = (data: Float32Array): Float32Array => {
    if (!inWasm) return data;
    const copy = be.allocF32(data.length);
    copy.set(data);
    return copy;
  };
  const x = place(uniform(next, rows * k)), w = place(uniform(next, n * k));
  const expected = new Float32Array(rows * n);
  be.linear(expected, x, w, rows, k, n);
  const out = inWasm ? be.allocF32(rows * n) : new Float32Array(rows * n);
  out.fill(Number.NaN);
  return { x, w, out, expected };
}

/** linearEach over the operands, checking each range as it is handed over; returns the ranges. */
function runEach(be: Backend, rows: number, k: number, n: number, inWasm: boolean, during?: () => void): Array<[number, number]> {
  const { x, w, out, expected } = operands(be, rows, k, n, inWasm);
  const ranges: Array<[number, number]> = [];
  const linearEach = be.linearEach?.bind(be) ?? ((o, xs, ws, r, kk, nn, each) => projectEach(new F32Linear(ws, nn, kk, be), o, xs, r, each));
  linearEach(out, x, w, rows, k, n, (r0, r1) => {
    ranges.push([r0, r1]);
    // the rows handed over are final now, whatever the other threads are still doing
    expect(bits(out.subarray(r0 * n, r1 * n))).toEqual(bits(expected.subarray(r0 * n, r1 * n)));
    during?.();
  });
  expect(bits(out)).toEqual(bits(expected));
  return ranges;
}

/** The ranges cover [0, rows) in order, each starting where the last ended. */
function expectCovering(ranges: Array<[number, number]>, rows: number): void {
  expect(ranges.length).toBeGreaterThan(0);
  expect(ranges[0][0]).toBe(0);
  for (let i = 1; i < ranges.length; i++) expect(ranges[i][0]).toBe(ranges[i - 1][1]);
  expect(ranges[ranges.length - 1][1]).toBe(rows);
  for (const [r0, r1] of ranges) expect(r1).toBeGreaterThan(r0);
}

// rows below, at and past the split's minimum, odd tails, and the embedded model's lm_head
const shapes: Array<[number, number, number]> = [[1, 37, 5], [7, 37, 33], [8, 128, 64], [9, 19, 130], [32, 128, 2048], [33, 128, 70]];

describe.each([1, 2])("wasm linearEach, %i thread(s)", (threads) => {
  let wasm: WasmBackend;
  beforeAll(async () => {
    wasm = await createWasmBackend({ threads, parallelMinMacs: 0 }); // every product split
  });
  afterAll(async () => {
    await wasm.dispose();
  });

  for (const [rows, k, n] of shapes) {
    it(`[${rows},${k}]·[${n},${k}]ᵀ: linear()'s bits, in ordered ranges that are final when handed over`, () => {
      expectCovering(runEach(wasm, rows, k, n, true), rows);
      expectCovering(runEach(wasm, rows, k, n, false), rows); // arrays outside wasm memory
    });
  }

  it("splits a batch into several ranges when there are workers to compute the next rows", () => {
    const ranges = runEach(wasm, 32, 128, 256, true);
    expect(ranges.length).toBe(threads > 1 ? 8 : 1);
  });

  it("lets the callback call other kernels (which finish the product first) and keeps serving", () => {
    const next = rng(3);
    const a = uniform(next, 5 * 9), b = uniform(next, 9 * 4);
    const expected = new Float32Array(5 * 4), got = new Float32Array(5 * 4);
    jsBackend.matmul(expected, a, b, 5, 9, 4);
    let calls = 0;
    expectCovering(runEach(wasm, 32, 64, 96, true, () => {
      if (calls++ === 0) wasm.matmul(got, a, b, 5, 9, 4);
    }), 32);
    for (let i = 0; i < got.length; i++) expect(got[i]).toBeCloseTo(expected[i], 5);
    expectCovering(runEach(wasm, 16, 64, 96, true), 16);
  });

  it("rethrows the callback's error once the product is over, and the next call works", () => {
    const { x, w, out } = operands(wasm, 24, 32, 80, true);
    expect(() => wasm.linearEach(out, x, w, 24, 32, 80, () => {
      throw new RangeError("from the callback");
    })).toThrow(RangeError);
    expectCovering(runEach(wasm, 24, 32, 80, true), 24);
  });

  it("rejects arrays shorter than the shape", () => {
    expect(() => wasm.linearEach(new Float32Array(4), new Float32Array(6), new Float32Array(5), 2, 3, 2, () => {}))
      .toThrow(expect.objectContaining({ code: "SHAPE_MISMATCH" }));
  });
});

describe("wasm linearEach with a sleeping worker", () => {
  let wasm: WasmBackend;
  beforeAll(async () => {
    // spin 0: the worker sleeps right after each job, so every job has to wake it
    wasm = await createWasmBackend({ threads: 2, parallelMinMacs: 0, spin: 0 });
  });
  afterAll(async () => {
    await wasm.dispose();
  });

  it("wakes the worker: while the caller holds the first rows, the worker finishes the last ones", () => {
    const rows = 32, k = 64, n = 512;
    for (let round = 0; round < 5; round++) {
      const { x, w, out, expected } = operands(wasm, rows, k, n, true);
      // the last output of the last row: its part writes it last
      const lastBits = new Int32Array(out.buffer, out.byteOffset + (rows * n - 1) * 4, 1);
      const unwritten = lastBits[0]; // the NaN fill's bits
      let first = true;
      wasm.linearEach(out, x, w, rows, k, n, () => {
        if (!first) return;
        first = false;
        // the calling thread is here, not computing: only the worker can write the last row. A
        // worker left asleep never does, and this fails at the bound (far past any scheduling delay).
        const deadline = Date.now() + 20_000;
        while (Atomics.load(lastBits, 0) === unwritten && Date.now() < deadline);
        expect(out[rows * n - 1]).toBe(expected[rows * n - 1]);
      });
      expect(bits(out)).toEqual(bits(expected));
    }
  });
});

describe("projectEach", () => {
  it("projects with a weight that has no projectEach, then hands over every row at once", () => {
    const next = rng(11);
    const w = uniform(next, 6 * 4), x = uniform(next, 3 * 4);
    const base = new F32Linear(w, 6, 4, jsBackend);
    const plain = { outFeatures: 6, inFeatures: 4, type: "test", byteLength: 96, project: base.project.bind(base) };
    const y = new Float32Array(18), expected = new Float32Array(18), ranges: Array<[number, number]> = [];
    projectEach(plain, y, x, 3, (r0, r1) => ranges.push([r0, r1]));
    jsBackend.linear(expected, x, w, 3, 4, 6);
    expect(bits(y)).toEqual(bits(expected));
    expect(ranges).toEqual([[0, 3]]);
    const none: Array<[number, number]> = [];
    projectEach(plain, y, x, 0, (r0, r1) => none.push([r0, r1]));
    expect(none).toEqual([]);
  });
});

/** The pool configurations the fused calls must give the same bits on: no split, every job split, the default split. */
const POOL_SPLITS = [
  { label: "1 thread", threads: 1, parallelMinMacs: undefined },
  { label: "2 threads, every job split", threads: 2, parallelMinMacs: 0 },
  { label: "2 threads", threads: 2, parallelMinMacs: undefined },
];

// [rows, k, widths]: the embedded model's q/k/v (128, 64, 64) and gate/up (384, 384), widths
// that are not multiples of 4 (a part's quads then cross into the next weight mid-way), 1 row
describe.each(POOL_SPLITS)("wasm linearGroup, $label", ({ threads, parallelMinMacs }) => {
  let wasm: WasmBackend;
  beforeAll(async () => {
    wasm = await createWasmBackend({ threads, ...(parallelMinMacs === undefined ? {} : { parallelMinMacs }) });
  });
  afterAll(async () => {
    await wasm.dispose();
  });

  const cases: Array<[number, number, number[]]> = [
    [32, 128, [128, 64, 64]], [32, 128, [384, 384]], [1, 128, [128, 64, 64]], [3, 37, [5, 3, 9]], [9, 19, [130, 7]], [33, 128, [1, 2, 3]],
  ];
  for (const [rows, k, widths] of cases) {
    it(`[${rows},${k}] through weights of ${widths.join(", ")} outputs: each linear()'s bits`, () => {
      const next = rng(rows * 101 + k + widths.reduce((a, b) => a * 7 + b, 0));
      const inWasm = (data: Float32Array): Float32Array => {
        const copy = wasm.allocF32(data.length);
        copy.set(data);
        return copy;
      };
      const x = inWasm(uniform(next, rows * k));
      const ws = widths.map((n) => inWasm(uniform(next, n * k)));
      const expected = widths.map((n, i) => {
        const y = new Float32Array(rows * n);
        wasm.linear(y, x, ws[i], rows, k, n);
        return y;
      });
      const outs = widths.map((n) => wasm.allocF32(rows * n).fill(Number.NaN));
      wasm.linearGroup(x, rows, k, ws, widths, outs);
      outs.forEach((y, i) => expect(bits(y)).toEqual(bits(expected[i])));
      // arrays outside wasm memory: copied in and out
      const foreign = widths.map((n) => new Float32Array(rows * n));
      wasm.linearGroup(Float32Array.from(x), rows, k, ws.map((w) => Float32Array.from(w)), widths, foreign);
      foreign.forEach((y, i) => expect(bits(y)).toEqual(bits(expected[i])));
      // the same through F32LinearGroup
      const group = F32LinearGroup.of(ws.map((w, i) => new F32Linear(w, widths[i], k, wasm)));
      expect(group).not.toBeNull();
      const viaGroup = widths.map((n) => wasm.allocF32(rows * n));
      group?.project(x, rows, viaGroup[0], viaGroup[1], viaGroup[2]);
      viaGroup.forEach((y, i) => expect(bits(y)).toEqual(bits(expected[i])));
    });
  }

  it("rejects outputs or widths that do not match the weights, and arrays shorter than the shape", () => {
    const w = wasm.allocF32(8 * 4), x = wasm.allocF32(2 * 4), y = wasm.allocF32(2 * 8);
    expect(() => wasm.linearGroup(x, 2, 4, [w, w], [8], [y, y])).toThrow(expect.objectContaining({ code: "SHAPE_MISMATCH" }));
    expect(() => wasm.linearGroup(x, 2, 4, [w, w], [8, 8], [y, new Float32Array(3)])).toThrow(expect.objectContaining({ code: "SHAPE_MISMATCH" }));
    expect(() => wasm.linearGroup(x, 3, 4, [w], [8], [y])).toThrow(expect.objectContaining({ code: "SHAPE_MISMATCH" }));
  });
});

describe("F32LinearGroup.of", () => {
  it("groups only f32 weights of one backend with linearGroup and one input width", async () => {
    const wasm = await createWasmBackend({ threads: 1 });
    try {
      const a = new F32Linear(new Float32Array(8), 2, 4, wasm), b = new F32Linear(new Float32Array(12), 3, 4, wasm);
      expect(F32LinearGroup.of([a, b])).not.toBeNull();
      expect(F32LinearGroup.of([a])).toBeNull();
      expect(F32LinearGroup.of([a, new F32Linear(new Float32Array(10), 2, 5, wasm)])).toBeNull();
      expect(F32LinearGroup.of([a, new F32Linear(new Float32Array(8), 2, 4, jsBackend)])).toBeNull();
      expect(F32LinearGroup.of([new F32Linear(new Float32Array(8), 2, 4, jsBackend), new F32Linear(new Float32Array(8), 2, 4, jsBackend)])).toBeNull();
      const wrapped = { outFeatures: 3, inFeatures: 4, type: "f32", byteLength: 48, project: b.project.bind(b) };
      expect(F32LinearGroup.of([a, wrapped])).toBeNull();
      const group = F32LinearGroup.of([a, b, a]);
      expect(() => group?.project(new Float32Array(4), 1, new Float32Array(2), new Float32Array(3))).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
    } finally {
      await wasm.dispose();
    }
  });
});

// linearSwiglu: a SwiGLU MLP's gate and up projections with the SwiGLU applied in the same job,
// on the thread that computed each output. It must be the bits of linearGroup then swiglu for any
// split: the embedded model's 384 outputs, widths that are not multiples of 4 (a part's last quad
// is short), odd row counts, 1 row (the decode kernel), inputs that are not multiples of 4.
describe.each(POOL_SPLITS)("wasm linearSwiglu, $label", ({ threads, parallelMinMacs }) => {
  let wasm: WasmBackend;
  beforeAll(async () => {
    wasm = await createWasmBackend({ threads, ...(parallelMinMacs === undefined ? {} : { parallelMinMacs }) });
  });
  afterAll(async () => {
    await wasm.dispose();
  });

  /** x [rows, k] and the two weights [n, k] in wasm memory, scaled so SwiGLU sees both signs and its tails. */
  function operandsOf(rows: number, k: number, n: number) {
    const next = rng(rows * 131 + k * 17 + n);
    const inWasm = (data: Float32Array): Float32Array => {
      const copy = wasm.allocF32(data.length);
      copy.set(data.map((v) => v * 6));
      return copy;
    };
    return { x: inWasm(uniform(next, rows * k)), wGate: inWasm(uniform(next, n * k)), wUp: inWasm(uniform(next, n * k)) };
  }

  /** linearGroup then swiglu: what the fused call must give. */
  function unfused(x: Float32Array, wGate: Float32Array, wUp: Float32Array, rows: number, k: number, n: number) {
    const gate = wasm.allocF32(rows * n), up = wasm.allocF32(rows * n);
    wasm.linearGroup(x, rows, k, [wGate, wUp], [n, n], [gate, up]);
    wasm.swiglu(gate, gate, up);
    return { out: Float32Array.from(gate), up: Float32Array.from(up) };
  }

  const cases: Array<[number, number, number]> = [[32, 128, 384], [1, 128, 384], [33, 37, 38], [7, 19, 5], [2, 128, 3], [32, 130, 70]];
  for (const [rows, k, n] of cases) {
    it(`[${rows},${k}] through gate and up of ${n} outputs: linearGroup's then swiglu's bits`, () => {
      const { x, wGate, wUp } = operandsOf(rows, k, n);
      const expected = unfused(x, wGate, wUp, rows, k, n);
      const out = wasm.allocF32(rows * n).fill(Number.NaN), up = wasm.allocF32(rows * n).fill(Number.NaN);
      wasm.linearSwiglu(out, up, x, wGate, wUp, rows, k, n);
      expect(bits(out)).toEqual(bits(expected.out));
      expect(bits(up)).toEqual(bits(expected.up));
      // arrays outside wasm memory: copied in and out
      const foreignOut = new Float32Array(rows * n), foreignUp = new Float32Array(rows * n);
      wasm.linearSwiglu(foreignOut, foreignUp, Float32Array.from(x), Float32Array.from(wGate), Float32Array.from(wUp), rows, k, n);
      expect(bits(foreignOut)).toEqual(bits(expected.out));
      expect(bits(foreignUp)).toEqual(bits(expected.up));
      // through F32LinearGroup, with the backend's linearSwiglu and without it (project, then swiglu)
      const group = F32LinearGroup.of([new F32Linear(wGate, n, k, wasm), new F32Linear(wUp, n, k, wasm)]);
      const viaGroup = wasm.allocF32(rows * n), viaGroupUp = wasm.allocF32(rows * n);
      group?.projectSwiglu(x, rows, viaGroup, viaGroupUp);
      expect(bits(viaGroup)).toEqual(bits(expected.out));
      const withoutFused: WasmBackend = Object.create(wasm, { linearSwiglu: { value: undefined } });
      const plainGroup = F32LinearGroup.of([new F32Linear(wGate, n, k, withoutFused), new F32Linear(wUp, n, k, withoutFused)]);
      const viaPlain = wasm.allocF32(rows * n), viaPlainUp = wasm.allocF32(rows * n);
      plainGroup?.projectSwiglu(x, rows, viaPlain, viaPlainUp);
      expect(bits(viaPlain)).toEqual(bits(expected.out));
    });
  }

  it("writes swiglu of zeros when there are no inputs, and nothing for 0 rows", () => {
    const w = wasm.allocF32(0), out = wasm.allocF32(2 * 3).fill(Number.NaN), up = wasm.allocF32(2 * 3).fill(Number.NaN);
    wasm.linearSwiglu(out, up, wasm.allocF32(0), w, w, 2, 0, 3);
    const zeros = wasm.allocF32(6);
    const expected = wasm.allocF32(6);
    wasm.swiglu(expected, zeros, zeros);
    expect(bits(out)).toEqual(bits(expected));
    expect(bits(up)).toEqual(bits(zeros));
    const untouched = wasm.allocF32(4).fill(7);
    wasm.linearSwiglu(untouched, untouched.subarray(2), wasm.allocF32(0), wasm.allocF32(8), wasm.allocF32(8), 0, 4, 2);
    expect(Array.from(untouched)).toEqual([7, 7, 7, 7]);
  });

  it("rejects arrays shorter than the shape, and a group that is not one gate and one up", () => {
    const w = wasm.allocF32(8 * 4), x = wasm.allocF32(2 * 4), y = wasm.allocF32(2 * 8);
    expect(() => wasm.linearSwiglu(y, new Float32Array(3), x, w, w, 2, 4, 8)).toThrow(expect.objectContaining({ code: "SHAPE_MISMATCH" }));
    expect(() => wasm.linearSwiglu(y, y, x, w, new Float32Array(5), 2, 4, 8)).toThrow(expect.objectContaining({ code: "SHAPE_MISMATCH" }));
    expect(() => wasm.linearSwiglu(y, y, x, w, w, 3, 4, 8)).toThrow(expect.objectContaining({ code: "SHAPE_MISMATCH" }));
    const three = F32LinearGroup.of([new F32Linear(w, 8, 4, wasm), new F32Linear(w, 8, 4, wasm), new F32Linear(w, 8, 4, wasm)]);
    expect(() => three?.projectSwiglu(x, 2, y, y)).toThrow(expect.objectContaining({ code: "SHAPE_MISMATCH" }));
    const uneven = F32LinearGroup.of([new F32Linear(w, 8, 4, wasm), new F32Linear(wasm.allocF32(4 * 4), 4, 4, wasm)]);
    expect(() => uneven?.projectSwiglu(x, 2, y, y)).toThrow(expect.objectContaining({ code: "SHAPE_MISMATCH" }));
  });
});
