// Work splitting for the worker threads. A job is one kernel call cut into nChunks parts
// (a few per thread); the calling thread and the workers all run this same module on the same
// shared memory and claim parts from a counter, so a thread the OS parks for a while simply
// claims fewer parts instead of stalling everyone at a fixed split. The control block
// (CTRL_BYTES at `ctrl`) carries the job:
//
//   +0   kind       which kernel (JOB_*)          +4   nChunks    parts in this job
//   +8   done       parts finished                +12  shutdown   1 = workers return
//   +16  spin       idle polls before sleeping    +20  scratchStride bytes of scratch per thread
//   +24  scratch    thread 0's scratch address (thread t: scratch + t·scratchStride)
//   +28  next       (job generation & 0xffff) << 16 | next unclaimed part
//   +32  failed     0, or t once a part threw in worker t ≥ 1 (written by the JavaScript hosts)
//   +64  args       16 × i32 kernel arguments
//   +256 + 64·t     go[t]: the generation worker t should run (one cache line each)
//
// The caller writes kind and args, resets done and next, stores the generation in every go[t]
// and notifies. A worker polls go[t] for `spin` rounds (cheap wake-ups for back-to-back decode
// kernels), then sleeps in Atomics.wait; that loop is JavaScript in the worker (wasm-threads.ts),
// which calls runJob once per job. It must not live in here: V8 first runs wasm in its baseline
// compiler and swaps in optimized code only for calls that start later, so a worker that never
// left a wasm loop would run every kernel 2–3× slower than the calling thread, for good.
//
// A claim succeeds only while `next` still carries the worker's generation, so a worker that
// wakes after its job is over claims nothing; and the caller rewrites args only after every
// claimed part is done, so a claimed part always reads its own job's args. Before it rewrites
// them, the caller closes `next` (the new generation with part 0xffff, past any part count):
// a worker that read the old `next` (every part claimed) and then the new, larger nChunks would
// otherwise claim a part of a job that is still being written, and its `done` increment could
// land after the reset, letting the caller return one part early. Closed first, such a claim's
// compare-exchange fails. nChunks is read atomically so it is ordered with `next`.
import { gemvRows, gevmCols } from "./matmul";
import { gemmBlock } from "./gemm";
import { linearOutputs } from "./linear";
import { swiglu } from "./elementwise";
import { attentionRows, attentionBatch as attentionBatchEntries } from "./attention";
import { matmulQuantRows } from "./quant-dot";
import { matmulQuantTiles } from "./quant-dot-tiles";
import { Q4_0_TILES } from "./quant-types";
import { attentionPackedRows } from "./attention-packed";
import { decodeLayersPart } from "./decode-rows";

export const CTRL_BYTES = 256 + 64 * 64;
export const MAX_THREADS = 64;
// shutdown (+12), spin (+16), failed (+32) and go[t] (+256) are used by the JavaScript loops only
const KIND = 0, NCHUNKS = 4, DONE = 8, SCRATCH_STRIDE = 20, SCRATCH = 24, NEXT = 28;
const ARGS = 64;

export const JOB_MATMUL = 1;
export const JOB_MATVEC = 2;
export const JOB_ATTENTION = 3;
export const JOB_LINEAR = 4;
export const JOB_MATMUL_QUANT = 5;
export const JOB_ATTENTION_PACKED = 6;
export const JOB_ATTENTION_BATCH = 7;
export const JOB_LINEAR_ROWS = 8;
export const JOB_LINEAR_GROUP = 9;
export const JOB_LINEAR_SWIGLU = 10;
export const JOB_ATTENTION_PROJECT = 11;
export const JOB_DECODE_LAYERS = 12;

// [lo, hi) of part t when `units` are split into nT near-equal parts
@inline function partLo(units: i32, t: i32, nT: i32): i32 {
  return <i32>((<i64>units * t) / nT);
}

/**
 * Part t of nT of: out[b] (+)= op(a[b])·op(B[b]) for b < batch, op(a) [m, k] (stored [k, m]
 * when flags & 4 = transA), op(B) [k, n] (stored [n, k] when flags & 1 = transB), out [m, n];
 * flags & 2 = accumulate. bStride: floats between B matrices. Single rows (m = 1, a not
 * transposed) run as matrix·vector; otherwise whole batches go to threads when there are
 * enough of them, else each matrix is split into strips of whole tiles: 8 columns, or 4 rows
 * when it is taller than wide.
 */
export function matmul(
  c: usize, a: usize, b: usize, m: i32, k: i32, n: i32, flags: i32, batch: i32, bStride: i32,
  t: i32, nT: i32, scratch: usize,
): void {
  const transB = (flags & 1) != 0, accumulate = (flags & 2) != 0, transA = (flags & 4) != 0;
  const aBytes = <usize>m * k * 4, bBytes = <usize>bStride * 4, cBytes = <usize>m * n * 4;
  if (m == 1) {
    // a single row reads the same whether stored [1, k] or [k, 1]
    const j0 = partLo(n, t, nT), j1 = partLo(n, t + 1, nT);
    if (j0 >= j1) return;
    for (let bi = 0; bi < batch; bi++) {
      const bb = b + <usize>bi * bBytes;
      for (let i = 0; i < m; i++) {
        const ai = a + <usize>bi * aBytes + <usize>i * k * 4, ci = c + <usize>bi * cBytes + <usize>i * n * 4;
        if (transB) gemvRows(ci, bb, ai, k, j0, j1, accumulate);
        else gevmCols(ci, ai, bb, k, n, j0, j1, accumulate);
      }
    }
    return;
  }
  if (nT > 1 && batch >= nT) {
    for (let bi = partLo(batch, t, nT); bi < partLo(batch, t + 1, nT); bi++) {
      gemmBlock(c + <usize>bi * cBytes, a + <usize>bi * aBytes, b + <usize>bi * bBytes, m, k, n, transA, transB, accumulate, 0, m, 0, n, scratch);
    }
    return;
  }
  let i0 = 0, i1 = m, j0 = 0, j1 = n;
  if (n >= m) {
    const strips = (n + 7) >> 3;
    j0 = partLo(strips, t, nT) << 3; j1 = min(n, partLo(strips, t + 1, nT) << 3);
  } else {
    const strips = (m + 3) >> 2;
    i0 = partLo(strips, t, nT) << 2; i1 = min(m, partLo(strips, t + 1, nT) << 2);
  }
  if (i0 >= i1 || j0 >= j1) return;
  for (let bi = 0; bi < batch; bi++) {
    gemmBlock(c + <usize>bi * cBytes, a + <usize>bi * aBytes, b + <usize>bi * bBytes, m, k, n, transA, transB, accumulate, i0, i1, j0, j1, scratch);
  }
}

/** Part t of nT of out[r] = Σ_c w[r, c]·x[c], split by rows in multiples of 4. */
export function matvec(out: usize, w: usize, x: usize, rows: i32, cols: i32, t: i32, nT: i32): void {
  const quads = (rows + 3) >> 2;
  const r0 = partLo(quads, t, nT) << 2, r1 = min(rows, partLo(quads, t + 1, nT) << 2);
  if (r0 < r1) gemvRows(out, w, x, cols, r0, r1, false);
}

/**
 * Part t of nT of out[r] = W·x[r] for rows of x [rows, k], W [n, k] (linear.ts), split by output
 * features in multiples of 4: a thread computes whole sums, so the result is the same bits for
 * any thread count and any number of rows.
 */
export function linear(out: usize, x: usize, w: usize, rows: i32, k: i32, n: i32, t: i32, nT: i32, scratch: usize): void {
  const quads = (n + 3) >> 2;
  const j0 = partLo(quads, t, nT) << 2, j1 = min(n, partLo(quads, t + 1, nT) << 2);
  if (j0 < j1) linearOutputs(out, x, w, rows, k, n, j0, j1, scratch);
}

/**
 * Part t of nT of linear() for `count` weights over the same rows x [rows, k] in one job (a
 * block's q, k and v projections; its gate and up): `table` holds count × [out, w, n] (i32: two
 * addresses and the weight's output features). The parts split the weights' output quads taken
 * one weight after the other, so a part may end in one weight and go on in the next; every output
 * is computed whole by one thread, as linear() computes it: the same bits as one linear() per weight.
 */
export function linearGroup(x: usize, rows: i32, k: i32, table: usize, count: i32, t: i32, nT: i32, scratch: usize): void {
  let quads = 0;
  for (let i = 0; i < count; i++) quads += (load<i32>(table + <usize>i * 12, 8) + 3) >> 2;
  const lo = partLo(quads, t, nT), hi = partLo(quads, t + 1, nT);
  let first = 0; // the weight's first quad in the concatenation
  for (let i = 0; i < count && first < hi; i++) {
    const entry = table + <usize>i * 12;
    const n = load<i32>(entry, 8), own = (n + 3) >> 2;
    const q0 = max(lo, first), q1 = min(hi, first + own);
    if (q0 < q1) {
      const out = <usize>load<u32>(entry), w = <usize>load<u32>(entry, 4);
      linearOutputs(out, x, w, rows, k, n, (q0 - first) << 2, min(n, (q1 - first) << 2), scratch);
    }
    first += own;
  }
}

/**
 * Part t of nT of a SwiGLU MLP's first half over rows of x [rows, k]: gate[r] = Wg·x[r] and
 * up[r] = Wu·x[r] (both weights [n, k], linear()'s sums), then gate[r] ← silu(gate[r])·up[r]
 * (elementwise.ts swiglu). Split by output quads as linear() is, the same quads of both weights
 * in one part, so the thread that computes a gate output and its up output applies the SwiGLU to
 * them while they sit in its cache: the caller has no SwiGLU pass left to run alone after the
 * hand-off, and the halves never cross to another core. SwiGLU is lanewise, so every output is
 * linear()'s and then swiglu()'s bits for any split.
 */
export function linearSwiglu(
  x: usize, rows: i32, k: i32, wGate: usize, wUp: usize, gate: usize, up: usize, n: i32, t: i32, nT: i32, scratch: usize,
): void {
  const quads = (n + 3) >> 2;
  const j0 = partLo(quads, t, nT) << 2, j1 = min(n, partLo(quads, t + 1, nT) << 2);
  if (j0 >= j1) return;
  linearOutputs(gate, x, wGate, rows, k, n, j0, j1, scratch);
  linearOutputs(up, x, wUp, rows, k, n, j0, j1, scratch);
  for (let r = 0; r < rows; r++) {
    const at = (<usize>r * n + j0) << 2;
    swiglu(gate + at, gate + at, up + at, j1 - j0);
  }
}

/**
 * Part t of a linear() split by rows of x, `rowsPerPart` each (the last part takes what is left),
 * for a caller that uses rows as they are finished (the logits of a decode step, sampled while
 * the pool computes the next rows: WasmBackend.linearEach). Each row's sums are linear()'s, the
 * same bits for any split. When the part's outputs are written, readyFlags[t] (i32) becomes 1:
 * a sequentially consistent store after them, so a thread that reads 1 sees the rows; waiters
 * on it are woken.
 */
function linearByRows(
  out: usize, x: usize, w: usize, rows: i32, k: i32, n: i32, rowsPerPart: i32, readyFlags: usize, t: i32, scratch: usize,
): void {
  const r0 = t * rowsPerPart, r1 = min(rows, r0 + rowsPerPart);
  if (r0 < r1) linear(out + <usize>r0 * n * 4, x + <usize>r0 * k * 4, w, r1 - r0, k, n, 0, 1, scratch);
  const flag = readyFlags + <usize>t * 4;
  atomic.store<i32>(flag, 1);
  atomic.notify(flag);
}

/**
 * Part t of nT of out[r, o] = W[o] · a[r] for quantized (or f16) weights W (see quant-dot.ts),
 * split by output rows o.
 */
export function matmulQuant(type: i32, out: usize, a: usize, w: usize, rows: i32, k: i32, n: i32, t: i32, nT: i32, scratch: usize): void {
  if (type == Q4_0_TILES) {
    // whole row groups of four per thread
    const g0 = partLo(n >> 2, t, nT) << 2, g1 = partLo(n >> 2, t + 1, nT) << 2;
    if (g0 < g1) matmulQuantTiles(out, a, w, rows, k, n, g0, g1);
    return;
  }
  const o0 = partLo(n, t, nT), o1 = partLo(n, t + 1, nT);
  if (o0 < o1) matmulQuantRows(type, out, a, w, rows, k, n, o0, o1, scratch);
}

/** Part t of nT of causal attention (see attention.ts), split over (query, head) units. */
export function attention(
  out: usize, q: usize, k: usize, v: usize, probs: usize,
  seqQ: i32, seqKv: i32, nHeads: i32, nKvHeads: i32, headDim: i32, kvStride: i32,
  t: i32, nT: i32, scratch: usize,
): void {
  const units = nHeads * seqQ;
  attentionRows(out, q, k, v, probs, seqQ, seqKv, nHeads, nKvHeads, headDim, kvStride,
    partLo(units, t, nT), partLo(units, t + 1, nT), scratch);
}

/** Part t of nT of causal attention over packed K and V rows (see attention-packed.ts), split as attention is. */
export function attentionPacked(
  out: usize, q: usize, k: usize, v: usize, probs: usize, kType: i32, vType: i32, kRowBytes: i32, vRowBytes: i32,
  seqQ: i32, seqKv: i32, nHeads: i32, nKvHeads: i32, headDim: i32, t: i32, nT: i32, scratch: usize,
): void {
  const units = nHeads * seqQ;
  attentionPackedRows(out, q, k, v, probs, kType, vType, <usize>kRowBytes, <usize>vRowBytes, seqQ, seqKv, nHeads, nKvHeads, headDim,
    partLo(units, t, nT), partLo(units, t + 1, nT), scratch);
}

/**
 * Part t of nT of a batched decode step's attention (attention.ts's attentionBatch), split by
 * whole table entries: each row's attention runs on one thread, start to end, so its bits are
 * the ones a 1-thread call gives.
 */
function attentionBatch(
  out: usize, q: usize, table: usize, nHeads: i32, nKvHeads: i32, headDim: i32, kvStride: i32, entries: i32,
  t: i32, nT: i32, scratch: usize,
): void {
  attentionBatchEntries(out, q, table, nHeads, nKvHeads, headDim, kvStride, partLo(entries, t, nT), partLo(entries, t + 1, nT), scratch);
}

/**
 * Part t of nT of a batched decode step's attention (attentionBatch above) and then the
 * projection of its output rows, projected[r] = W·out[r] (W [n, nHeads·headDim]: a block's
 * o_proj; linear()'s sums), split by whole rows: the thread that computed a row's attention
 * projects it while it sits in its cache, and the caller hands the pool one job instead of two.
 * The table must hold every row, row e in entry e. linear() is batch-invariant (linear.ts), so
 * a row projected among any other rows is the same bits as in one call over all of them.
 */
function attentionProject(
  out: usize, q: usize, table: usize, nHeads: i32, nKvHeads: i32, headDim: i32, kvStride: i32, entries: i32,
  w: usize, projected: usize, n: i32, t: i32, nT: i32, scratch: usize,
): void {
  const e0 = partLo(entries, t, nT), e1 = partLo(entries, t + 1, nT);
  if (e0 >= e1) return;
  attentionBatchEntries(out, q, table, nHeads, nKvHeads, headDim, kvStride, e0, e1, scratch);
  const width = nHeads * headDim;
  linearOutputs(projected + <usize>e0 * n * 4, out + <usize>e0 * width * 4, w, e1 - e0, width, n, 0, n, scratch);
}

// Part `part` of `parts` of the job in the control block, on thread-private scratch.
function runPart(ctrl: usize, part: i32, parts: i32, scratch: usize): void {
  const p = ctrl + ARGS;
  switch (load<i32>(ctrl + KIND)) {
    case JOB_MATMUL:
      matmul(load<u32>(p), load<u32>(p, 4), load<u32>(p, 8), load<i32>(p, 12), load<i32>(p, 16), load<i32>(p, 20),
        load<i32>(p, 24), load<i32>(p, 28), load<i32>(p, 32), part, parts, scratch);
      break;
    case JOB_MATVEC:
      matvec(load<u32>(p), load<u32>(p, 4), load<u32>(p, 8), load<i32>(p, 12), load<i32>(p, 16), part, parts);
      break;
    case JOB_LINEAR:
      linear(load<u32>(p), load<u32>(p, 4), load<u32>(p, 8), load<i32>(p, 12), load<i32>(p, 16), load<i32>(p, 20),
        part, parts, scratch);
      break;
    case JOB_ATTENTION:
      attention(load<u32>(p), load<u32>(p, 4), load<u32>(p, 8), load<u32>(p, 12), load<u32>(p, 16),
        load<i32>(p, 20), load<i32>(p, 24), load<i32>(p, 28), load<i32>(p, 32), load<i32>(p, 36), load<i32>(p, 40),
        part, parts, scratch);
      break;
    case JOB_MATMUL_QUANT:
      matmulQuant(load<i32>(p), load<u32>(p, 4), load<u32>(p, 8), load<u32>(p, 12), load<i32>(p, 16), load<i32>(p, 20), load<i32>(p, 24),
        part, parts, scratch);
      break;
    case JOB_ATTENTION_PACKED:
      attentionPacked(load<u32>(p), load<u32>(p, 4), load<u32>(p, 8), load<u32>(p, 12), load<u32>(p, 16), load<i32>(p, 20), load<i32>(p, 24),
        load<i32>(p, 28), load<i32>(p, 32), load<i32>(p, 36), load<i32>(p, 40), load<i32>(p, 44), load<i32>(p, 48), load<i32>(p, 52),
        part, parts, scratch);
      break;
    case JOB_ATTENTION_BATCH:
      attentionBatch(load<u32>(p), load<u32>(p, 4), load<u32>(p, 8), load<i32>(p, 12), load<i32>(p, 16), load<i32>(p, 20),
        load<i32>(p, 24), load<i32>(p, 28), part, parts, scratch);
      break;
    case JOB_LINEAR_GROUP:
      linearGroup(load<u32>(p), load<i32>(p, 4), load<i32>(p, 8), load<u32>(p, 12), load<i32>(p, 16), part, parts, scratch);
      break;
    case JOB_LINEAR_SWIGLU:
      linearSwiglu(load<u32>(p), load<i32>(p, 4), load<i32>(p, 8), load<u32>(p, 12), load<u32>(p, 16), load<u32>(p, 20), load<u32>(p, 24),
        load<i32>(p, 28), part, parts, scratch);
      break;
    case JOB_ATTENTION_PROJECT:
      attentionProject(load<u32>(p), load<u32>(p, 4), load<u32>(p, 8), load<i32>(p, 12), load<i32>(p, 16), load<i32>(p, 20),
        load<i32>(p, 24), load<i32>(p, 28), load<u32>(p, 32), load<u32>(p, 36), load<i32>(p, 40), part, parts, scratch);
      break;
    case JOB_DECODE_LAYERS:
      // parts are the descriptor's row ranges (decode-rows.ts), cut by the host by estimated cost
      decodeLayersPart(load<u32>(p), part, scratch);
      break;
    case JOB_LINEAR_ROWS:
      linearByRows(load<u32>(p), load<u32>(p, 4), load<u32>(p, 8), load<i32>(p, 12), load<i32>(p, 16), load<i32>(p, 20),
        load<i32>(p, 24), load<u32>(p, 28), part, scratch);
      break;
    default:
      unreachable();
  }
}

/** Thread t claims and runs parts of job generation `gen` until none are left. */
export function runJob(ctrl: usize, t: i32, gen: i32): void {
  while (runJobPart(ctrl, t, gen) >= 0);
}

/**
 * Thread t claims and runs ONE part of job generation `gen`: returns its index, or −1 when every
 * part is claimed (or the job is over). The calling thread's step between its own parts
 * (WasmBackend.linearEach uses finished rows while the workers go on).
 */
export function runJobPart(ctrl: usize, t: i32, gen: i32): i32 {
  const tag = gen & 0xffff;
  while (true) {
    const next = atomic.load<i32>(ctrl + NEXT);
    if (<i32>(<u32>next >>> 16) != tag) return -1;
    const parts = atomic.load<i32>(ctrl + NCHUNKS);
    const part = next & 0xffff;
    if (part >= parts) return -1;
    if (atomic.cmpxchg<i32>(ctrl + NEXT, next, next + 1) != next) continue;
    const scratch = <usize>load<u32>(ctrl + SCRATCH) + <usize>t * <usize>load<u32>(ctrl + SCRATCH_STRIDE);
    runPart(ctrl, part, parts, scratch);
    if (atomic.add<i32>(ctrl + DONE, 1) + 1 == parts) atomic.notify(ctrl + DONE, 1);
    return part;
  }
}
