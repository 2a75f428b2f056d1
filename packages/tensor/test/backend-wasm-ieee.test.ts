// The wasm exp-based kernels (silu, gelu, swiglu, softmax, attention) on the inputs where a
// clamped or single-scale exp goes wrong: ±inf, NaN, magnitudes past ±88 (f32 exp overflow) and
// results in the subnormal range. The js reference computes in f64 and rounds once to f32; the
// wasm kernels must give the same IEEE classes (NaN, ±inf, ±0) and values to a relative
// tolerance, with an absolute slack of two subnormal steps (2^-148: the reference rounds once
// into the subnormal grid, the kernel at most once more).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createWasmBackend, jsBackend } from "../src/backend/index";
import type { WasmBackend } from "../src/backend/index";

const SUBNORMAL_SLACK = 2 ** -148;

const special = [
  Infinity, -Infinity, NaN, 0, -0, 1, -1, 1e-40, -1e-40, 5, -5, 7, -7, 10, -10, 10.2, -10.2, 20, -20, 50, -50,
  87, -87, 87.5, -87.5, 88.5, -88.5, 88.8, -88.8, 89, -89, 95, -95, 100, -100, 103.5, -103.5, 104, -104, 108, -108,
  110, -110, 200, -200, 1e4, -1e4, 1e13, -1e13, 3e38, -3e38,
];
// a sweep across the whole range where e^x goes from overflow through subnormal to zero
const sweep = Array.from({ length: 700 }, (_, i) => -130 + i * 0.37);
const inputs = new Float32Array([...special, ...sweep]);

/** Same IEEE class and, for finite values, within rtol[i]·|expected| + SUBNORMAL_SLACK. */
function expectIeeeClose(op: string, actual: Float32Array, expected: Float32Array, rtol: (i: number) => number, label: (i: number) => string): void {
  for (let i = 0; i < expected.length; i++) {
    const want = expected[i], got = actual[i];
    const where = `${op}(${label(i)}): expected ${want}, found ${got}`;
    if (Number.isNaN(want) || !Number.isFinite(want)) {
      expect(Object.is(got, want), where).toBe(true);
      continue;
    }
    expect(Number.isFinite(got), where).toBe(true);
    expect(Math.abs(got - want) <= rtol(i) * Math.abs(want) + SUBNORMAL_SLACK, where).toBe(true);
  }
}

describe.each([
  { label: "shared memory", sharedMemory: true },
  { label: "plain memory", sharedMemory: false },
])("wasm exp kernels on ±inf, NaN and large magnitudes ($label)", ({ sharedMemory }) => {
  let wasm: WasmBackend;
  beforeAll(async () => { wasm = await createWasmBackend({ sharedMemory }); });
  afterAll(async () => { await wasm.dispose(); });
  const x = inputs;
  const label = (i: number): string => String(x[i]);

  it("silu: x / (1 + e^-x) with the reference's NaN at -inf and subnormals below -87", () => {
    const expected = new Float32Array(x.length), actual = new Float32Array(x.length);
    jsBackend.silu(expected, x);
    wasm.silu(actual, x);
    expectIeeeClose("silu", actual, expected, () => 1e-6, label);
    // the cases a clamped exp got wrong: -inf gave -inf, -100 gave -4e-37
    const at = (v: number): number => actual[x.indexOf(v)];
    expect(at(-Infinity)).toBeNaN();
    expect(Math.abs(at(-100) - Math.fround(-100 * Math.exp(-100)))).toBeLessThanOrEqual(SUBNORMAL_SLACK);
    expect(at(Infinity)).toBe(Infinity);
    expect(Object.is(at(-200), -0)).toBe(true);
  });

  it("gelu: 0.5·x·(1 + tanh u) as x·σ(2u), NaN at -inf, inf at +inf, tiny tails for x < -5", () => {
    const expected = new Float32Array(x.length), actual = new Float32Array(x.length);
    jsBackend.gelu(expected, x);
    wasm.gelu(actual, x);
    // e^z amplifies the f32 rounding of its argument z = 2u (a few ulps, ~2^-22 relative) into
    // |z|·2^-22 relative error of the result: 1e-6, growing with |z| in the far negative tail
    const z = (i: number): number => 1.5957691216057308 * (x[i] + 0.044715 * x[i] ** 3);
    expectIeeeClose("gelu", actual, expected, (i) => 2.4e-7 * Math.max(4, Math.abs(z(i))), label);
    expect(actual[x.indexOf(-Infinity)]).toBeNaN();
    expect(actual[x.indexOf(Infinity)]).toBe(Infinity);
  });

  it("swiglu: silu(gate)·up folded into one product, for up of every size and class (|up| ≤ 1e38)", () => {
    const ups = [1, -3, 1e30, 1e-30, Infinity, 0, NaN, -1e-20, 1e38];
    for (const u of ups) {
      const up = new Float32Array(x.length).fill(u);
      const expected = new Float32Array(x.length), actual = new Float32Array(x.length);
      jsBackend.swiglu(expected, x, up);
      wasm.swiglu(actual, x, up);
      expectIeeeClose(`swiglu·${u}`, actual, expected, () => 1e-6, label);
    }
  });

  it("softmax: rows with ±inf, NaN, huge spreads and subnormal probabilities", () => {
    const rows = [
      [0, -100, -1000, -Infinity, 3],
      [1, 2, Infinity, 3, 0],
      [NaN, 1, 2, 3, 4],
      [-Infinity, -Infinity, -Infinity, -Infinity, -Infinity],
      [3e38, -3e38, 0, 1, -1],
      [0, -87.5, -95, -103, -104.5],
      [-1e30, -1e30, -1e30 + 1e24, 5e29, -5e29],
      sweep.slice(0, 5),
      sweep.slice(300, 305).map((v) => v * 3),
    ];
    const cols = 5;
    // several rows per call and a column count past one vector, so body and tail both run
    for (const width of [cols, 9]) {
      const data = new Float32Array(rows.length * width).fill(-50);
      rows.forEach((r, i) => data.set(r, i * width));
      const expected = new Float32Array(data.length), actual = new Float32Array(data.length);
      jsBackend.softmax(expected, data, rows.length, width);
      wasm.softmax(actual, data, rows.length, width);
      expectIeeeClose("softmax", actual, expected, () => 2e-6, (i) => `row ${Math.floor(i / width)} col ${i % width}`);
    }
  });

  it("attention: scores that differ by hundreds give 0 and subnormal probabilities as in the reference", () => {
    const [seqQ, seqKv, nHeads, headDim] = [2, 7, 2, 4];
    const q = new Float32Array(seqQ * nHeads * headDim), k = new Float32Array(seqKv * nHeads * headDim);
    const v = new Float32Array(k.length).map((_, i) => Math.sin(i));
    // q = 1, k_t = c_t: score_t = c_t·headDim/√headDim = 2c_t, from 0 down to -120, so e^(s - max)
    // spans 1 … 0 through the subnormal range (scores -87.3 … -103.9)
    q.fill(1);
    const c = [0, -15, -30, -45, -47.5, -50, -60];
    for (let t = 0; t < seqKv; t++) k.fill(c[t], t * nHeads * headDim, (t + 1) * nHeads * headDim);
    const expected = new Float32Array(q.length), actual = new Float32Array(q.length);
    const probs = new Float32Array(nHeads * seqQ * seqKv), wasmProbs = new Float32Array(probs.length);
    jsBackend.attention(expected, q, k, v, seqQ, seqKv, nHeads, nHeads, headDim, { probs });
    wasm.attention(actual, q, k, v, seqQ, seqKv, nHeads, nHeads, headDim, { probs: wasmProbs });
    expect(probs.some((p) => p > 0 && p < 2 ** -126)).toBe(true); // the case is in the subnormal range
    expectIeeeClose("attention probs", wasmProbs, probs, () => 2e-6, (i) => `p[${i}]`);
    expectIeeeClose("attention out", actual, expected, () => 2e-6, (i) => `out[${i}]`);
  });
});
