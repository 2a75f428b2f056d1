/**
 * Views: new shape/strides/offset over the same storage, no copy. The only op here that may
 * copy is `reshape`, and only when the strides cannot express the new shape (as torch.reshape).
 */
import { TensorError, formatShape } from "../errors";
import { Tensor } from "../tensor/tensor";
import { checkShape, contiguousStrides, normalizeAxis, sizeOf } from "../tensor/shape";

/** Resolve one `-1` in a requested shape from the element count. */
function inferShape(op: string, x: Tensor, shape: readonly number[]): number[] {
  const out = [...shape];
  const unknown = out.indexOf(-1);
  if (unknown !== out.lastIndexOf(-1)) {
    throw new TensorError("INVALID_ARGUMENT", `${op}: ${formatShape(shape)}: only one dimension can be -1`);
  }
  if (unknown >= 0) {
    const known = sizeOf(out.filter((_, i) => i !== unknown));
    if (known === 0 || x.size % known !== 0) {
      throw new TensorError(
        "SHAPE_MISMATCH",
        `${op}: ${formatShape(x.shape)} -> ${formatShape(shape)}: ${x.size} elements do not divide into the known dimensions (${known})`,
      );
    }
    out[unknown] = x.size / known;
  }
  checkShape(op, out);
  if (sizeOf(out) !== x.size) {
    throw new TensorError(
      "SHAPE_MISMATCH",
      `${op}: ${formatShape(x.shape)} -> ${formatShape(shape)}: element counts ${x.size} and ${sizeOf(out)} differ`,
    );
  }
  return out;
}

/**
 * Strides that read `x` with `newShape` without moving data, or null if there are none.
 *
 * Walk the old axes from the right and group them into chunks that are contiguous among
 * themselves (stride[d-1] = size[d]·stride[d]). A view exists iff the new dimensions can be
 * cut along chunk borders: within a chunk any regrouping works, since it is a plain strided
 * run; across a border it cannot. (Same criterion as torch.view.)
 */
export function viewStrides(
  oldShape: readonly number[], oldStrides: readonly number[], newShape: readonly number[],
): number[] | null {
  if (sizeOf(oldShape) === 0 || oldShape.length === 0) return contiguousStrides(newShape);
  const newStrides = new Array<number>(newShape.length);
  let viewAxis = newShape.length - 1;
  let chunkBaseStride = oldStrides[oldStrides.length - 1];
  let chunkSize = 1;
  let viewSize = 1;
  for (let axis = oldShape.length - 1; axis >= 0; axis--) {
    chunkSize *= oldShape[axis];
    const chunkEnds = axis === 0 || (oldShape[axis - 1] !== 1 && oldStrides[axis - 1] !== chunkSize * chunkBaseStride);
    if (!chunkEnds) continue;
    while (viewAxis >= 0 && (viewSize < chunkSize || newShape[viewAxis] === 1)) {
      newStrides[viewAxis] = viewSize * chunkBaseStride;
      viewSize *= newShape[viewAxis];
      viewAxis--;
    }
    if (viewSize !== chunkSize) return null;
    if (axis > 0) {
      chunkBaseStride = oldStrides[axis - 1];
      chunkSize = 1;
      viewSize = 1;
    }
  }
  return viewAxis === -1 ? newStrides : null;
}

/** Same elements, new shape, no copy; throws NOT_VIEWABLE where torch's .view would. */
export function view(x: Tensor, shape: readonly number[]): Tensor {
  const newShape = inferShape("view", x, shape);
  const strides = viewStrides(x.shape, x.strides, newShape);
  if (!strides) {
    throw new TensorError(
      "NOT_VIEWABLE",
      `view: ${formatShape(x.shape)} with strides ${formatShape(x.strides)} -> ${formatShape(newShape)}: the strides cannot express this shape; use reshape (copies) or contiguous() first`,
    );
  }
  return new Tensor(x.storage, newShape, strides, x.offset);
}

/** A view when the strides allow it (see viewStrides), otherwise a contiguous copy. */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  const newShape = inferShape("reshape", x, shape);
  const strides = viewStrides(x.shape, x.strides, newShape);
  if (strides) return new Tensor(x.storage, newShape, strides, x.offset);
  return new Tensor(x.data, newShape);
}

export function permute(x: Tensor, axes: readonly number[]): Tensor {
  if (axes.length !== x.ndim) {
    throw new TensorError(
      "SHAPE_MISMATCH",
      `permute: ${formatShape(x.shape)}: expected ${x.ndim} axes, found ${formatShape(axes)}`,
    );
  }
  const seen = new Set<number>();
  const order = axes.map((a) => normalizeAxis("permute", a, x.ndim));
  for (const a of order) {
    if (seen.has(a)) {
      throw new TensorError("INVALID_AXIS", `permute: ${formatShape(axes)} is not a permutation of ${x.ndim} axes`);
    }
    seen.add(a);
  }
  return new Tensor(x.storage, order.map((a) => x.shape[a]), order.map((a) => x.strides[a]), x.offset);
}

export function transpose(x: Tensor, axis0: number, axis1: number): Tensor {
  const a = normalizeAxis("transpose", axis0, x.ndim);
  const b = normalizeAxis("transpose", axis1, x.ndim);
  const order = x.shape.map((_, i) => i);
  order[a] = b;
  order[b] = a;
  return permute(x, order);
}

/**
 * Elements start, start+step, … < end along `axis` (Python slicing: negative bounds count from
 * the end, bounds are clamped to the dimension). `end` defaults to the whole axis.
 */
export function slice(x: Tensor, axis: number, start: number, end?: number, step = 1): Tensor {
  const ax = normalizeAxis("slice", axis, x.ndim);
  if (!Number.isInteger(step) || step < 1) {
    throw new TensorError("INVALID_ARGUMENT", `slice: step must be a positive integer, found ${step}`);
  }
  const dim = x.shape[ax];
  const clamp = (i: number): number => Math.min(Math.max(i < 0 ? i + dim : i, 0), dim);
  const lo = clamp(start);
  const hi = Math.max(clamp(end ?? dim), lo);
  const shape = [...x.shape];
  const strides = [...x.strides];
  shape[ax] = Math.ceil((hi - lo) / step);
  strides[ax] = x.strides[ax] * step;
  return new Tensor(x.storage, shape, strides, x.offset + lo * x.strides[ax]);
}

/** The sub-tensor at `index` along `axis`, with that axis removed. */
export function select(x: Tensor, axis: number, index: number): Tensor {
  const ax = normalizeAxis("select", axis, x.ndim);
  const dim = x.shape[ax];
  const i = index < 0 ? index + dim : index;
  if (!Number.isInteger(i) || i < 0 || i >= dim) {
    throw new TensorError(
      "INDEX_OUT_OF_RANGE",
      `select: index ${index} is out of range for axis ${ax} of ${formatShape(x.shape)} (size ${dim})`,
    );
  }
  const shape = x.shape.filter((_, k) => k !== ax);
  const strides = x.strides.filter((_, k) => k !== ax);
  return new Tensor(x.storage, shape, strides, x.offset + i * x.strides[ax]);
}

/**
 * Broadcast to `shape` without copying: size-1 axes (and new leading axes) get stride 0, so
 * every index along them reads the same element. `-1` keeps a dimension.
 */
export function expand(x: Tensor, shape: readonly number[]): Tensor {
  const lead = shape.length - x.ndim;
  if (lead < 0) {
    throw new TensorError(
      "SHAPE_MISMATCH",
      `expand: ${formatShape(x.shape)} to ${formatShape(shape)}: the target has fewer axes than the tensor`,
    );
  }
  const outShape = new Array<number>(shape.length);
  const strides = new Array<number>(shape.length);
  for (let i = 0; i < shape.length; i++) {
    const k = i - lead;
    const from = k >= 0 ? x.shape[k] : 1;
    const to = shape[i] === -1 && k >= 0 ? from : shape[i];
    if (from !== to && from !== 1) {
      throw new TensorError(
        "SHAPE_MISMATCH",
        `expand: ${formatShape(x.shape)} to ${formatShape(shape)}: dimension ${from} at axis ${k} must equal ${to} or be 1`,
      );
    }
    outShape[i] = to;
    strides[i] = k >= 0 && from === to ? x.strides[k] : 0;
  }
  checkShape("expand", outShape);
  return new Tensor(x.storage, outShape, strides, x.offset);
}

/** Drop size-1 axes: all of them, or only `axis` (a no-op when that axis is not size 1). */
export function squeeze(x: Tensor, axis?: number): Tensor {
  const only = axis === undefined ? -1 : normalizeAxis("squeeze", axis, x.ndim);
  const keep = x.shape.map((_, k) => k).filter((k) => !(x.shape[k] === 1 && (only === -1 || k === only)));
  return new Tensor(x.storage, keep.map((k) => x.shape[k]), keep.map((k) => x.strides[k]), x.offset);
}

/** Insert a size-1 axis at `axis` (in [-ndim-1, ndim]). */
export function unsqueeze(x: Tensor, axis: number): Tensor {
  const ax = normalizeAxis("unsqueeze", axis, x.ndim + 1);
  const shape = [...x.shape];
  const strides = [...x.strides];
  // any stride works for a size-1 axis; this one keeps a contiguous tensor contiguous
  const stride = ax < x.ndim ? x.strides[ax] * x.shape[ax] : 1;
  shape.splice(ax, 0, 1);
  strides.splice(ax, 0, stride);
  return new Tensor(x.storage, shape, strides, x.offset);
}

/** Merge axes startAxis..endAxis (inclusive) into one; a view when possible. */
export function flatten(x: Tensor, startAxis = 0, endAxis = -1): Tensor {
  if (x.ndim === 0) return reshape(x, [1]);
  const s = normalizeAxis("flatten", startAxis, x.ndim);
  const e = normalizeAxis("flatten", endAxis, x.ndim);
  if (s > e) {
    throw new TensorError("INVALID_AXIS", `flatten: start axis ${startAxis} comes after end axis ${endAxis}`);
  }
  const merged = sizeOf(x.shape.slice(s, e + 1));
  return reshape(x, [...x.shape.slice(0, s), merged, ...x.shape.slice(e + 1)]);
}

/** Free-function form of Tensor.contiguous(). */
export function contiguous(x: Tensor): Tensor {
  return x.contiguous();
}
