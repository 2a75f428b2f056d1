/** Factories. Storage always comes from the current backend's allocator. */
import { TensorError, formatShape } from "../errors";
import { Tensor } from "../tensor/tensor";
import type { NestedArray } from "../tensor/tensor";
import { allocStorage } from "../tensor/current-backend";
import { checkShape, sizeOf } from "../tensor/shape";
import { getDefaultGenerator } from "../random";
import type { Rng } from "../random";
import { bf16ArrayToF32, f16ArrayToF32 } from "../dtype/half";

/** Shape of a rectangular nested array; throws BAD_DATA on ragged input. */
function nestedShape(data: NestedArray): number[] {
  const shape: number[] = [];
  let level: NestedArray = data;
  while (Array.isArray(level)) {
    shape.push(level.length);
    if (level.length === 0) break;
    level = level[0];
  }
  return shape;
}

function flattenInto(data: NestedArray, shape: readonly number[], axis: number, out: Float32Array, pos: number): number {
  if (axis === shape.length) {
    if (typeof data !== "number") {
      throw new TensorError("BAD_DATA", `tensor: ragged nested array: expected a number at depth ${axis}, found an array`);
    }
    out[pos] = data;
    return pos + 1;
  }
  if (!Array.isArray(data) || data.length !== shape[axis]) {
    throw new TensorError(
      "BAD_DATA",
      `tensor: ragged nested array: expected ${shape[axis]} entries at depth ${axis} (shape ${formatShape(shape)}), found ${Array.isArray(data) ? data.length : "a number"}`,
    );
  }
  for (const item of data) pos = flattenInto(item, shape, axis + 1, out, pos);
  return pos;
}

/**
 * A tensor from values: a nested array (shape inferred, like torch.tensor), a number (0-d), or
 * flat values (number[] / Float32Array) with an explicit shape (default: 1-d). Values are copied.
 */
export function tensor(data: NestedArray | Float32Array, shape?: readonly number[]): Tensor {
  if (data instanceof Float32Array || (shape !== undefined && Array.isArray(data))) {
    const flat = data as Float32Array | number[];
    const s = shape ?? [flat.length];
    checkShape("tensor", s);
    if (sizeOf(s) !== flat.length) {
      throw new TensorError("BAD_DATA", `tensor: shape ${formatShape(s)} needs ${sizeOf(s)} values, found ${flat.length}`);
    }
    const storage = allocStorage(flat.length);
    for (let i = 0; i < flat.length; i++) {
      const v = flat[i];
      if (typeof v !== "number") {
        throw new TensorError("BAD_DATA", `tensor: flat data with shape ${formatShape(s)} must hold numbers, found ${typeof v} at ${i}`);
      }
      storage[i] = v;
    }
    return new Tensor(storage, s);
  }
  const s = shape ?? nestedShape(data);
  const storage = allocStorage(sizeOf(s));
  flattenInto(data, s, 0, storage, 0);
  return new Tensor(storage, s);
}

export function full(shape: readonly number[], value: number): Tensor {
  checkShape("full", shape);
  const t = Tensor.empty(shape);
  if (value !== 0) t.storage.fill(value);
  return t;
}

export const zeros = (shape: readonly number[]): Tensor => full(shape, 0);
export const ones = (shape: readonly number[]): Tensor => full(shape, 1);

/**
 * start, start+step, … < end (torch.arange: ⌈(end − start) / step⌉ values). `arange(n)` is 0 … n−1.
 */
export function arange(start: number, end?: number, step = 1): Tensor {
  const [lo, hi] = end === undefined ? [0, start] : [start, end];
  if (step === 0 || !Number.isFinite(step)) {
    throw new TensorError("INVALID_ARGUMENT", `arange: step must be a finite non-zero number, found ${step}`);
  }
  const n = Math.max(0, Math.ceil((hi - lo) / step));
  const t = Tensor.empty([n]);
  for (let i = 0; i < n; i++) t.storage[i] = lo + i * step;
  return t;
}

/** Uniform [0, 1) samples from `generator` (default: the seedable global one). */
export function rand(shape: readonly number[], generator: Rng = getDefaultGenerator()): Tensor {
  checkShape("rand", shape);
  const t = Tensor.empty(shape);
  for (let i = 0; i < t.size; i++) t.storage[i] = generator.uniformFloat32();
  return t;
}

/** Standard normal samples from `generator` (default: the seedable global one). */
export function randn(shape: readonly number[], generator: Rng = getDefaultGenerator()): Tensor {
  checkShape("randn", shape);
  const t = Tensor.empty(shape);
  for (let i = 0; i < t.size; i++) t.storage[i] = generator.normal();
  return t;
}

/** Decode IEEE half-precision bits (e.g. a safetensors F16 payload) into a float32 tensor. */
export function fromF16(bits: Uint16Array, shape: readonly number[]): Tensor {
  checkDecodedLength("fromF16", bits, shape);
  const t = Tensor.empty(shape);
  f16ArrayToF32(bits, t.storage); // see note at decodeTarget
  return t;
}

/** Decode bfloat16 bits into a float32 tensor. */
export function fromBf16(bits: Uint16Array, shape: readonly number[]): Tensor {
  checkDecodedLength("fromBf16", bits, shape);
  const t = Tensor.empty(shape);
  bf16ArrayToF32(bits, t.storage); // see note at decodeTarget
  return t;
}

// note at decodeTarget: the decoders are typed for an ArrayBuffer-backed `out`, but they only
// read buffer/byteOffset/length, so wasm memory (possibly a SharedArrayBuffer) works as well.
function checkDecodedLength(op: string, bits: Uint16Array, shape: readonly number[]): void {
  checkShape(op, shape);
  if (bits.length !== sizeOf(shape)) {
    throw new TensorError("BAD_DATA", `${op}: shape ${formatShape(shape)} needs ${sizeOf(shape)} values, found ${bits.length}`);
  }
}
