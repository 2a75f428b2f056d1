/**
 * The strided loops everything else stands on. A tensor is a window on a flat Float32Array:
 * element (i0, i1, …) lives at storage[offset + i0·strides[0] + i1·strides[1] + …]. A stride of
 * 0 repeats an element (that is how broadcast and expand cost no memory).
 *
 * The loops walk the last axis innermost and carry the outer axes like an odometer, so the
 * position in storage is updated by additions only.
 */
import { sizeOf } from "../tensor/shape";

/** Gather the elements of a strided view into `out` in row-major order. */
export function stridedCopy(
  out: Float32Array, src: Float32Array,
  shape: readonly number[], strides: readonly number[], offset: number,
): void {
  const n = sizeOf(shape);
  if (n === 0) return;
  const ndim = shape.length;
  if (ndim === 0) {
    out[0] = src[offset];
    return;
  }
  const inner = shape[ndim - 1];
  const innerStride = strides[ndim - 1];
  const outer = n / inner;
  const index = new Array<number>(ndim - 1).fill(0);
  let base = offset;
  for (let o = 0; o < outer; o++) {
    const dst = o * inner;
    for (let i = 0; i < inner; i++) out[dst + i] = src[base + i * innerStride];
    base = advance(index, shape, strides, base);
  }
}

/**
 * out[i] = fn(a[i], b[i]) over the broadcast shape `outShape`, where `aStrides` / `bStrides` are
 * already aligned to `outShape` (0 on broadcast axes).
 */
export function stridedBinary(
  out: Float32Array, outShape: readonly number[],
  a: Float32Array, aStrides: readonly number[], aOffset: number,
  b: Float32Array, bStrides: readonly number[], bOffset: number,
  fn: (x: number, y: number) => number,
): void {
  const n = sizeOf(outShape);
  if (n === 0) return;
  const ndim = outShape.length;
  if (ndim === 0) {
    out[0] = fn(a[aOffset], b[bOffset]);
    return;
  }
  const inner = outShape[ndim - 1];
  const aInner = aStrides[ndim - 1], bInner = bStrides[ndim - 1];
  const outer = n / inner;
  const aIndex = new Array<number>(ndim - 1).fill(0);
  const bIndex = new Array<number>(ndim - 1).fill(0);
  let aBase = aOffset, bBase = bOffset;
  for (let o = 0; o < outer; o++) {
    const dst = o * inner;
    for (let i = 0; i < inner; i++) out[dst + i] = fn(a[aBase + i * aInner], b[bBase + i * bInner]);
    aBase = advance(aIndex, outShape, aStrides, aBase);
    bBase = advance(bIndex, outShape, bStrides, bBase);
  }
}

/**
 * Step the odometer `index` over all axes but the last, returning the new storage position.
 * When an axis wraps, its contribution index·stride is taken back out.
 */
function advance(index: number[], shape: readonly number[], strides: readonly number[], base: number): number {
  for (let axis = shape.length - 2; axis >= 0; axis--) {
    index[axis]++;
    base += strides[axis];
    if (index[axis] < shape[axis]) return base;
    base -= index[axis] * strides[axis];
    index[axis] = 0;
  }
  return base;
}

/**
 * Strides that read a tensor of `shape`/`strides` as if it had the (broadcast) shape `target`:
 * missing leading axes and size-1 axes get stride 0.
 */
export function broadcastStrides(
  shape: readonly number[], strides: readonly number[], target: readonly number[],
): number[] {
  const out = new Array<number>(target.length).fill(0);
  const lead = target.length - shape.length;
  for (let i = 0; i < shape.length; i++) {
    out[lead + i] = shape[i] === 1 && target[lead + i] !== 1 ? 0 : strides[i];
  }
  return out;
}
