import { broadcastShapes, formatShape, sizeOf } from "@zero-llm/tensor";
import { AutogradError } from "../errors";

/**
 * Broadcasting as an index map. For a binary op whose output has shape `outShape`, element i of
 * the output (row-major) reads element `index[i]` of an input of shape `inShape`:
 *
 *   inShape [3, 1] read as outShape [2, 3, 4]: input strides [1, 0] aligned right -> [0, 1, 0],
 *   so out (b, r, c) reads in[r].
 *
 * The same map drives the backward pass: gradIn[index[i]] += gradOut[i] sums the gradient over
 * every axis the input was broadcast along, which is exactly "reduce back to the input's shape".
 * Returns null when no broadcasting happens (index[i] = i), the fast path.
 */
export function broadcastIndex(inShape: readonly number[], outShape: readonly number[]): Int32Array | null {
  if (sameShape(inShape, outShape)) return null;
  const ndim = outShape.length;
  const lead = ndim - inShape.length;
  // row-major strides of the input, 0 on axes it is broadcast along
  const strides = new Array<number>(ndim).fill(0);
  let step = 1;
  for (let i = inShape.length - 1; i >= 0; i--) {
    strides[lead + i] = inShape[i] === 1 ? 0 : step;
    step *= inShape[i];
  }
  const n = sizeOf(outShape);
  const index = new Int32Array(n);
  const counter = new Array<number>(ndim).fill(0);
  let pos = 0;
  for (let i = 0; i < n; i++) {
    index[i] = pos;
    // odometer over the output axes, last axis fastest
    for (let axis = ndim - 1; axis >= 0; axis--) {
      counter[axis]++;
      pos += strides[axis];
      if (counter[axis] < outShape[axis]) break;
      pos -= counter[axis] * strides[axis];
      counter[axis] = 0;
    }
  }
  return index;
}

/** The broadcast shape of two operands, with the engine's error on failure. */
export function broadcastOf(op: string, a: readonly number[], b: readonly number[]): number[] {
  try {
    return broadcastShapes(op, a, b);
  } catch (cause) {
    throw new AutogradError("AUTOGRAD_SHAPE_MISMATCH", `${op}: expected broadcastable shapes, found ${formatShape(a)} and ${formatShape(b)}`, { cause });
  }
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Map a possibly negative axis into [0, ndim). */
export function normAxis(op: string, axis: number, ndim: number): number {
  if (!Number.isInteger(axis) || axis < -ndim || axis >= ndim) {
    throw new AutogradError("AUTOGRAD_BAD_ARGUMENT", `${op}: expected an axis in [${-ndim}, ${ndim}), found ${axis}`);
  }
  return axis < 0 ? axis + ndim : axis;
}
