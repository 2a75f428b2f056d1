import { Tensor } from "@zero-llm/tensor";

/**
 * Storage for values and gradients made by the engine. Plain GC-owned Float32Arrays, so a
 * graph's buffers are reclaimed as soon as backward() frees its nodes (backend kernels accept any
 * Float32Array; a backend with its own memory copies them in).
 */
export function emptyTensor(shape: readonly number[]): Tensor {
  let n = 1;
  for (const d of shape) n *= d;
  return new Tensor(new Float32Array(n), shape);
}
