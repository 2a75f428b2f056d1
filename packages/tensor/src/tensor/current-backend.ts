import type { Backend } from "../backend/backend";
import { jsBackend } from "../backend/js";

/**
 * The backend every Tensor op dispatches its hot kernels to, and the allocator for tensor
 * storage. It starts as the `js` reference; switch to a faster one with `setBackend`.
 * Tensors allocated before a switch keep working: kernels accept any Float32Array.
 */
let current: Backend = jsBackend;

export function getBackend(): Backend {
  return current;
}

export function setBackend(backend: Backend): void {
  current = backend;
}

/** Fresh zero-filled storage from the current backend (wasm memory when the wasm backend is on). */
export function allocStorage(length: number): Float32Array {
  return current.allocF32(length);
}
