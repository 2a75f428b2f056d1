import { AutogradError } from "../errors";
import { Rng } from "@zero-llm/tensor";

/** Small 2-D classification datasets generated in code (no files, reproducible by seed). */

export interface Dataset2D {
  /** Points [x, y]. */
  inputs: [number, number][];
  /** Class labels −1 or +1 (the convention of a margin/hinge loss on one score). */
  labels: (-1 | 1)[];
}

export interface MoonsOptions {
  /** Standard deviation of Gaussian noise added to each coordinate. Default 0.1. */
  noise?: number;
  rng?: Rng;
}

/**
 * Two interleaving half circles (the shape of scikit-learn's make_moons). The first half of the
 * points lie on the upper arc (cos t, sin t), label −1; the second half on the lower arc
 * (1 − cos t, 0.5 − sin t), label +1; t evenly spaced over [0, π] on each arc.
 */
export function makeMoons(n: number, options: MoonsOptions = {}): Dataset2D {
  if (!Number.isInteger(n) || n < 2) {
    throw new AutogradError("AUTOGRAD_BAD_ARGUMENT", `makeMoons: expected an integer number of points ≥ 2, found ${n}`);
  }
  const noise = options.noise ?? 0.1;
  if (!Number.isFinite(noise) || noise < 0) {
    throw new AutogradError("AUTOGRAD_BAD_ARGUMENT", `makeMoons: expected noise ≥ 0, found ${noise}`);
  }
  const rng = options.rng ?? new Rng(0);
  const nOuter = Math.floor(n / 2);
  const nInner = n - nOuter;
  const inputs: [number, number][] = [];
  const labels: (-1 | 1)[] = [];
  const arcParam = (i: number, count: number): number => (count === 1 ? 0 : (Math.PI * i) / (count - 1));
  for (let i = 0; i < nOuter; i++) {
    const t = arcParam(i, nOuter);
    inputs.push([Math.cos(t), Math.sin(t)]);
    labels.push(-1);
  }
  for (let i = 0; i < nInner; i++) {
    const t = arcParam(i, nInner);
    inputs.push([1 - Math.cos(t), 0.5 - Math.sin(t)]);
    labels.push(1);
  }
  if (noise > 0) {
    for (const p of inputs) {
      p[0] += rng.normal(0, noise);
      p[1] += rng.normal(0, noise);
    }
  }
  return { inputs, labels };
}
