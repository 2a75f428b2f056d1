/**
 * Whether the wasm backend can use threads here. Threads share one WebAssembly memory, which
 * needs SharedArrayBuffer, which browsers give only to a cross-origin isolated page (served with
 * COOP: same-origin and COEP: require-corp, as zllm serve does). Otherwise the backend runs on
 * one thread, and the pages say so.
 */
export interface ThreadSupport {
  threads: number;
  label: string;
  detail: string;
}

/** At most 4 threads: the kernels split work in parts and small models gain nothing past that. */
const MAX_THREADS = 4;

export function threadSupport(scope: { crossOriginIsolated?: boolean; navigator?: { hardwareConcurrency?: number } } = globalThis): ThreadSupport {
  const isolated = scope.crossOriginIsolated === true && typeof SharedArrayBuffer === "function";
  const cores = scope.navigator?.hardwareConcurrency ?? 1;
  if (!isolated) {
    return {
      threads: 1,
      label: "WASM: 1 thread (not cross-origin isolated)",
      detail: "This page is not cross-origin isolated (no COOP/COEP headers), so the browser withholds SharedArrayBuffer and the WebAssembly backend runs on one thread. Serve it with zllm serve (npm start) to get threads.",
    };
  }
  const threads = Math.max(1, Math.min(MAX_THREADS, cores));
  return {
    threads,
    label: `WASM: ${threads} thread${threads === 1 ? "" : "s"} (cross-origin isolated)`,
    detail: `Cross-origin isolated: the WebAssembly backend runs on ${threads} thread${threads === 1 ? "" : "s"} (${cores} logical cores reported) over one shared memory.`,
  };
}
