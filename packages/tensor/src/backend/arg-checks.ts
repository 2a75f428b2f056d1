import { TensorError } from "../errors";

// Argument checks shared by the kernels' boundary checks (matmulQuant, attentionPacked, the
// batched decode entries). They run on every call of a decode step, most of them before V8 has
// optimized the caller, so the passing path allocates nothing: no closures, no arrays of
// [name, value] pairs to loop over, messages built only when something is wrong.

/** INVALID_ARGUMENT unless `value` is a non-negative integer. */
export function checkCount(backend: string, op: string, name: string, value: number): void {
  if (!Number.isInteger(value) || value < 0) {
    throw new TensorError("INVALID_ARGUMENT", `${backend} ${op}: expected ${name} to be a non-negative integer, found ${value}`);
  }
}

/** SHAPE_MISMATCH unless an array of `found` elements holds the `length` it must. */
export function checkLength(backend: string, op: string, name: string, found: number, length: number): void {
  if (found < length) shapeMismatch(backend, op, name, found, length);
}

export function shapeMismatch(backend: string, op: string, name: string, found: number, length: number): never {
  throw new TensorError("SHAPE_MISMATCH", `${backend} ${op} ${name}: expected at least ${length} elements, found ${found}`);
}
