// Helpers shared by the backend parity tests: a seeded generator and tolerance checks.
import { expect } from "vitest";

/** mulberry32: a small deterministic generator, so a failing case replays exactly. */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `length` floats uniform in [lo, hi). */
export function uniform(next: () => number, length: number, lo = -1, hi = 1): Float32Array {
  const out = new Float32Array(length);
  for (let i = 0; i < length; i++) out[i] = lo + (hi - lo) * next();
  return out;
}

/**
 * Every element within atol + rtol·|expected| (+ bound[i] when an error bound per element is
 * given, e.g. Σ|a||b| for a dot product); reports the worst element on failure.
 */
export function expectClose(
  actual: ArrayLike<number>, expected: ArrayLike<number>, atol: number, rtol: number, bound?: ArrayLike<number>,
): void {
  expect(actual.length).toBe(expected.length);
  let worst = -1, worstExcess = 0;
  for (let i = 0; i < expected.length; i++) {
    const tol = atol + rtol * Math.abs(expected[i]) + (bound ? bound[i] : 0);
    const diff = Math.abs(actual[i] - expected[i]);
    if (!(diff <= tol) && (worst < 0 || diff - tol > worstExcess)) { worst = i; worstExcess = diff - tol; }
  }
  if (worst >= 0) {
    expect.fail(`element ${worst}: expected ${expected[worst]} ± tolerance, found ${actual[worst]} (excess ${worstExcess})`);
  }
}

/**
 * Places `data` inside a larger array at an odd offset, so the kernel sees a view whose
 * byteOffset is not 16-byte aligned and whose buffer holds other data around it.
 */
export function embedded(data: Float32Array, alloc: (n: number) => Float32Array, pad = 3): Float32Array {
  const host = alloc(data.length + 2 * pad);
  host.fill(Number.NaN);
  const view = host.subarray(pad, pad + data.length);
  view.set(data);
  return view;
}
