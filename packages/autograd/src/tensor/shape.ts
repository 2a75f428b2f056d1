/**
 * Ops that move values without arithmetic: reshape, permute/transpose, slice, concat and the
 * embedding gather. Their backward rules move gradients back the same way (reshape, inverse
 * permutation, scatter into a slab, split, scatter-add of rows).
 *
 * Slices and concatenations are described on the view x = [outer, n, inner], where n is the
 * chosen axis, outer the product of the axes before it and inner of those after it.
 */
import { Tensor, formatShape } from "@zero-llm/tensor";
import { AutogradError } from "../errors";
import { Var, gradBuffer, takeGrad } from "./var";
import { emptyTensor } from "./alloc";
import { normAxis } from "./broadcast";

/** Same elements, new shape (one -1 is inferred). Row-major order is unchanged, so no copy. */
export function reshape(x: Var, shape: readonly number[]): Var {
  const target = [...shape];
  const unknown = target.indexOf(-1);
  if (unknown >= 0) {
    const known = target.reduce((p, d, i) => (i === unknown ? p : p * d), 1);
    target[unknown] = known === 0 ? 0 : x.size / known;
  }
  const size = target.reduce((p, d) => p * d, 1);
  if (size !== x.size || target.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new AutogradError("AUTOGRAD_SHAPE_MISMATCH", `reshape: ${formatShape(x.shape)} -> ${formatShape(shape)}: expected ${x.size} elements, found ${size}`);
  }
  return Var.fromOp(new Tensor(x.value.storage, target, undefined, x.value.offset), "reshape", [x], (g) => {
    // reshape moves no element: dx = dy read in the input's shape (the same buffer when it can be)
    takeGrad(x, g);
  });
}

/** Reorder the axes; the result is a contiguous copy (out axis i = input axis axes[i]). */
export function permute(x: Var, axes: readonly number[]): Var {
  const norm = axes.map((a) => normAxis("permute", a, x.ndim));
  if (norm.length !== x.ndim || new Set(norm).size !== x.ndim) {
    throw new AutogradError("AUTOGRAD_BAD_ARGUMENT", `permute: expected a permutation of ${x.ndim} axes, found ${formatShape(axes)}`);
  }
  const out = new Tensor(x.value.permute(norm).data.slice(), norm.map((a) => x.shape[a]));
  const inverse = new Array<number>(x.ndim);
  norm.forEach((a, i) => (inverse[a] = i));
  return Var.fromOp(out, "permute", [x], (g) => {
    // the gradient goes back through the inverse permutation
    const back = new Tensor(g, out.shape).permute(inverse).data;
    const gx = gradBuffer(x);
    for (let i = 0; i < gx.length; i++) gx[i] += back[i];
  });
}

/** Swap two axes (a permute). */
export function transpose(x: Var, axis0: number, axis1: number): Var {
  const axes = x.shape.map((_, i) => i);
  const a = normAxis("transpose", axis0, x.ndim), b = normAxis("transpose", axis1, x.ndim);
  axes[a] = b;
  axes[b] = a;
  return permute(x, axes);
}

function around(shape: readonly number[], axis: number): { outer: number; n: number; inner: number } {
  let outer = 1, inner = 1;
  for (let i = 0; i < axis; i++) outer *= shape[i];
  for (let i = axis + 1; i < shape.length; i++) inner *= shape[i];
  return { outer, n: shape[axis], inner };
}

/** Entries start ≤ i < end along `axis` (a contiguous copy). */
export function slice(x: Var, axis: number, start: number, end: number): Var {
  const ax = normAxis("slice", axis, x.ndim);
  const { outer, n, inner } = around(x.shape, ax);
  if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end > n || start > end) {
    throw new AutogradError("AUTOGRAD_BAD_ARGUMENT", `slice: expected 0 <= start <= end <= ${n} on axis ${ax} of ${formatShape(x.shape)}, found ${start}..${end}`);
  }
  const len = end - start;
  const out = emptyTensor(x.shape.map((d, i) => (i === ax ? len : d)), false);
  const xd = x.data, o = out.storage;
  const run = len * inner; // each outer index copies one run of len·inner values
  for (let p = 0; p < outer; p++) o.set(xd.subarray((p * n + start) * inner, (p * n + start) * inner + run), p * run);
  return Var.fromOp(out, "slice", [x], (g) => {
    // dx is dy placed back into the slab it came from, zero elsewhere
    const gx = gradBuffer(x);
    for (let p = 0; p < outer; p++) {
      const src = p * run, dst = (p * n + start) * inner;
      for (let i = 0; i < run; i++) gx[dst + i] += g[src + i];
    }
  });
}

/** Join along `axis`; all other axes must agree. */
export function concat(xs: readonly Var[], axis: number): Var {
  if (xs.length === 0) throw new AutogradError("AUTOGRAD_BAD_ARGUMENT", "concat: expected at least one input, found none");
  const first = xs[0];
  const ax = normAxis("concat", axis, first.ndim);
  for (const x of xs) {
    if (x.ndim !== first.ndim || x.shape.some((d, i) => i !== ax && d !== first.shape[i])) {
      throw new AutogradError("AUTOGRAD_SHAPE_MISMATCH", `concat: expected shapes equal except on axis ${ax}, found ${formatShape(first.shape)} and ${formatShape(x.shape)}`);
    }
  }
  const total = xs.reduce((s, x) => s + x.shape[ax], 0);
  const outShape = first.shape.map((d, i) => (i === ax ? total : d));
  const { outer, inner } = around(outShape, ax);
  const out = emptyTensor(outShape, false);
  const offsets: number[] = [];
  let at = 0;
  for (const x of xs) {
    offsets.push(at);
    const run = x.shape[ax] * inner, xd = x.data;
    for (let p = 0; p < outer; p++) out.storage.set(xd.subarray(p * run, (p + 1) * run), (p * total + at) * inner);
    at += x.shape[ax];
  }
  return Var.fromOp(out, "concat", xs, (g) => {
    // each input's gradient is its own slab of dy
    xs.forEach((x, xi) => {
      if (!x.requiresGrad) return;
      const gx = gradBuffer(x);
      const run = x.shape[ax] * inner;
      for (let p = 0; p < outer; p++) {
        const src = (p * total + offsets[xi]) * inner;
        for (let i = 0; i < run; i++) gx[p * run + i] += g[src + i];
      }
    });
  });
}

/**
 * Row lookup: weight [vocab, dim], ids (flat, read as `idsShape`, default [ids.length]) ->
 * [...idsShape, dim]. Backward scatter-adds each output row into the row it was read from.
 */
export function embedding(weight: Var, ids: Int32Array | readonly number[], idsShape?: readonly number[]): Var {
  if (weight.ndim !== 2) {
    throw new AutogradError("AUTOGRAD_SHAPE_MISMATCH", `embedding: expected weight [vocab, dim], found ${formatShape(weight.shape)}`);
  }
  const [vocab, dim] = weight.shape;
  const shape = idsShape ?? [ids.length];
  if (shape.reduce((p, d) => p * d, 1) !== ids.length) {
    throw new AutogradError("AUTOGRAD_SHAPE_MISMATCH", `embedding: ids shape ${formatShape(shape)} needs ${shape.reduce((p, d) => p * d, 1)} ids, found ${ids.length}`);
  }
  const rows = Int32Array.from(ids);
  for (let i = 0; i < rows.length; i++) {
    if (rows[i] < 0 || rows[i] >= vocab) {
      throw new AutogradError("AUTOGRAD_BAD_ARGUMENT", `embedding: expected ids in [0, ${vocab}), found ${rows[i]} at position ${i}`);
    }
  }
  const out = emptyTensor([...shape, dim], false);
  const wd = weight.data;
  for (let i = 0; i < rows.length; i++) out.storage.set(wd.subarray(rows[i] * dim, (rows[i] + 1) * dim), i * dim);
  return Var.fromOp(out, "embedding", [weight], (g) => {
    // d out[i]/d weight[ids[i]] = 1: scatter-add (repeated ids accumulate)
    const gw = gradBuffer(weight);
    for (let i = 0; i < rows.length; i++) {
      const src = i * dim, dst = rows[i] * dim;
      for (let c = 0; c < dim; c++) gw[dst + c] += g[src + c];
    }
  });
}
