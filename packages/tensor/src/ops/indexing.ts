/**
 * Reading by integer ids (embedding lookup, index_select) and choosing by mask (where,
 * maskedFill). Ids are plain integers: an Int32Array, a number[], or an IndexTensor.
 */
import { TensorError, formatShape } from "../errors";
import { Tensor } from "../tensor/tensor";
import { allocStorage } from "../tensor/current-backend";
import { broadcastShapes, normalizeAxis, sameShape, sizeOf } from "../tensor/shape";
import { expand, transpose } from "./view";
import type { IndexTensor } from "./reduce";

export type { IndexTensor } from "./reduce";
export type Ids = Int32Array | readonly number[] | IndexTensor;

function idList(ids: Ids): { values: ArrayLike<number>; shape: readonly number[] } {
  if (ids instanceof Int32Array || Array.isArray(ids)) return { values: ids, shape: [ids.length] };
  const t = ids as IndexTensor;
  return { values: t.data, shape: t.shape };
}

/** An IndexTensor from ids and an optional shape (default 1-d). */
export function indexTensor(ids: Int32Array | readonly number[], shape?: readonly number[]): IndexTensor {
  const data = ids instanceof Int32Array ? ids : Int32Array.from(ids);
  const s = shape ?? [data.length];
  if (sizeOf(s) !== data.length) {
    throw new TensorError("BAD_DATA", `indexTensor: shape ${formatShape(s)} needs ${sizeOf(s)} ids, found ${data.length}`);
  }
  return { shape: [...s], data };
}

/**
 * Entries `ids` along `axis` (torch.index_select): the result has that axis replaced by the
 * flat list of ids. With axis 0 on a row-major table this is a row copy per id.
 */
export function indexSelect(x: Tensor, axis: number, ids: Ids): Tensor {
  const ax = normalizeAxis("indexSelect", axis, x.ndim);
  const { values } = idList(ids);
  // [dim, rest…] row-major: every id picks one row of `rowSize` values
  const front = transpose(x, 0, ax);
  const table = front.data;
  const dim = front.shape[0];
  const rowSize = dim === 0 ? 0 : front.size / dim;
  const out = allocStorage(values.length * rowSize);
  for (let i = 0; i < values.length; i++) {
    const id = values[i];
    if (!Number.isInteger(id) || id < 0 || id >= dim) {
      throw new TensorError(
        "INDEX_OUT_OF_RANGE",
        `indexSelect: id ${id} at position ${i} is out of range for axis ${ax} of ${formatShape(x.shape)} (size ${dim})`,
      );
    }
    out.set(table.subarray(id * rowSize, (id + 1) * rowSize), i * rowSize);
  }
  const picked = new Tensor(out, [values.length, ...front.shape.slice(1)]);
  return transpose(picked, 0, ax).contiguous();
}

/** Embedding lookup: table [vocab, dim], ids of shape S -> [...S, dim]. */
export function embedding(table: Tensor, ids: Ids): Tensor {
  if (table.ndim !== 2) {
    throw new TensorError("SHAPE_MISMATCH", `embedding: table ${formatShape(table.shape)}: expected [vocab, dim]`);
  }
  const { shape } = idList(ids);
  const rows = indexSelect(table, 0, ids);
  return new Tensor(rows.storage, [...shape, table.shape[1]]);
}

/** out = cond ≠ 0 ? a : b, all three broadcast together (torch.where). */
export function where(cond: Tensor, a: Tensor | number, b: Tensor | number): Tensor {
  const ta = typeof a === "number" ? null : a;
  const tb = typeof b === "number" ? null : b;
  let shape = broadcastShapes("where", cond.shape, ta ? ta.shape : []);
  shape = broadcastShapes("where", shape, tb ? tb.shape : []);
  const c = expand(cond, shape).data;
  const av = ta ? expand(ta, shape).data : null;
  const bv = tb ? expand(tb, shape).data : null;
  const out = Tensor.empty(shape);
  for (let i = 0; i < out.size; i++) {
    out.storage[i] = c[i] !== 0 ? (av ? av[i] : (a as number)) : (bv ? bv[i] : (b as number));
  }
  return out;
}

/** x with `value` wherever mask ≠ 0; the mask broadcasts to x's shape (torch masked_fill). */
export function maskedFill(x: Tensor, mask: Tensor, value: number): Tensor {
  const shape = broadcastShapes("maskedFill", x.shape, mask.shape);
  if (!sameShape(shape, x.shape)) {
    throw new TensorError(
      "SHAPE_MISMATCH",
      `maskedFill: ${formatShape(x.shape)} and mask ${formatShape(mask.shape)}: the mask must broadcast to the tensor's shape`,
    );
  }
  return where(mask, value, x);
}
