import { TensorError } from "../errors";
import type { Backend } from "./backend";
import { WasmHeap } from "./wasm-heap";
import { Staging, need } from "./wasm-staging";
import { WasmTrainKernels } from "./wasm-train";
import { RopeTables } from "./wasm-rope";
import { kernelImports, kernelModule, relaxedSimdSupported, sharedMemorySupported } from "./wasm-module";
import type { KernelExports } from "./wasm-module";
import { JOB_DECODE_LAYERS, JOB_ATTENTION, JOB_ATTENTION_BATCH, JOB_ATTENTION_PACKED, JOB_LINEAR, JOB_LINEAR_GROUP, JOB_LINEAR_ROWS, JOB_LINEAR_SWIGLU, JOB_ATTENTION_PROJECT, JOB_MATMUL, JOB_MATMUL_QUANT, JOB_MATVEC, ThreadPool } from "./wasm-threads";
import { checkMatmulQuant, type QuantType } from "../quant/types";
import type { QuantLayout } from "../quant/tiles";
import { checkAttentionPacked } from "../quant/attention-reference";
import { checkPackKvRows } from "../quant/kv-pack";
import { checkAttentionBatch, checkPositions } from "./batch-checks";
import { KV_TYPES, type KvType } from "../quant/kv";
import { checkOptions, type WasmBackendOptions } from "./wasm-options";
import type { DecodeLayersBuffers, DecodeLayersPlan, DecodeLayersShape, DecodeLayerWeights } from "./backend";
import { ATTENTION_MAC_WEIGHT, WasmDecodePlan, checkDecodeStep, decodeStepSlots, prepareDecodePlan, rowCost, writeDecodeStep } from "./wasm-decode-layers";

/**
 * Parts per thread of a decodeLayers job: two, so the main thread can take three of the four when
 * the OS parks the worker (in a server, four busy threads share the 2 cores: engine, worker, HTTP
 * front, clients). Fewer parts stream the layers' weights from L3 fewer times (each part reads all
 * of them for its rows): the engine alone, 32 rows, each against the per-op path in the same run
 * (2026-12-04 18:49–18:52 UTC, load average 3.3–5.4), 1 part per thread took 0.76–0.80× its wall
 * time, 2 parts 0.92–1.04×, 8 parts 0.98–1.11×; but end to end (bench/load.mjs, 32 streams against
 * main, six runs each, load 3.5–7.4) 2 parts gave 1.31× main's tokens/s (median), 1 part 1.06×.
 */
const DECODE_PARTS_PER_THREAD = 2;

/**
 * A job of at least parallelMinMacs / AWAKE_SPLIT_FACTOR multiply-adds is split while the workers
 * poll (WasmBackendImpl.parallel): handing a part to a polling worker costs ~1 µs (a cache line
 * each way), not the ~15 µs of a wake-up the default threshold pays for.
 */
const AWAKE_SPLIT_FACTOR = 4;

/**
 * Rows per part of linearEach's split: few enough that the first rows are ready after a small
 * share of the product, enough that the parts cost what one call over every row does (each part
 * reads the whole weight: the embedded model's lm_head, 32 rows, one thread, CPU time, 2026-12-04:
 * 4-row parts as fast as one call, 2-row parts 7 % slower).
 */
const EACH_ROWS_PER_PART = 4;

/** Polls of a part's ready flag before linearEach sleeps on it (as ThreadPool's MAIN_SPIN: ~50 µs). */
const EACH_SPIN = 4000;

/** assembly/quant-types.ts's Q4_0_TILES: q4_0 weights in tiles of four rows (src/quant/tiles.ts). */
const Q4_0_TILES_KERNEL_ID = 0x82;

export type { WasmBackendOptions } from "./wasm-options";

/** The wasm backend: the Backend contract plus ownership of its memory and workers. */
export interface WasmBackend extends Backend {
  readonly name: "wasm";
  /** True when the memory is a SharedArrayBuffer (always the case with threads > 1). */
  readonly sharedMemory: boolean;
  /** True when the kernels are the relaxed-SIMD build (see WasmBackendOptions.relaxedSimd). */
  readonly relaxedSimd: boolean;
  /** Returns an allocF32 / allocBytes array to the allocator now (otherwise it is reclaimed once unreachable). */
  free(array: Float32Array | Uint8Array): void;
  /** Bytes of wasm memory currently handed out. */
  readonly usedBytes: number;
  /** Stops the worker threads; later kernel calls throw BACKEND_DISPOSED. */
  dispose(): Promise<void>;
  // optional in Backend, always here
  linearGroup: NonNullable<Backend["linearGroup"]>;
  linearEach: NonNullable<Backend["linearEach"]>;
  linearSwiglu: NonNullable<Backend["linearSwiglu"]>;
  attentionBatchProject: NonNullable<Backend["attentionBatchProject"]>;
  decodeLayers: NonNullable<Backend["decodeLayers"]>;
  prepareDecodeLayers: NonNullable<Backend["prepareDecodeLayers"]>;
}

/**
 * Creates the WebAssembly SIMD backend. Kernels run in one module instance per thread over one
 * memory; arrays from `allocF32` live in that memory and are used in place, any other
 * Float32Array is copied in (and results copied out) around the call.
 *
 * `threads > 1` needs SharedArrayBuffer (Node, or a cross-origin-isolated page). Workers are
 * node:worker_threads in Node and Blob-URL Web Workers in browsers; both are unref'd/terminated
 * by `dispose()` and never keep a Node process alive.
 */
export async function createWasmBackend(options: WasmBackendOptions = {}): Promise<WasmBackend> {
  const { threads, initialPages, maximumPages, spin, parallelMinMacs } = checkOptions(options);
  if (typeof WebAssembly !== "object") {
    throw new TensorError("WASM_UNAVAILABLE", "wasm backend: expected a WebAssembly runtime, found none");
  }
  const shared = (options.sharedMemory ?? true) && sharedMemorySupported();
  if (options.sharedMemory && !shared) {
    throw new TensorError("WASM_UNAVAILABLE", "wasm backend: sharedMemory: true needs SharedArrayBuffer (in browsers, cross-origin isolation), found none");
  }
  if (threads > 1 && !shared) {
    throw new TensorError(
      "WASM_UNAVAILABLE",
      `wasm backend: threads = ${threads} needs shared memory (SharedArrayBuffer; in browsers, cross-origin isolation), found none; use threads: 1`,
    );
  }
  const memory = shared
    ? new WebAssembly.Memory({ initial: initialPages, maximum: maximumPages, shared: true })
    : new WebAssembly.Memory({ initial: initialPages });
  const relaxed = options.relaxedSimd ?? relaxedSimdSupported();
  if (relaxed && !relaxedSimdSupported()) {
    throw new TensorError("WASM_UNAVAILABLE", "wasm backend: relaxedSimd: true needs an engine with relaxed SIMD (Chrome 114+, Firefox 120+, Node 20 with its V8 flag), found none");
  }
  let module: WebAssembly.Module;
  try {
    module = await kernelModule(shared, relaxed);
  } catch (error) {
    throw new TensorError("WASM_UNAVAILABLE", `wasm backend: the SIMD kernel module did not compile here (expected WebAssembly SIMD128): ${String(error)}`, { cause: error });
  }
  const instance = await WebAssembly.instantiate(module, kernelImports(module, memory));
  const kernels = instance.exports as unknown as KernelExports;
  // The first 64 KiB stay unused: address 0 is the "no array" marker (bias, probs).
  const heap = new WasmHeap(memory, shared, 65536);
  const ctrl = heap.alloc(kernels.CTRL_BYTES.value as number);
  let pool: ThreadPool;
  try {
    pool = await ThreadPool.start(threads, module, memory, kernels, ctrl, spin);
  } catch (error) {
    throw new TensorError("WASM_UNAVAILABLE", `wasm backend: expected ${threads - 1} worker threads to start, one failed: ${String(error)}`, { cause: error });
  }
  return new WasmBackendImpl(threads, shared, relaxed, heap, kernels, pool, parallelMinMacs);
}

class WasmBackendImpl extends WasmTrainKernels implements WasmBackend {
  readonly name = "wasm" as const;
  private disposed = false;
  private scratch = 0;
  private scratchStride = 0;
  private readonly reclaim: FinalizationRegistry<number>;
  private readonly owned = new WeakMap<Float32Array | Uint8Array, number>();
  /** Quantized input rows of the current matmulQuant (grown on demand, kept between calls). */
  private activations = 0;
  private activationBytes = 0;
  private readonly ropeTables: RopeTables;
  private readonly staging: Staging;
  /** Arguments of a threaded job, filled in place (a decode step allocates nothing). */
  private readonly jobArgs = new Int32Array(16);
  /** Per-row arguments of ropeBatch / attentionBatch in wasm memory (see batchTable). */
  private batchPtr = 0;
  private batchLength = 0;
  private batchView: Int32Array | null = null;
  /** linearEach's ready flags, one i32 per part (assembly/jobs.ts linearByRows). */
  private readyFlags: Int32Array | null = null;

  constructor(
    readonly threads: number,
    readonly sharedMemory: boolean,
    readonly relaxedSimd: boolean,
    private readonly heap: WasmHeap,
    kernels: KernelExports,
    private readonly pool: ThreadPool,
    private readonly parallelMinMacs: number,
  ) {
    super(kernels);
    this.reclaim = new FinalizationRegistry((ptr) => heap.release(ptr));
    this.ropeTables = new RopeTables(heap);
    this.staging = new Staging(heap);
    this.ensureScratch(kernels.MATMUL_SCRATCH.value as number);
  }

  get usedBytes(): number {
    return this.heap.usedBytes;
  }

  allocF32(length: number): Float32Array {
    if (!Number.isInteger(length) || length < 0) {
      throw new TensorError("INVALID_ARGUMENT", `wasm allocF32: expected a non-negative integer length, found ${length}`);
    }
    const ptr = this.heap.alloc(length * 4);
    const array = this.heap.f32(ptr, length);
    // Reclaimed when this array (not a subarray of it) becomes unreachable, or on free().
    this.reclaim.register(array, ptr, array);
    this.owned.set(array, ptr);
    return array;
  }

  allocBytes(byteLength: number): Uint8Array {
    if (!Number.isInteger(byteLength) || byteLength < 0) {
      throw new TensorError("INVALID_ARGUMENT", `wasm allocBytes: expected a non-negative integer byte length, found ${byteLength}`);
    }
    const ptr = this.heap.alloc(byteLength); // 64-byte aligned
    const array = new Uint8Array(this.heap.memory.buffer, ptr, byteLength);
    this.reclaim.register(array, ptr, array);
    this.owned.set(array, ptr);
    return array;
  }

  free(array: Float32Array | Uint8Array): void {
    const ptr = this.owned.get(array);
    if (ptr === undefined) return;
    this.owned.delete(array);
    this.reclaim.unregister(array);
    this.heap.release(ptr);
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.pool.dispose();
  }

  protected begin(): Staging {
    if (this.disposed) throw new TensorError("BACKEND_DISPOSED", "wasm backend: expected a live backend, found one after dispose()");
    if (this.pool.failure) throw this.pool.failure; // a dead worker: every call fails, not only the threaded ones
    // a kernel called from linearEach's `each` while its job runs: that job is finished first
    // (one job at a time in the control block; linearEach then finds every row ready)
    if (this.pool.busy) this.pool.finish();
    this.staging.clear();
    return this.staging;
  }

  // Scratch for every thread, one block: MATMUL_SCRATCH bytes, or more for long attention rows.
  private ensureScratch(bytesPerThread: number): void {
    if (bytesPerThread <= this.scratchStride) return;
    const stride = Math.ceil(bytesPerThread / 64) * 64;
    if (this.scratch) this.heap.release(this.scratch);
    this.scratch = this.heap.alloc(stride * this.threads);
    this.scratchStride = stride;
    this.pool.setScratch(this.scratch, stride);
  }

  /**
   * Whether a job of `macs` multiply-adds is split across the pool: only when it is big enough
   * to repay the hand-off (WasmBackendOptions.parallelMinMacs), as ggml picks a thread count per
   * op; from a quarter of that while every worker still polls after its last job (no wake-up to
   * pay: a 32-row step's 262 K-multiply-add key and value products, between two split jobs, are
   * then split too, and the worker stays awake through the layer instead of sleeping in that
   * serial stretch and being woken for the attention). Which thread computes an output never
   * changes its bits (every split is by whole outputs), so timing picks only who computes what.
   */
  private parallel(macs: number): boolean {
    if (this.threads === 1) return false;
    return macs >= this.parallelMinMacs || (macs * AWAKE_SPLIT_FACTOR >= this.parallelMinMacs && this.pool.workersAwake());
  }

  /**
   * Parts of an attention job (units u = i·nHeads + h). One query, a decode step's: one part per
   * thread, each a contiguous run of heads. A cache row holds every head's keys (or values) side
   * by side, a head 256 bytes of an f32 row and only 36–128 of a packed one (q4_0 to f16, heads
   * of 64), and each part streams the whole layer's cache past its heads: with four parts per
   * thread, each thread reads it four times. Measured on 2 threads, 110M, 1,024 positions, µs a
   * layer, 8 parts → 2: q8_0 659 → 262, q4_0 495 → 203, f16 935 → 601, f32 435 → 350 (1 thread:
   * 462, 408, 678, 517). Several queries (a prefill chunk): the pool's default, whose smaller
   * parts even out causal rows' work, which grows with the position.
   */
  private attentionParts(seqQ: number): number | undefined {
    return seqQ === 1 ? this.threads : undefined;
  }

  /**
   * Parts to cut a threaded matmul into. More parts than threads let a thread the OS parks for a
   * while claim fewer of them, but every part packs the whole operand it shares with the others
   * (op(A) when split by columns, op(B) by rows: assembly/jobs.ts), so a thin split dimension
   * gets one part per thread (measured, 128×768·768×128 on 2 threads: 8 parts 30 GFLOP/s, 2
   * parts 60). Up to 4 parts per thread once each part keeps at least 8 tile strips.
   */
  private matmulParts(m: number, n: number, batch: number): number {
    const strips = batch >= this.threads ? batch : n >= m ? Math.ceil(n / 8) : Math.ceil(m / 4);
    return this.threads * Math.max(1, Math.min(4, Math.floor(strips / (8 * this.threads))));
  }

  matmul(
    out: Float32Array, a: Float32Array, b: Float32Array, m: number, k: number, n: number,
    opts: { transA?: boolean; transB?: boolean; batch?: number; bBatchStride?: number; accumulate?: boolean } = {},
  ): void {
    let batch = opts.batch ?? 1;
    const bStride = opts.bBatchStride ?? k * n;
    const accumulate = opts.accumulate ?? false;
    need("matmul a", a, batch * m * k);
    need("matmul b", b, (batch - 1) * bStride + k * n);
    need("matmul out", out, batch * m * n);
    if (batch * m * n === 0) return;
    if (k === 0) {
      if (!accumulate) out.fill(0, 0, batch * m * n);
      return;
    }
    if (batch > 1 && bStride === 0 && !opts.transA) {
      // one B for every batch: the batches are just more rows of A (stored row-major)
      m *= batch;
      batch = 1;
    }
    const s = this.begin();
    const pa = s.in(a), pb = s.in(b), pc = s.out(out, accumulate);
    const flags = (opts.transB ? 1 : 0) | (accumulate ? 2 : 0) | (opts.transA ? 4 : 0);
    if (this.parallel(batch * m * k * n)) {
      const j = this.jobArgs;
      j[0] = pc; j[1] = pa; j[2] = pb; j[3] = m; j[4] = k; j[5] = n; j[6] = flags; j[7] = batch; j[8] = bStride;
      this.pool.run(JOB_MATMUL, j, 9, this.matmulParts(m, n, batch));
    } else this.kernels.matmul(pc, pa, pb, m, k, n, flags, batch, bStride, 0, 1, this.scratch);
    s.done();
  }

  matvec(out: Float32Array, w: Float32Array, x: Float32Array, rows: number, cols: number): void {
    need("matvec w", w, rows * cols);
    need("matvec x", x, cols);
    need("matvec out", out, rows);
    const s = this.begin();
    const pw = s.in(w), px = s.in(x), po = s.out(out, false);
    if (this.parallel(rows * cols)) {
      const j = this.jobArgs;
      j[0] = po; j[1] = pw; j[2] = px; j[3] = rows; j[4] = cols;
      this.pool.run(JOB_MATVEC, j, 5);
    } else this.kernels.matvec(po, pw, px, rows, cols, 0, 1);
    s.done();
  }

  linear(out: Float32Array, x: Float32Array, w: Float32Array, rows: number, inFeatures: number, outFeatures: number): void {
    need("linear w", w, outFeatures * inFeatures);
    need("linear x", x, rows * inFeatures);
    need("linear out", out, rows * outFeatures);
    if (rows * outFeatures === 0) return;
    const s = this.begin();
    const pw = s.in(w), px = s.in(x), po = s.out(out, false);
    if (this.parallel(rows * inFeatures * outFeatures)) {
      const j = this.jobArgs;
      j[0] = po; j[1] = px; j[2] = pw; j[3] = rows; j[4] = inFeatures; j[5] = outFeatures;
      this.pool.run(JOB_LINEAR, j, 6);
    } else this.kernels.linear(po, px, pw, rows, inFeatures, outFeatures, 0, 1, this.scratch);
    s.done();
  }

  linearGroup(
    x: Float32Array, rows: number, inFeatures: number,
    ws: readonly Float32Array[], outFeatures: readonly number[], outs: readonly Float32Array[],
  ): void {
    const count = ws.length;
    if (outFeatures.length !== count || outs.length !== count) {
      throw new TensorError("SHAPE_MISMATCH", `wasm linearGroup: expected as many output widths and outputs as weights (${count}), found ${outFeatures.length} and ${outs.length}`);
    }
    need("linearGroup x", x, rows * inFeatures);
    let macs = 0;
    for (let i = 0; i < count; i++) {
      need("linearGroup w", ws[i], outFeatures[i] * inFeatures);
      need("linearGroup out", outs[i], rows * outFeatures[i]);
      macs += rows * inFeatures * outFeatures[i];
    }
    if (macs === 0) {
      // nothing to sum (0 rows or 0 outputs); or 0 inputs, where linear() writes its zeros
      for (let i = 0; i < count; i++) this.linear(outs[i], x, ws[i], rows, inFeatures, outFeatures[i]);
      return;
    }
    const s = this.begin();
    const px = s.in(x);
    for (let i = 0; i < count; i++) {
      s.in(ws[i]);
      s.out(outs[i], false);
    }
    // the table once every copy is placed (placing one may grow the memory); in() and out() of an
    // array already placed give its address again
    const table = this.batchTable(3 * count);
    for (let i = 0; i < count; i++) {
      table[3 * i] = s.in(outs[i]);
      table[3 * i + 1] = s.in(ws[i]);
      table[3 * i + 2] = outFeatures[i];
    }
    if (this.parallel(macs)) {
      const j = this.jobArgs;
      j[0] = px; j[1] = rows; j[2] = inFeatures; j[3] = table.byteOffset; j[4] = count;
      this.pool.run(JOB_LINEAR_GROUP, j, 5);
    } else this.kernels.linearGroup(px, rows, inFeatures, table.byteOffset, count, 0, 1, this.scratch);
    s.done();
  }

  linearSwiglu(
    out: Float32Array, up: Float32Array, x: Float32Array, wGate: Float32Array, wUp: Float32Array,
    rows: number, inFeatures: number, outFeatures: number,
  ): void {
    need("linearSwiglu x", x, rows * inFeatures);
    need("linearSwiglu wGate", wGate, outFeatures * inFeatures);
    need("linearSwiglu wUp", wUp, outFeatures * inFeatures);
    need("linearSwiglu out", out, rows * outFeatures);
    need("linearSwiglu up", up, rows * outFeatures);
    const macs = 2 * rows * inFeatures * outFeatures;
    if (macs === 0) {
      // nothing to sum: linear()'s zeros (0 inputs) or nothing at all, then the SwiGLU of them
      this.linear(out, x, wGate, rows, inFeatures, outFeatures);
      this.linear(up, x, wUp, rows, inFeatures, outFeatures);
      this.swiglu(out.subarray(0, rows * outFeatures), out, up);
      return;
    }
    const s = this.begin();
    const px = s.in(x), pg = s.in(wGate), pu = s.in(wUp), po = s.out(out, false), pup = s.out(up, false);
    if (this.parallel(macs)) {
      const j = this.jobArgs;
      j[0] = px; j[1] = rows; j[2] = inFeatures; j[3] = pg; j[4] = pu; j[5] = po; j[6] = pup; j[7] = outFeatures;
      this.pool.run(JOB_LINEAR_SWIGLU, j, 8);
    } else this.kernels.linearSwiglu(px, rows, inFeatures, pg, pu, po, pup, outFeatures, 0, 1, this.scratch);
    s.done();
  }

  /**
   * linear(), with `each(r0, r1)` called on this thread for consecutive row ranges, in order, as
   * soon as each range's outputs are final: the pool's workers compute the next rows meanwhile,
   * and this thread computes rows only when no finished ones wait. So the caller's work per row
   * (sampling a decode step's logits) overlaps the product instead of following it. Every row is
   * linear()'s bits (the split is by whole rows). When there is nothing to overlap (one thread, a
   * product too small to split, few rows, arrays outside wasm memory), it is linear() and then
   * each(0, rows). `each` may call other kernels: the first such call finishes the product.
   */
  linearEach(
    out: Float32Array, x: Float32Array, w: Float32Array, rows: number, inFeatures: number, outFeatures: number,
    each: (r0: number, r1: number) => void,
  ): void {
    need("linearEach w", w, outFeatures * inFeatures);
    need("linearEach x", x, rows * inFeatures);
    need("linearEach out", out, rows * outFeatures);
    const heap = this.heap;
    if (rows < 2 * EACH_ROWS_PER_PART || !heap.owns(out) || !heap.owns(x) || !heap.owns(w) || !this.parallel(rows * inFeatures * outFeatures)) {
      this.linear(out, x, w, rows, inFeatures, outFeatures);
      if (rows > 0) each(0, rows);
      return;
    }
    this.begin();
    const parts = Math.ceil(rows / EACH_ROWS_PER_PART);
    const ready = this.readyFlagsFor(parts);
    const j = this.jobArgs;
    j[0] = out.byteOffset; j[1] = x.byteOffset; j[2] = w.byteOffset; j[3] = rows; j[4] = inFeatures; j[5] = outFeatures;
    j[6] = EACH_ROWS_PER_PART; j[7] = ready.byteOffset;
    const pool = this.pool;
    pool.start(JOB_LINEAR_ROWS, j, 8, parts);
    try {
      for (let part = 0, polls = 0; part < parts; ) {
        if (Atomics.load(ready, part) !== 0) {
          each(part * EACH_ROWS_PER_PART, Math.min(rows, (part + 1) * EACH_ROWS_PER_PART));
          part++;
          polls = 0;
        } else if (!pool.runOwnPart()) {
          // every part is claimed and this one is still running on a worker; if every part is
          // done, it threw there (finish() says so) or `each` finished the job (it is then ready)
          if (pool.allPartsDone() && Atomics.load(ready, part) === 0) break;
          if (++polls > EACH_SPIN && pool.blocking) Atomics.wait(ready, part, 0, 1); // the part notifies; 1 ms bounds a missed failure
        }
      }
    } finally {
      pool.finish();
    }
  }

  private readyFlagsFor(parts: number): Int32Array {
    let flags = this.readyFlags;
    if (!flags || flags.length < parts) {
      if (flags) this.heap.release(flags.byteOffset);
      const length = Math.max(64, parts);
      flags = this.readyFlags = new Int32Array(this.heap.memory.buffer, this.heap.alloc(length * 4), length);
    }
    flags.fill(0, 0, parts);
    return flags;
  }

  matmulQuant(
    out: Float32Array, x: Float32Array, w: Uint8Array, type: QuantType, rows: number, inFeatures: number, outFeatures: number,
    layout: QuantLayout = "rows",
  ): void {
    const info = checkMatmulQuant("wasm", out, x, w, type, rows, inFeatures, outFeatures, layout);
    // the kernels' id of q4_0 tiles (assembly/quant-types.ts); activations are q4_0's either way
    const kernelType = layout === "q4_0x4" ? Q4_0_TILES_KERNEL_ID : info.ggmlId;
    if (rows * outFeatures === 0) return;
    if (inFeatures === 0) {
      out.fill(0, 0, rows * outFeatures);
      return;
    }
    const s = this.begin();
    const px = s.in(x), pw = s.inBytes(w), po = s.out(out, false);
    let input = px;
    if (type !== "f16") {
      // the input rows, quantized once for every output (plus k bytes of scratch)
      const bytes = rows * this.kernels.activationRowBytes(info.ggmlId, inFeatures);
      input = this.activationRows(bytes + inFeatures);
      this.kernels.quantizeActivations(info.ggmlId, px, rows, inFeatures, input, input + bytes);
    }
    if (this.parallel(rows * inFeatures * outFeatures)) {
      const j = this.jobArgs;
      j[0] = kernelType; j[1] = po; j[2] = input; j[3] = pw; j[4] = rows; j[5] = inFeatures; j[6] = outFeatures;
      this.pool.run(JOB_MATMUL_QUANT, j, 7);
    } else this.kernels.matmulQuant(kernelType, po, input, pw, rows, inFeatures, outFeatures, 0, 1, this.scratch);
    s.done();
  }

  private activationRows(bytes: number): number {
    if (bytes > this.activationBytes) {
      if (this.activations) this.heap.release(this.activations);
      this.activationBytes = Math.ceil((bytes * 1.25) / 65536) * 65536;
      this.activations = this.heap.alloc(this.activationBytes);
    }
    return this.activations;
  }

  softmax(out: Float32Array, x: Float32Array, rows: number, cols: number): void {
    need("softmax x", x, rows * cols);
    need("softmax out", out, rows * cols);
    const s = this.begin();
    const px = s.in(x);
    this.kernels.softmax(s.out(out, false), px, rows, cols);
    s.done();
  }

  rmsnorm(out: Float32Array, x: Float32Array, weight: Float32Array, rows: number, cols: number, eps: number): void {
    need("rmsnorm x", x, rows * cols);
    need("rmsnorm weight", weight, cols);
    need("rmsnorm out", out, rows * cols);
    const s = this.begin();
    const px = s.in(x), pw = s.in(weight);
    this.kernels.rmsnorm(s.out(out, false), px, pw, rows, cols, eps);
    s.done();
  }

  layernorm(
    out: Float32Array, x: Float32Array, weight: Float32Array, bias: Float32Array | null,
    rows: number, cols: number, eps: number,
  ): void {
    need("layernorm x", x, rows * cols);
    need("layernorm weight", weight, cols);
    if (bias) need("layernorm bias", bias, cols);
    need("layernorm out", out, rows * cols);
    const s = this.begin();
    const px = s.in(x), pw = s.in(weight), pb = bias ? s.in(bias) : 0;
    this.kernels.layernorm(s.out(out, false), px, pw, pb, rows, cols, eps);
    s.done();
  }

  rope(
    x: Float32Array, seq: number, nHeads: number, headDim: number,
    pos0: number, theta: number, style: "interleaved" | "half",
  ): void {
    need("rope x", x, seq * nHeads * headDim);
    if (!Number.isInteger(pos0) || pos0 < 0) {
      throw new TensorError("INVALID_ARGUMENT", `wasm rope: expected pos0 to be a non-negative integer, found ${pos0}`);
    }
    if (seq === 0) return;
    const table = this.ropeTables.get(theta, headDim, pos0 + seq);
    const s = this.begin();
    this.kernels.rope(s.out(x, true), seq, nHeads, headDim, pos0, table, style === "interleaved" ? 1 : 0);
    s.done();
  }

  attention(
    out: Float32Array, q: Float32Array, k: Float32Array, v: Float32Array,
    seqQ: number, seqKv: number, nHeads: number, nKvHeads: number, headDim: number,
    opts: { kvStride?: number; probs?: Float32Array } = {},
  ): void {
    const kvStride = opts.kvStride ?? nKvHeads * headDim;
    if (seqKv < seqQ || nHeads % nKvHeads !== 0) {
      throw new TensorError(
        "INVALID_ARGUMENT",
        `wasm attention: expected seqKv ≥ seqQ and nHeads divisible by nKvHeads, found seqQ ${seqQ}, seqKv ${seqKv}, nHeads ${nHeads}, nKvHeads ${nKvHeads}`,
      );
    }
    need("attention q", q, seqQ * nHeads * headDim);
    const kvLength = seqKv === 0 ? 0 : (seqKv - 1) * kvStride + nKvHeads * headDim;
    need("attention k", k, kvLength);
    need("attention v", v, kvLength);
    need("attention out", out, seqQ * nHeads * headDim);
    if (opts.probs) need("attention probs", opts.probs, nHeads * seqQ * seqKv);
    if (seqQ === 0) return;
    this.ensureScratch(nHeads * seqKv * 4); // one row of scores per head of a query
    const s = this.begin();
    const pq = s.in(q), pk = s.in(k), pv = s.in(v);
    const pp = opts.probs ? s.out(opts.probs, false) : 0;
    const po = s.out(out, false);
    const rowsOfWork = nHeads * seqQ;
    if (rowsOfWork > 1 && this.parallel(2 * rowsOfWork * seqKv * headDim)) {
      const j = this.jobArgs;
      j[0] = po; j[1] = pq; j[2] = pk; j[3] = pv; j[4] = pp; j[5] = seqQ; j[6] = seqKv; j[7] = nHeads; j[8] = nKvHeads; j[9] = headDim; j[10] = kvStride;
      this.pool.run(JOB_ATTENTION, j, 11, this.attentionParts(seqQ));
    } else this.kernels.attention(po, pq, pk, pv, pp, seqQ, seqKv, nHeads, nKvHeads, headDim, kvStride, 0, 1, this.scratch);
    s.done();
  }

  ropeBatch(
    x: Float32Array, rows: number, nHeads: number, headDim: number,
    positions: Int32Array, theta: number, style: "interleaved" | "half",
  ): void {
    need("ropeBatch x", x, rows * nHeads * headDim);
    const last = checkPositions("wasm", "ropeBatch", positions, rows, 0);
    if (rows === 0) return;
    const angles = this.ropeTables.get(theta, headDim, last + 1);
    const s = this.begin();
    const px = s.out(x, true);
    const table = this.batchTable(rows);
    for (let r = 0; r < rows; r++) table[r] = positions[r];
    this.kernels.ropeBatch(px, rows, nHeads, headDim, table.byteOffset, angles, style === "interleaved" ? 1 : 0);
    s.done();
  }

  attentionBatch(
    out: Float32Array, q: Float32Array, keys: readonly Float32Array[], values: readonly Float32Array[],
    lengths: Int32Array, rows: number, nHeads: number, nKvHeads: number, headDim: number,
  ): void {
    this.attentionBatchThen(null, out, q, keys, values, lengths, rows, nHeads, nKvHeads, headDim, null, 0);
  }

  attentionBatchProject(
    projected: Float32Array, out: Float32Array, q: Float32Array, keys: readonly Float32Array[], values: readonly Float32Array[],
    lengths: Int32Array, rows: number, nHeads: number, nKvHeads: number, headDim: number, w: Float32Array, outFeatures: number,
  ): void {
    need("attentionBatchProject w", w, outFeatures * nHeads * headDim);
    need("attentionBatchProject projected", projected, rows * outFeatures);
    if (projected.buffer === out.buffer && projected.byteOffset < out.byteOffset + out.byteLength && out.byteOffset < projected.byteOffset + projected.byteLength) {
      throw new TensorError("INVALID_ARGUMENT", "wasm attentionBatchProject: expected projected and out in separate memory (each row's projection reads its attention output whole), found them overlapping");
    }
    this.attentionBatchThen(projected, out, q, keys, values, lengths, rows, nHeads, nKvHeads, headDim, w, outFeatures);
  }

  /**
   * attentionBatch, and then (when `w` is given) projected = linear(out, w): in the same job, row
   * by row on the thread that computed the row's attention, when every row goes through the batch
   * table and the job is split; else as the two calls. Plain arguments, not an options object, so
   * a decode step allocates nothing.
   */
  private attentionBatchThen(
    projected: Float32Array | null, out: Float32Array, q: Float32Array, keys: readonly Float32Array[], values: readonly Float32Array[],
    lengths: Int32Array, rows: number, nHeads: number, nKvHeads: number, headDim: number, w: Float32Array | null, outFeatures: number,
  ): void {
    checkAttentionBatch("wasm", out, q, keys, values, lengths, rows, nHeads, nKvHeads, headDim);
    if (rows === 0) return;
    let longest = 0;
    for (let r = 0; r < rows; r++) longest = Math.max(longest, lengths[r]);
    this.ensureScratch(nHeads * longest * 4); // one row of scores per head of a query
    const s = this.begin();
    const pq = s.in(q);
    // placed before the table is written: placing a copy may grow the memory under its view
    const pw = w ? s.in(w) : 0, pp = projected ? s.out(projected, false) : 0;
    const width = nHeads * headDim, kvStride = nKvHeads * headDim;
    const table = this.batchTable(rows * 4); // entries | row | keys | values | seqKv |
    let entries = 0, keysInTable = 0;
    for (let r = 0; r < rows; r++) {
      const pk = s.in(keys[r]), pv = s.in(values[r]);
      if (this.splitsAttention(nHeads, lengths[r], headDim)) continue; // below
      table[4 * entries] = r;
      table[4 * entries + 1] = pk;
      table[4 * entries + 2] = pv;
      table[4 * entries + 3] = lengths[r];
      entries++;
      keysInTable += lengths[r];
    }
    const po = s.out(out, false);
    const attentionMacs = ATTENTION_MAC_WEIGHT * 2 * nHeads * keysInTable * headDim;
    if (w && projected && entries === rows && rows > 1 && outFeatures > 0 && this.parallel(attentionMacs + rows * width * outFeatures)) {
      // each part's rows projected by the thread that attended them (assembly/jobs.ts attentionProject)
      const j = this.jobArgs;
      j[0] = po; j[1] = pq; j[2] = table.byteOffset; j[3] = nHeads; j[4] = nKvHeads; j[5] = headDim; j[6] = kvStride; j[7] = entries;
      j[8] = pw; j[9] = pp; j[10] = outFeatures;
      this.pool.run(JOB_ATTENTION_PROJECT, j, 11);
      s.done();
      return;
    }
    if (entries > 1 && this.parallel(attentionMacs)) {
      // whole rows to threads (assembly/jobs.ts): a row's bits do not depend on the split
      const j = this.jobArgs;
      j[0] = po; j[1] = pq; j[2] = table.byteOffset; j[3] = nHeads; j[4] = nKvHeads; j[5] = headDim; j[6] = kvStride; j[7] = entries;
      this.pool.run(JOB_ATTENTION_BATCH, j, 8);
    } else if (entries > 0) {
      this.kernels.attentionBatch(po, pq, table.byteOffset, nHeads, nKvHeads, headDim, kvStride, 0, entries, this.scratch);
    }
    if (entries < rows) {
      // rows long enough for attention() to split their heads across threads keep that split
      // (the same bits: a head's result does not depend on which thread computes it). They are
      // the rows missing from the table: splitsAttention is not asked again, as its answer can
      // change while the workers fall asleep (parallel).
      for (let r = 0, e = 0; r < rows; r++) {
        if (e < entries && table[4 * e] === r) {
          e++;
          continue;
        }
        const j = this.jobArgs;
        j[0] = po + 4 * r * width; j[1] = pq + 4 * r * width; j[2] = s.in(keys[r]); j[3] = s.in(values[r]); j[4] = 0;
        j[5] = 1; j[6] = lengths[r]; j[7] = nHeads; j[8] = nKvHeads; j[9] = headDim; j[10] = kvStride;
        this.pool.run(JOB_ATTENTION, j, 11, this.attentionParts(1));
      }
    }
    s.done();
    if (w && projected) this.linear(projected, out, w, rows, width, outFeatures);
  }

  prepareDecodeLayers(shape: DecodeLayersShape, layers: readonly DecodeLayerWeights[], maxRows?: number): DecodeLayersPlan | null {
    if (maxRows !== undefined && (!Number.isInteger(maxRows) || maxRows < 1)) {
      throw new TensorError("INVALID_ARGUMENT", `wasm prepareDecodeLayers: expected maxRows to be a positive integer, found ${maxRows}`);
    }
    this.begin();
    const plan = prepareDecodePlan(this.heap, shape, layers);
    // the step table of the largest step, now: a step of runs sharing a cache (prompt chunks
    // beside decode rows) can be the first to need a table that big, long after the load
    if (plan && maxRows !== undefined) this.batchTable(decodeStepSlots(plan, maxRows, this.threads * DECODE_PARTS_PER_THREAD));
    return plan;
  }

  /**
   * One job for the whole step: each part is a range of rows through every layer
   * (assembly/decode-rows.ts), cut by estimated cost, DECODE_PARTS_PER_THREAD per thread. Run on
   * the calling thread alone when the step is too small to repay a hand-off (parallel) or has one
   * row.
   */
  decodeLayers(
    plan: DecodeLayersPlan, buffers: DecodeLayersBuffers, rows: number,
    keys: readonly Float32Array[], values: readonly Float32Array[], positions: Int32Array,
  ): boolean {
    if (!(plan instanceof WasmDecodePlan) || plan.heap !== this.heap) { // its table holds addresses in this memory
      throw new TensorError("INVALID_ARGUMENT", "wasm decodeLayers: expected a plan from this backend's prepareDecodeLayers, found another object");
    }
    this.begin();
    if (!checkDecodeStep(this.heap, plan, buffers, rows, keys, values, positions)) return false;
    if (rows === 0) return true;
    let longest = 0, macs = 0;
    for (let r = 0; r < rows; r++) {
      longest = Math.max(longest, positions[r] + 1);
      macs += rowCost(plan, positions[r]);
    }
    const { nHeads, headDim, ropeTheta } = plan.shape;
    this.ensureScratch(nHeads * longest * 4); // one row of scores per head of a query
    const ropeTable = this.ropeTables.get(ropeTheta, headDim, longest); // before the table view: it may grow the memory
    const split = rows > 1 && this.parallel(macs);
    const parts = split ? this.threads * DECODE_PARTS_PER_THREAD : 1;
    const table = this.batchTable(decodeStepSlots(plan, rows, parts));
    const cut = writeDecodeStep(table, plan, buffers, rows, keys, values, positions, ropeTable, parts);
    if (cut > 1) {
      this.jobArgs[0] = table.byteOffset;
      this.pool.run(JOB_DECODE_LAYERS, this.jobArgs, 1, cut);
    } else this.kernels.decodeLayersPart(table.byteOffset, 0, this.scratch);
    return true;
  }

  /** Whether attention() splits one query over seqKv positions across threads (by heads). */
  private splitsAttention(nHeads: number, seqKv: number, headDim: number): boolean {
    return nHeads > 1 && this.parallel(2 * nHeads * seqKv * headDim); // the same rule as attention() for one query
  }

  /**
   * An i32 array of at least `length` in wasm memory for a batched call's per-row arguments
   * (positions, cache addresses), reused between calls; a new view only when it must grow or the
   * memory grew under it.
   */
  private batchTable(length: number): Int32Array {
    let view = this.batchView;
    if (!view || view.length < length || view.buffer !== this.heap.memory.buffer) {
      if (!view || view.length < length) {
        if (this.batchPtr) this.heap.release(this.batchPtr);
        this.batchLength = Math.max(256, 2 * length);
        this.batchPtr = this.heap.alloc(this.batchLength * 4);
      }
      view = new Int32Array(this.heap.memory.buffer, this.batchPtr, this.batchLength);
      this.batchView = view;
    }
    return view;
  }

  attentionPacked(
    out: Float32Array, q: Float32Array, k: Uint8Array, v: Uint8Array, kType: KvType, vType: KvType,
    seqQ: number, seqKv: number, nHeads: number, nKvHeads: number, headDim: number,
    opts: { probs?: Float32Array } = {},
  ): void {
    const { kRowBytes, vRowBytes } = checkAttentionPacked("wasm", out, q, k, v, kType, vType, seqQ, seqKv, nHeads, nKvHeads, headDim, opts.probs);
    if (seqQ === 0 || nHeads * headDim === 0) return;
    // one row of scores per head of a query, a decoded cache row, the query heads quantized
    this.ensureScratch(nHeads * (seqKv * 4 + 3 * headDim + 64) + headDim + 4 * 32 * Math.ceil((nKvHeads * headDim) / 32) + 64);
    const s = this.begin();
    const pq = s.in(q), pk = s.inBytes(k), pv = s.inBytes(v);
    const pp = opts.probs ? s.out(opts.probs, false) : 0;
    const po = s.out(out, false);
    const kId = KV_TYPES[kType].ggmlId, vId = KV_TYPES[vType].ggmlId;
    const rowsOfWork = nHeads * seqQ;
    if (rowsOfWork > 1 && this.parallel(2 * rowsOfWork * seqKv * headDim)) {
      const j = this.jobArgs;
      j[0] = po; j[1] = pq; j[2] = pk; j[3] = pv; j[4] = pp; j[5] = kId; j[6] = vId; j[7] = kRowBytes; j[8] = vRowBytes;
      j[9] = seqQ; j[10] = seqKv; j[11] = nHeads; j[12] = nKvHeads; j[13] = headDim;
      this.pool.run(JOB_ATTENTION_PACKED, j, 14, this.attentionParts(seqQ));
    } else {
      this.kernels.attentionPacked(po, pq, pk, pv, pp, kId, vId, kRowBytes, vRowBytes, seqQ, seqKv, nHeads, nKvHeads, headDim, 0, 1, this.scratch);
    }
    s.done();
  }

  packKvRows(type: KvType, src: Float32Array, srcOffset: number, rowLen: number, rows: number, dst: Uint8Array, dstOffset: number): void {
    const rowBytes = checkPackKvRows("wasm", type, src, srcOffset, rowLen, rows, dst, dstOffset);
    if (rows === 0 || rowLen === 0) return;
    const s = this.begin();
    const px = s.in(src), pd = s.outBytes(dst);
    this.kernels.packKvRows(KV_TYPES[type].ggmlId, px + 4 * srcOffset, rows, rowLen, pd + dstOffset, rowBytes);
    s.done();
  }

  add(out: Float32Array, a: Float32Array, b: Float32Array): void {
    this.binary("add", out, a, b);
  }

  mul(out: Float32Array, a: Float32Array, b: Float32Array): void {
    this.binary("mul", out, a, b);
  }

  swiglu(out: Float32Array, gate: Float32Array, up: Float32Array): void {
    this.binary("swiglu", out, gate, up);
  }

  silu(out: Float32Array, x: Float32Array): void {
    this.unary("silu", out, x);
  }

  gelu(out: Float32Array, x: Float32Array): void {
    this.unary("gelu", out, x);
  }

  private binary(op: "add" | "mul" | "swiglu", out: Float32Array, a: Float32Array, b: Float32Array): void {
    need(op, a, out.length);
    need(op, b, out.length);
    const s = this.begin();
    const pa = s.in(a), pb = s.in(b);
    this.kernels[op](s.out(out, false), pa, pb, out.length);
    s.done();
  }

  private unary(op: "silu" | "gelu", out: Float32Array, x: Float32Array): void {
    need(op, x, out.length);
    const s = this.begin();
    const px = s.in(x);
    this.kernels[op](s.out(out, false), px, out.length);
    s.done();
  }
}
