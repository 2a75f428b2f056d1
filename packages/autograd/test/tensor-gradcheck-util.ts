/**
 * Finite-difference gradient check for the tensor engine (float32 storage).
 *
 * For an op f and a fixed random cotangent R, the scalar L = Σ f(x)·R has dL/dx = Jᵀ R, which
 * backward(R) computes. The check compares it with the central difference
 * (L(x + h·e_j) − L(x − h·e_j)) / 2h, with L summed in float64. With h = 1e-2 the truncation
 * error is O(h²) ≈ 1e-4 and float32 rounding of the outputs adds ≈ 1e-4 · |L|; the tolerance
 * |analytic − numeric| ≤ atol + rtol·max(|analytic|, |numeric|) with atol 3e-3, rtol 1e-2 sits
 * above both, while a wrong rule is off by O(1).
 */
import { expect } from "vitest";
import { Rng, Tensor } from "@zero-llm/tensor";
import { Var, noGrad } from "../src/index";

export function randomTensor(shape: readonly number[], g: Rng, lo = -1, hi = 1): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = lo + (hi - lo) * g.uniform();
  return new Tensor(data, shape);
}

/** Values in ±[lo, hi]: away from 0, for ops with a kink or pole there. */
export function awayFromZero(shape: readonly number[], g: Rng, lo = 0.2, hi = 1.5): Tensor {
  const t = randomTensor(shape, g, lo, hi);
  const d = t.data;
  for (let i = 0; i < d.length; i++) if (g.uniform() < 0.5) d[i] = -d[i];
  return t;
}

export interface GradcheckOptions {
  h?: number;
  atol?: number;
  rtol?: number;
  /** Check at most this many elements per input (spread evenly), to keep big cases fast. */
  maxElements?: number;
  /** Which inputs to check (default all). */
  check?: readonly number[];
}

export function gradcheck(build: (xs: Var[]) => Var, inputs: readonly Tensor[], opts: GradcheckOptions = {}): void {
  const h = opts.h ?? 1e-2, atol = opts.atol ?? 3e-3, rtol = opts.rtol ?? 1e-2;
  const check = opts.check ?? inputs.map((_, i) => i);
  const vars = inputs.map((t) => new Var(t.clone(), { requiresGrad: true }));
  const out = build(vars);
  const cotangent = randomTensor(out.shape, new Rng(99), -1, 1);
  out.backward(cotangent);

  const loss = (): number =>
    noGrad(() => {
      const y = build(vars).data;
      const r = cotangent.data;
      let s = 0;
      for (let i = 0; i < y.length; i++) s += y[i] * r[i];
      return s;
    });

  let checked = 0;
  for (const i of check) {
    const v = vars[i];
    expect(v.grad, `input ${i} received no gradient`).not.toBeNull();
    const analytic = (v.grad as Tensor).data;
    const n = v.size;
    const stride = Math.max(1, Math.floor(n / (opts.maxElements ?? n)));
    for (let j = 0; j < n; j += stride) {
      const saved = v.data[j];
      v.data[j] = saved + h;
      const up = loss();
      v.data[j] = saved - h;
      const down = loss();
      v.data[j] = saved;
      const numeric = (up - down) / (2 * h);
      const a = analytic[j];
      const err = Math.abs(a - numeric);
      if (err > atol + rtol * Math.max(Math.abs(a), Math.abs(numeric))) {
        throw new Error(`gradcheck: input ${i} element ${j}: analytic ${a}, numeric ${numeric} (|diff| ${err})`);
      }
      checked++;
    }
  }
  expect(checked).toBeGreaterThan(0);
}
