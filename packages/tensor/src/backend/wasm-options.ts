import { TensorError } from "../errors";

export interface WasmBackendOptions {
  /** Threads to split matmul, matvec and attention across, the caller included (default 1). */
  threads?: number;
  /**
   * Initial memory in MiB, an integer in [1, 4096] (default 64). A shared memory grows on demand
   * up to maximumMemoryMB; a plain one (browsers without cross-origin isolation) is fixed at this
   * size, so size it for the model.
   */
  initialMemoryMB?: number;
  /**
   * Upper bound in MiB for a shared memory, an integer in [initialMemoryMB, 4096] (default 4096,
   * the wasm32 limit). Browsers reserve address space for the maximum up front; lower it on
   * 32-bit or memory-tight devices.
   */
  maximumMemoryMB?: number;
  /**
   * Use a SharedArrayBuffer-backed memory (default: whenever the environment allows it). `false`
   * forces the plain-memory build that pages without cross-origin isolation get; threads must be 1.
   */
  sharedMemory?: boolean;
  /**
   * Idle polls a worker makes before sleeping (default 1000, ~13 µs: an Atomics.load from
   * JavaScript costs ~13 ns): back-to-back kernels of a decode step then find it awake. Longer
   * spinning does not pay on a busy machine, where a polling worker takes CPU time from other
   * processes and then gets descheduled in the middle of a job (measured, one other process
   * busy on a 2-core machine, 15M-shape decode on 2 threads: spin 20 000 ≈ 190 tok/s, 1000 ≈ 300,
   * 500 ≈ 330; 1 thread ≈ 345); 0 sleeps at once (each job then pays a ~10 µs wake-up).
   * A non-negative integer.
   */
  spin?: number;
  /**
   * Build of the kernel module: with relaxed SIMD (the quantized kernels then multiply 4-bit
   * codes with `i32x4.relaxed_dot_i8x16_i7x16_add_s`) or plain SIMD128. Default: relaxed where
   * the engine has it (switching it on in Node 20, where it is behind a V8 flag). Both give the
   * same bits: the relaxed dot product is exact on codes 0…15. `true` where the engine lacks it
   * is WASM_UNAVAILABLE.
   */
  relaxedSimd?: boolean;
  /**
   * Smallest job, in multiply-adds, that is split across the threads (default 2¹⁹ = 524,288:
   * rows·k·n for a product, 2·heads·queries·keys·headDim for attention); a smaller one runs on
   * the calling thread alone, since handing it to a worker and waiting for it costs more than the
   * part it would take off the caller. 0 splits every job (as the thread tests do). The split
   * never changes a result's bits, only which thread computes which output. A non-negative
   * integer.
   */
  parallelMinMacs?: number;
}

/**
 * Default of WasmBackendOptions.parallelMinMacs (bench/thread-crossover.mjs and the README's
 * "Which jobs are split"): a hand-off in a decode step (waking the worker, waiting for its part)
 * costs ~15 µs and one core does ~13 G multiply-adds a second, so a split pays from about
 * 4·10⁵ multiply-adds. Single rows of the embedded model (16–262 K: 3–31 µs) stay on the caller;
 * its 32-row batches (524 K and up) and single rows of a 110M model (590 K and up) are split.
 */
export const DEFAULT_PARALLEL_MIN_MACS = 1 << 19;

const PAGES_PER_MIB = 16; // wasm pages are 64 KiB
const MAX_MIB = 4096; // 65536 pages: the wasm32 address space

function integerIn(name: string, value: number, lo: number, hi: number, why: string): number {
  if (!Number.isInteger(value) || value < lo || value > hi) {
    throw new TensorError("INVALID_ARGUMENT", `wasm backend: ${name} must be an integer in [${lo}, ${hi}] (${why}), found ${value}`);
  }
  return value;
}

/** The options with defaults filled in, each checked: out of range is INVALID_ARGUMENT, never clamped. */
export function checkOptions(options: WasmBackendOptions): {
  threads: number; initialPages: number; maximumPages: number; spin: number; parallelMinMacs: number;
} {
  const threads = integerIn("threads", options.threads ?? 1, 1, 64, "the caller plus up to 63 workers");
  const initialMB = integerIn("initialMemoryMB", options.initialMemoryMB ?? 64, 1, MAX_MIB, "MiB of wasm memory, at most the 4 GiB wasm32 limit");
  const maximumMB = integerIn(
    "maximumMemoryMB", options.maximumMemoryMB ?? MAX_MIB, initialMB, MAX_MIB, "MiB, from initialMemoryMB up to the 4 GiB wasm32 limit",
  );
  const spin = integerIn("spin", options.spin ?? 1000, 0, 2 ** 31 - 1, "idle polls before a worker sleeps");
  const parallelMinMacs = integerIn(
    "parallelMinMacs", options.parallelMinMacs ?? DEFAULT_PARALLEL_MIN_MACS, 0, Number.MAX_SAFE_INTEGER, "multiply-adds below which a job runs on the caller alone",
  );
  return { threads, initialPages: initialMB * PAGES_PER_MIB, maximumPages: maximumMB * PAGES_PER_MIB, spin, parallelMinMacs };
}
