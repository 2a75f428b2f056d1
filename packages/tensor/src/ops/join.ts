/** Joining tensors along an axis (concat, stack) and cutting one into views (split, chunk). */
import { TensorError, formatShape } from "../errors";
import { Tensor } from "../tensor/tensor";
import { normalizeAxis, sizeOf } from "../tensor/shape";
import { slice, unsqueeze } from "./view";

/**
 * Join along an existing axis; all other dimensions must agree. Seen as [outer, d_i·inner]
 * row-major blocks, the output interleaves one row of each input per outer index.
 */
export function concat(tensors: readonly Tensor[], axis = 0): Tensor {
  if (tensors.length === 0) throw new TensorError("INVALID_ARGUMENT", "concat: expected at least one tensor, found none");
  const first = tensors[0];
  const ax = normalizeAxis("concat", axis, first.ndim);
  for (const t of tensors) {
    const differs = t.ndim !== first.ndim || t.shape.some((d, i) => i !== ax && d !== first.shape[i]);
    if (differs) {
      throw new TensorError(
        "SHAPE_MISMATCH",
        `concat: ${formatShape(first.shape)} and ${formatShape(t.shape)} along axis ${ax}: all other dimensions must match`,
      );
    }
  }
  const outer = sizeOf(first.shape.slice(0, ax));
  const inner = sizeOf(first.shape.slice(ax + 1));
  const total = tensors.reduce((s, t) => s + t.shape[ax], 0);
  const shape = [...first.shape];
  shape[ax] = total;
  const out = Tensor.empty(shape);
  const outRow = total * inner;
  let column = 0;
  for (const t of tensors) {
    const src = t.data;
    const row = t.shape[ax] * inner;
    for (let o = 0; o < outer; o++) out.storage.set(src.subarray(o * row, (o + 1) * row), o * outRow + column);
    column += row;
  }
  return out;
}

/** Join along a new axis; all shapes must be equal. */
export function stack(tensors: readonly Tensor[], axis = 0): Tensor {
  if (tensors.length === 0) throw new TensorError("INVALID_ARGUMENT", "stack: expected at least one tensor, found none");
  const first = tensors[0];
  for (const t of tensors) {
    if (t.ndim !== first.ndim || t.shape.some((d, i) => d !== first.shape[i])) {
      throw new TensorError(
        "SHAPE_MISMATCH",
        `stack: ${formatShape(first.shape)} and ${formatShape(t.shape)}: all shapes must be equal`,
      );
    }
  }
  const ax = normalizeAxis("stack", axis, first.ndim + 1);
  return concat(tensors.map((t) => unsqueeze(t, ax)), ax);
}

/**
 * Views along `axis` (torch.split): a number is the size of each piece (the last may be
 * smaller); an array lists the sizes, which must add up to the dimension.
 */
export function split(x: Tensor, sizes: number | readonly number[], axis = 0): Tensor[] {
  const ax = normalizeAxis("split", axis, x.ndim);
  const dim = x.shape[ax];
  let pieces: number[];
  if (typeof sizes === "number") {
    if (!Number.isInteger(sizes) || sizes < 1) {
      throw new TensorError("INVALID_ARGUMENT", `split: piece size must be a positive integer, found ${sizes}`);
    }
    pieces = [];
    for (let start = 0; start < dim; start += sizes) pieces.push(Math.min(sizes, dim - start));
  } else {
    pieces = [...sizes];
    const total = pieces.reduce((s, p) => s + p, 0);
    if (total !== dim || pieces.some((p) => !Number.isInteger(p) || p < 0)) {
      throw new TensorError(
        "SHAPE_MISMATCH",
        `split: ${formatShape(x.shape)} into ${formatShape(pieces)} along axis ${ax}: sizes add to ${total}, expected ${dim}`,
      );
    }
  }
  const out: Tensor[] = [];
  let start = 0;
  for (const p of pieces) {
    out.push(slice(x, ax, start, start + p));
    start += p;
  }
  return out;
}

/** `n` nearly equal views along `axis` (torch.chunk: pieces of ceil(dim / n)). */
export function chunk(x: Tensor, n: number, axis = 0): Tensor[] {
  if (!Number.isInteger(n) || n < 1) {
    throw new TensorError("INVALID_ARGUMENT", `chunk: number of chunks must be a positive integer, found ${n}`);
  }
  const dim = x.shape[normalizeAxis("chunk", axis, x.ndim)];
  return split(x, Math.max(1, Math.ceil(dim / n)), axis);
}
