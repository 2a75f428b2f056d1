/**
 * Reductions along any set of axes. Each one is the same three steps: move the reduced axes
 * to the end (a permute: free), make that contiguous (one copy at most), then reduce each row
 * of `reduced` consecutive values. Sums accumulate in float64, so they are at least as exact
 * as PyTorch's float32 pairwise sums.
 */
import { TensorError, formatShape } from "../errors";
import { Tensor } from "../tensor/tensor";
import { normalizeAxis, sizeOf } from "../tensor/shape";
import { permute } from "./view";

/** An integer tensor of indices (argmax results, token ids): row-major Int32Array + shape. */
export interface IndexTensor {
  readonly shape: readonly number[];
  readonly data: Int32Array;
}

interface Rows {
  /** [outer, reduced] row-major values. */
  values: Float32Array;
  outer: number;
  reduced: number;
  /** Shape of the result (with or without the size-1 axes, per keepdim). */
  outShape: number[];
}

function toRows(op: string, x: Tensor, axis: number | readonly number[] | undefined, keepdim: boolean): Rows {
  const axes = axis === undefined
    ? x.shape.map((_, i) => i)
    : (typeof axis === "number" ? [axis] : [...axis]).map((a) => normalizeAxis(op, a, x.ndim));
  const reducedSet = new Set(axes);
  if (reducedSet.size !== axes.length) {
    throw new TensorError("INVALID_AXIS", `${op}: axis ${formatShape(axes)} repeats an axis`);
  }
  const kept = x.shape.map((_, i) => i).filter((i) => !reducedSet.has(i));
  const reducedAxes = x.shape.map((_, i) => i).filter((i) => reducedSet.has(i));
  // [kept…, reduced…] -> rows of `reduced` values
  const values = permute(x, [...kept, ...reducedAxes]).data;
  const reduced = sizeOf(reducedAxes.map((i) => x.shape[i]));
  const outer = sizeOf(kept.map((i) => x.shape[i]));
  const outShape = keepdim
    ? x.shape.map((d, i) => (reducedSet.has(i) ? 1 : d))
    : kept.map((i) => x.shape[i]);
  return { values, outer, reduced, outShape };
}

function reduceRows(
  op: string, x: Tensor, axis: number | readonly number[] | undefined, keepdim: boolean,
  reduceRow: (values: Float32Array, start: number, n: number) => number,
): Tensor {
  const { values, outer, reduced, outShape } = toRows(op, x, axis, keepdim);
  const out = Tensor.empty(outShape);
  for (let r = 0; r < outer; r++) out.storage[r] = reduceRow(values, r * reduced, reduced);
  return out;
}

function rowSum(v: Float32Array, start: number, n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += v[start + i];
  return s;
}

export function sum(x: Tensor, axis?: number | readonly number[], keepdim = false): Tensor {
  return reduceRows("sum", x, axis, keepdim, rowSum);
}

export function mean(x: Tensor, axis?: number | readonly number[], keepdim = false): Tensor {
  return reduceRows("mean", x, axis, keepdim, (v, start, n) => rowSum(v, start, n) / n);
}

function checkNonEmpty(op: string, x: Tensor, n: number): void {
  if (n === 0) {
    throw new TensorError("INVALID_ARGUMENT", `${op}: cannot reduce an empty axis of ${formatShape(x.shape)}`);
  }
}

export function max(x: Tensor, axis?: number | readonly number[], keepdim = false): Tensor {
  return reduceRows("max", x, axis, keepdim, (v, start, n) => {
    checkNonEmpty("max", x, n);
    let m = -Infinity;
    for (let i = 0; i < n; i++) {
      const e = v[start + i];
      if (e !== e) return NaN; // NaN propagates, as torch.max
      if (e > m) m = e;
    }
    return m;
  });
}

export function min(x: Tensor, axis?: number | readonly number[], keepdim = false): Tensor {
  return reduceRows("min", x, axis, keepdim, (v, start, n) => {
    checkNonEmpty("min", x, n);
    let m = Infinity;
    for (let i = 0; i < n; i++) {
      const e = v[start + i];
      if (e !== e) return NaN;
      if (e < m) m = e;
    }
    return m;
  });
}

/**
 * Σ (x − mean)² / (n − correction), two passes (mean first) so large offsets do not cancel.
 * correction = 1 (default) is the unbiased estimate, as torch.var; 0 gives the population variance.
 */
export function variance(x: Tensor, axis?: number | readonly number[], keepdim = false, correction = 1): Tensor {
  return reduceRows("var", x, axis, keepdim, (v, start, n) => {
    const m = rowSum(v, start, n) / n;
    let ss = 0;
    for (let i = 0; i < n; i++) ss += (v[start + i] - m) ** 2;
    return ss / Math.max(0, n - correction);
  });
}

/**
 * Sum `x` down to `shape`, the shape it was broadcast from: leading extra axes are summed away
 * and axes where `shape` has 1 are summed with keepdim. This is how a gradient flows back
 * through a broadcast (autograd's reduce-to-input-shape step).
 */
export function sumToShape(x: Tensor, shape: readonly number[]): Tensor {
  const lead = x.ndim - shape.length;
  const fits = lead >= 0 && shape.every((d, i) => d === x.shape[lead + i] || d === 1);
  if (!fits) {
    throw new TensorError(
      "SHAPE_MISMATCH",
      `sumToShape: ${formatShape(x.shape)} to ${formatShape(shape)}: the target does not broadcast to the tensor's shape`,
    );
  }
  const axes: number[] = [];
  for (let i = 0; i < x.ndim; i++) {
    if (i < lead || (shape[i - lead] === 1 && x.shape[i] !== 1)) axes.push(i);
  }
  if (axes.length === 0) return x;
  // keepdim keeps the size-1 axes in place; the leading ones are then dropped by a reshape
  return sum(x, axes, true).reshape(shape);
}

/**
 * Index of the largest value along `axis` (the first one on ties), or into the flattened tensor
 * when no axis is given, as torch.argmax.
 */
export function argmax(x: Tensor, axis?: number, keepdim = false): IndexTensor {
  const { values, outer, reduced, outShape } = toRows("argmax", x, axis, keepdim && axis !== undefined);
  checkNonEmpty("argmax", x, reduced);
  const data = new Int32Array(outer);
  for (let r = 0; r < outer; r++) {
    const start = r * reduced;
    let best = 0;
    for (let i = 1; i < reduced; i++) {
      const e = values[start + i], b = values[start + best];
      if (e > b || (e !== e && b === b)) best = i;
    }
    data[r] = best;
  }
  return { shape: outShape, data };
}
