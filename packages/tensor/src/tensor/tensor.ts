import { TensorError, formatShape } from "../errors";
import { allocStorage } from "./current-backend";
import { contiguousStrides, sizeOf } from "./shape";
import { stridedCopy } from "../ops/strided";
import * as view from "../ops/view";
import * as ew from "../ops/elementwise";
import * as red from "../ops/reduce";
import * as mm from "../ops/matmul";
import * as nn from "../ops/nn";
import * as idx from "../ops/indexing";
import type { IndexTensor, Ids } from "../ops/indexing";
import type { RopeStyle } from "../ops/nn";
import { f32ArrayToBf16, f32ArrayToF16 } from "../dtype/half";

/** Nested JavaScript arrays as returned by `toArray()` (a bare number for a 0-d tensor). */
export type NestedArray = number | NestedArray[];

/**
 * An n-d float32 tensor: a window on a flat Float32Array.
 *
 *   element (i0, i1, …, i(n-1)) = storage[offset + Σ_k i_k · strides[k]]
 *
 * Views (transpose, permute, slice, expand, reshape-when-possible) build a new Tensor over the
 * same storage with different shape/strides/offset, so they cost no copy and writes through one
 * are visible through the other. Ops that need a plain row-major buffer call `contiguous()`,
 * which copies only when the layout is not already row-major.
 *
 * Methods are thin: each calls the pure function of the same name in src/ops/.
 */
export class Tensor {
  readonly storage: Float32Array;
  readonly shape: readonly number[];
  readonly strides: readonly number[];
  readonly offset: number;

  /**
   * Wrap existing storage. Without `strides` the tensor is row-major from `offset`.
   * Prefer the factories (`tensor`, `zeros`, …); this is the escape hatch for kernels and IO.
   */
  constructor(storage: Float32Array, shape: readonly number[], strides?: readonly number[], offset = 0) {
    this.storage = storage;
    this.shape = Object.freeze([...shape]);
    this.strides = Object.freeze(strides ? [...strides] : contiguousStrides(shape));
    this.offset = offset;
    if (this.strides.length !== this.shape.length) {
      throw new TensorError(
        "SHAPE_MISMATCH",
        `Tensor: shape ${formatShape(shape)} has ${shape.length} axes but strides ${formatShape(this.strides)} have ${this.strides.length}`,
      );
    }
  }

  /** A fresh row-major tensor backed by storage from the current backend. */
  static empty(shape: readonly number[]): Tensor {
    return new Tensor(allocStorage(sizeOf(shape)), shape);
  }

  get ndim(): number {
    return this.shape.length;
  }

  /** Number of elements. */
  get size(): number {
    return sizeOf(this.shape);
  }

  /** True when the elements sit row-major and gap-free from `offset` (size-1 axes may have any stride). */
  isContiguous(): boolean {
    let expected = 1;
    for (let i = this.ndim - 1; i >= 0; i--) {
      if (this.shape[i] === 1) continue;
      if (this.strides[i] !== expected) return false;
      expected *= this.shape[i];
    }
    return true;
  }

  /**
   * The elements in row-major order. For a contiguous tensor this is a view of its storage
   * (writes go through to the tensor); otherwise it is a fresh copy.
   */
  get data(): Float32Array {
    if (this.isContiguous()) return this.storage.subarray(this.offset, this.offset + this.size);
    const out = allocStorage(this.size);
    stridedCopy(out, this.storage, this.shape, this.strides, this.offset);
    return out;
  }

  /** This tensor if already contiguous, else a row-major copy. */
  contiguous(): Tensor {
    if (this.isContiguous()) return this;
    return new Tensor(this.data, this.shape);
  }

  /** A row-major copy that never shares storage with this tensor. */
  clone(): Tensor {
    const out = allocStorage(this.size);
    stridedCopy(out, this.storage, this.shape, this.strides, this.offset);
    return new Tensor(out, this.shape);
  }

  /** Nested arrays, like torch's tolist(). */
  toArray(): NestedArray {
    const flat = this.data;
    if (this.ndim === 0) return flat[0];
    const build = (axis: number, start: number): NestedArray[] => {
      const n = this.shape[axis];
      const out: NestedArray[] = [];
      if (axis === this.ndim - 1) {
        for (let i = 0; i < n; i++) out.push(flat[start + i]);
        return out;
      }
      const step = sizeOf(this.shape.slice(axis + 1));
      for (let i = 0; i < n; i++) out.push(build(axis + 1, start + i * step));
      return out;
    };
    return build(0, 0);
  }

  /** The single value of a one-element tensor. */
  item(): number {
    if (this.size !== 1) {
      throw new TensorError("SHAPE_MISMATCH", `item: expected a tensor with 1 element, found shape ${formatShape(this.shape)}`);
    }
    return this.storage[this.offset];
  }

  /** Storage position of one element; negative indices count from the end. */
  private position(op: string, index: readonly number[]): number {
    if (index.length !== this.ndim) {
      throw new TensorError(
        "INDEX_OUT_OF_RANGE",
        `${op}: expected ${this.ndim} indices for shape ${formatShape(this.shape)}, found ${index.length}`,
      );
    }
    let pos = this.offset;
    for (let k = 0; k < index.length; k++) {
      const i = index[k] < 0 ? index[k] + this.shape[k] : index[k];
      if (!Number.isInteger(i) || i < 0 || i >= this.shape[k]) {
        throw new TensorError(
          "INDEX_OUT_OF_RANGE",
          `${op}: index ${index[k]} on axis ${k} is out of range for shape ${formatShape(this.shape)}`,
        );
      }
      pos += i * this.strides[k];
    }
    return pos;
  }

  get(...index: number[]): number {
    return this.storage[this.position("get", index)];
  }

  /** Write one element in place (visible through every view of the same storage). */
  set(value: number, ...index: number[]): void {
    this.storage[this.position("set", index)] = value;
  }

  /** The values as IEEE half-precision bits, row-major (round to nearest even). */
  toF16(): Uint16Array {
    return f32ArrayToF16(this.data);
  }

  /** The values as bfloat16 bits, row-major (round to nearest even). */
  toBf16(): Uint16Array {
    return f32ArrayToBf16(this.data);
  }

  toString(): string {
    return `Tensor(${formatShape(this.shape)}) ${JSON.stringify(this.toArray())}`;
  }

  // ---- views (no copy) -------------------------------------------------------------------
  reshape(shape: readonly number[]): Tensor { return view.reshape(this, shape); }
  view(shape: readonly number[]): Tensor { return view.view(this, shape); }
  transpose(axis0: number, axis1: number): Tensor { return view.transpose(this, axis0, axis1); }
  permute(axes: readonly number[]): Tensor { return view.permute(this, axes); }
  /** Transpose of a 2-d tensor (torch `.T` for matrices). */
  get T(): Tensor { return view.transpose(this, 0, 1); }
  slice(axis: number, start: number, end?: number, step?: number): Tensor { return view.slice(this, axis, start, end, step); }
  select(axis: number, index: number): Tensor { return view.select(this, axis, index); }
  expand(shape: readonly number[]): Tensor { return view.expand(this, shape); }
  squeeze(axis?: number): Tensor { return view.squeeze(this, axis); }
  unsqueeze(axis: number): Tensor { return view.unsqueeze(this, axis); }
  flatten(startAxis = 0, endAxis = -1): Tensor { return view.flatten(this, startAxis, endAxis); }

  // ---- elementwise (broadcasting) --------------------------------------------------------
  add(other: Tensor | number): Tensor { return ew.add(this, other); }
  sub(other: Tensor | number): Tensor { return ew.sub(this, other); }
  mul(other: Tensor | number): Tensor { return ew.mul(this, other); }
  div(other: Tensor | number): Tensor { return ew.div(this, other); }
  pow(exponent: Tensor | number): Tensor { return ew.pow(this, exponent); }
  maximum(other: Tensor | number): Tensor { return ew.maximum(this, other); }
  minimum(other: Tensor | number): Tensor { return ew.minimum(this, other); }
  eq(other: Tensor | number): Tensor { return ew.eq(this, other); }
  gt(other: Tensor | number): Tensor { return ew.gt(this, other); }
  ge(other: Tensor | number): Tensor { return ew.ge(this, other); }
  lt(other: Tensor | number): Tensor { return ew.lt(this, other); }
  le(other: Tensor | number): Tensor { return ew.le(this, other); }
  neg(): Tensor { return ew.neg(this); }
  abs(): Tensor { return ew.abs(this); }
  exp(): Tensor { return ew.exp(this); }
  log(): Tensor { return ew.log(this); }
  sqrt(): Tensor { return ew.sqrt(this); }
  rsqrt(): Tensor { return ew.rsqrt(this); }
  tanh(): Tensor { return ew.tanh(this); }
  sigmoid(): Tensor { return ew.sigmoid(this); }
  relu(): Tensor { return ew.relu(this); }
  gelu(): Tensor { return ew.gelu(this); }
  silu(): Tensor { return ew.silu(this); }

  // ---- reductions ------------------------------------------------------------------------
  sum(axis?: number | readonly number[], keepdim = false): Tensor { return red.sum(this, axis, keepdim); }
  mean(axis?: number | readonly number[], keepdim = false): Tensor { return red.mean(this, axis, keepdim); }
  max(axis?: number | readonly number[], keepdim = false): Tensor { return red.max(this, axis, keepdim); }
  min(axis?: number | readonly number[], keepdim = false): Tensor { return red.min(this, axis, keepdim); }
  /** Variance with Bessel's correction by default (torch.var: correction = 1). */
  var(axis?: number | readonly number[], keepdim = false, correction = 1): Tensor {
    return red.variance(this, axis, keepdim, correction);
  }
  argmax(axis?: number, keepdim = false): IndexTensor { return red.argmax(this, axis, keepdim); }

  // ---- linear algebra and nn -------------------------------------------------------------
  matmul(other: Tensor): Tensor { return mm.matmul(this, other); }
  softmax(axis = -1): Tensor { return nn.softmax(this, axis); }
  logSoftmax(axis = -1): Tensor { return nn.logSoftmax(this, axis); }
  layerNorm(weight: Tensor, bias: Tensor | null = null, eps = 1e-5): Tensor { return nn.layerNorm(this, weight, bias, eps); }
  rmsNorm(weight: Tensor, eps = 1e-5): Tensor { return nn.rmsNorm(this, weight, eps); }
  rope(style: RopeStyle, opts: { pos0?: number; theta?: number } = {}): Tensor { return nn.rope(this, style, opts); }

  // ---- indexing --------------------------------------------------------------------------
  indexSelect(axis: number, ids: Ids): Tensor { return idx.indexSelect(this, axis, ids); }
  maskedFill(mask: Tensor, value: number): Tensor { return idx.maskedFill(this, mask, value); }
}
