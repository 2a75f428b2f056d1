import { TensorError, formatShape } from "../errors";

/** Number of elements in a tensor of this shape (1 for a scalar `[]`). */
export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/**
 * Row-major strides: the last axis moves by 1, each earlier axis by the product of the later
 * dimensions. `[2,3,4]` -> `[12,4,1]`.
 */
export function contiguousStrides(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let step = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = step;
    step *= shape[i];
  }
  return strides;
}

/** Check a user-supplied shape: non-negative integers only. */
export function checkShape(op: string, shape: readonly number[]): void {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) {
      throw new TensorError(
        "INVALID_ARGUMENT",
        `${op}: shape ${formatShape(shape)}: expected non-negative integer dimensions, found ${d}`,
      );
    }
  }
}

/** Map a possibly negative axis into [0, ndim); `-1` is the last axis. */
export function normalizeAxis(op: string, axis: number, ndim: number): number {
  if (!Number.isInteger(axis) || axis < -ndim || axis >= Math.max(ndim, 1)) {
    throw new TensorError(
      "INVALID_AXIS",
      `${op}: axis ${axis} is out of range for a ${ndim}-d tensor (expected ${-ndim} <= axis < ${ndim})`,
    );
  }
  return axis < 0 ? axis + ndim : axis;
}

/**
 * NumPy / PyTorch broadcasting: align shapes at the right; each pair of dimensions must be
 * equal or one of them 1, and the result takes the larger. `[2,1,3]` with `[4,1]` -> `[2,4,3]`.
 */
export function broadcastShapes(op: string, a: readonly number[], b: readonly number[]): number[] {
  const ndim = Math.max(a.length, b.length);
  const out = new Array<number>(ndim);
  for (let i = 0; i < ndim; i++) {
    const da = a[a.length - ndim + i] ?? 1;
    const db = b[b.length - ndim + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new TensorError(
        "SHAPE_MISMATCH",
        `${op}: ${formatShape(a)} and ${formatShape(b)}: dimensions ${da} and ${db} cannot broadcast (axis ${i} of the result)`,
      );
    }
    out[i] = da === 1 ? db : da;
  }
  return out;
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
