// Every op against PyTorch: tools/fixtures/make_tensor_ops.py -> test/fixtures/tensor-ops.json.
// References are float64 computations on the same float32 inputs; ops must land within
// 1e-5 relative (plus 1e-6 absolute for values near zero).
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  Tensor, add, argmax, attentionWithProbs, div, exp, gelu, indexSelect, layerNorm, linear, log, logSoftmax,
  matmul, max, maximum, mean, min, minimum, mul, neg, pow, relu, rmsNorm, rope, sigmoid, silu, softmax, sqrt,
  sub, sum, tanh, tensor, variance, where, createWasmBackend, getBackend, jsBackend, setBackend,
} from "../src/index";
import type { Backend, IndexTensor, RopeStyle } from "../src/index";

// The whole table runs once per backend, so a fast backend is held to PyTorch through the
// Tensor layer as well as kernel by kernel (the wasm ones with their f32 sums and polynomial exp).
const backends: Array<[string, () => Promise<Backend>]> = [
  ["js", async () => jsBackend],
  ["wasm 1 thread", () => createWasmBackend({ threads: 1 })],
  ["wasm 2 threads", () => createWasmBackend({ threads: 2, parallelMinMacs: 0 })],
];

interface Encoded { shape: number[]; data: number[] }
interface Case {
  name: string;
  op: string;
  inputs: Encoded[];
  params: Record<string, unknown>;
  expected: Record<string, Encoded>;
}

const fixturePath = fileURLToPath(new URL("./fixtures/tensor-ops.json", import.meta.url));
const { cases } = JSON.parse(readFileSync(fixturePath, "utf8")) as { cases: Case[] };

const RTOL = 1e-5;
const ATOL = 1e-6;

function expectClose(name: string, got: { shape: readonly number[]; data: ArrayLike<number> }, want: Encoded): void {
  expect(got.shape, `${name}: shape`).toEqual(want.shape);
  expect(got.data.length).toBe(want.data.length);
  let worst = 0;
  for (let i = 0; i < want.data.length; i++) {
    const err = Math.abs(got.data[i] - want.data[i]) / (ATOL + RTOL * Math.abs(want.data[i]));
    if (!(err <= worst)) worst = err; // NaN-safe: a NaN error becomes the worst
  }
  expect(worst, `${name}: worst error in units of (atol + rtol·|want|)`).toBeLessThanOrEqual(1);
}

type Runner = (xs: Tensor[], p: Record<string, unknown>) => Record<string, Tensor | IndexTensor>;
const axisOf = (p: Record<string, unknown>) => p.axis as number | number[] | undefined;
const keep = (p: Record<string, unknown>) => Boolean(p.keepdim);
const one = (t: Tensor | IndexTensor) => ({ out: t });

const runners: Record<string, Runner> = {
  add: ([a, b]) => one(add(a, b)),
  sub: ([a, b]) => one(sub(a, b)),
  mul: ([a, b]) => one(mul(a, b)),
  div: ([a, b]) => one(div(a, b)),
  pow: ([a, b]) => one(pow(a, b)),
  maximum: ([a, b]) => one(maximum(a, b)),
  minimum: ([a, b]) => one(minimum(a, b)),
  neg: ([x]) => one(neg(x)),
  exp: ([x]) => one(exp(x)),
  log: ([x]) => one(log(x)),
  sqrt: ([x]) => one(sqrt(x)),
  tanh: ([x]) => one(tanh(x)),
  sigmoid: ([x]) => one(sigmoid(x)),
  relu: ([x]) => one(relu(x)),
  gelu: ([x]) => one(gelu(x)),
  silu: ([x]) => one(silu(x)),
  sum: ([x], p) => one(sum(x, axisOf(p), keep(p))),
  mean: ([x], p) => one(mean(x, axisOf(p), keep(p))),
  max: ([x], p) => one(max(x, axisOf(p), keep(p))),
  min: ([x], p) => one(min(x, axisOf(p), keep(p))),
  var: ([x], p) => one(variance(x, axisOf(p), keep(p), p.correction as number)),
  argmax: ([x], p) => one(argmax(x, p.axis as number | undefined, keep(p))),
  matmul: ([a, b]) => one(matmul(a, b)),
  linear: ([x, w, b]) => one(linear(x, w, b)),
  softmax: ([x], p) => one(softmax(x, p.axis as number)),
  logSoftmax: ([x], p) => one(logSoftmax(x, p.axis as number)),
  layerNorm: ([x, w, b], p) => one(layerNorm(x, w, b ?? null, p.eps as number)),
  rmsNorm: ([x, w], p) => one(rmsNorm(x, w, p.eps as number)),
  rope: ([x], p) => one(rope(x, p.style as RopeStyle, { pos0: p.pos0 as number, theta: p.theta as number })),
  attention: ([q, k, v]) => {
    const { output, probs } = attentionWithProbs(q, k, v);
    return { out: output, probs };
  },
  where: ([a, b]) => one(where(a.gt(0), a, b)),
  indexSelect: ([x], p) => one(indexSelect(x, p.axis as number, p.ids as number[])),
};

function asResult(t: Tensor | IndexTensor): { shape: readonly number[]; data: ArrayLike<number> } {
  return t instanceof Tensor ? { shape: t.shape, data: t.data } : t;
}

describe.each(backends)("tensor ops match PyTorch (tensor-ops.json), %s backend", (label, makeBackend) => {
  let backend: Backend;
  beforeAll(async () => {
    backend = await makeBackend();
    setBackend(backend);
  });
  afterAll(async () => {
    setBackend(jsBackend);
    if ("dispose" in backend && typeof backend.dispose === "function") await backend.dispose();
  });

  it("runs on the backend it names", () => {
    expect(getBackend()).toBe(backend);
    expect([backend.name, backend.threads]).toEqual([label.split(" ")[0], label.endsWith("2 threads") ? 2 : 1]);
  });

  it("covers every op in the fixture", () => {
    const missing = [...new Set(cases.map((c) => c.op))].filter((op) => !(op in runners));
    expect(missing).toEqual([]);
    expect(cases.length).toBeGreaterThan(50);
  });

  for (const c of cases) {
    it(c.name, () => {
      let inputs = c.inputs.map((e) => tensor(e.data, e.shape));
      // these cases feed a non-contiguous view to exercise the strided paths
      if (c.params.transposeFirst) inputs[0] = inputs[0].transpose(0, 1);
      if (c.params.transposeSecond) inputs = [inputs[0], inputs[1].transpose(0, 1), ...inputs.slice(2)];
      const results = runners[c.op](inputs, c.params);
      for (const [key, want] of Object.entries(c.expected)) expectClose(`${c.name} ${key}`, asResult(results[key]), want);
    });
  }
});
