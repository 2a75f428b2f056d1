import { createWasmBackend, jsBackend, setBackend, type Backend } from "@zero-llm/tensor";
import { threadSupport } from "./threads";

/**
 * The backend a worker computes on: the wasm one (SIMD; threads when the page is cross-origin
 * isolated, one otherwise), made the current backend so tensor and autograd ops use it. Falls
 * back to the js reference (and says so) where WebAssembly SIMD is missing.
 */
export async function workerBackend(): Promise<{ backend: Backend; label: string }> {
  const { threads } = threadSupport();
  try {
    const backend = await createWasmBackend({ threads, maximumMemoryMB: 1024 });
    setBackend(backend);
    return { backend, label: `wasm, ${threads} thread${threads === 1 ? "" : "s"}` };
  } catch (error) {
    setBackend(jsBackend);
    return { backend: jsBackend, label: `js reference (wasm unavailable: ${error instanceof Error ? error.message : String(error)})` };
  }
}
