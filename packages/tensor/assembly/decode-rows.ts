// Every layer of a batched decode step for a range of its rows, on one thread. In a decode step
// each row is one token of its own sequence, and every kernel of a Llama block is batch-invariant
// (a row's bits never depend on the rows beside it: linear.ts, attention.ts, rowwise.ts), so the
// threads need not meet inside a layer at all: each takes whole rows through all the layers, and
// a step is one hand-off instead of one per projection (WasmBackend.decodeLayers). Each kernel is
// the one the per-op path calls, so a row's bits are that path's. Consecutive rows may be
// consecutive tokens of one sequence (a prompt chunk, a speculative verify): layer by layer a part
// writes all its rows' keys and values before its attention, and each row's seqKv stops at its own
// position, so such a run is a causal chunk, provided the host keeps it inside one part.
//
// The step descriptor (i32 slots at `desc`, written by the host, src/backend/wasm-decode-layers.ts):
//
//   0 x   1 xb   2 xb2   3 q   4 k   5 v   6 hb   7 hb2     row-major buffers [rows, width]
//   8 dim   9 hiddenDim   10 nHeads   11 nKvHeads   12 headDim   13 nLayers
//   14 eps (f32 bits)   15 rope table (rope.ts)   16 interleaved (0/1)
//   17 layer table: nLayers × 9 u32 addresses | attnNorm wq wk wv wo ffnNorm wGate wUp wDown |
//   18 entries: nLayers × rows attentionBatch entries (attention.ts BATCH_ENTRY_BYTES), layer-major:
//      | row | keys | values | seqKv | with keys/values that row's f32 cache of that layer; the
//      row's position is seqKv − 1 (its new key and value are written there)
//   19 rows   20 bounds: parts + 1 i32 row boundaries (part t = rows [bounds[t], bounds[t+1]))
//
// Llama only, as the host checks: RMSNorm, RoPE, SwiGLU, no biases, f32 weights and caches,
// q [rows, nHeads·headDim] with nHeads·headDim = dim.
import { rmsnorm } from "./rowwise";
import { rope } from "./rope";
import { add, swiglu } from "./elementwise";
import { attentionBatch, BATCH_ENTRY_BYTES } from "./attention";
import { linearOutputs } from "./linear";
import { copyRow } from "./simd";

export const DECODE_DESC_SLOTS: i32 = 21;
export const DECODE_LAYER_SLOTS: i32 = 9;

@inline function slot(desc: usize, i: i32): i32 {
  return load<i32>(desc + (<usize>i << 2));
}

/** Part `part` of a decode step: every layer for rows bounds[part] … bounds[part + 1] − 1. */
export function decodeLayersPart(desc: usize, part: i32, scratch: usize): void {
  const bounds = <usize>slot(desc, 20);
  const r0 = load<i32>(bounds + (<usize>part << 2)), r1 = load<i32>(bounds + (<usize>(part + 1) << 2));
  if (r0 < r1) decodeLayers(desc, r0, r1, scratch);
}

/**
 * Rows r0 ≤ r < r1 through every layer, in the per-op path's order: x += Wo·attend(rope(Wq·n),
 * rope(Wk·n), Wv·n) with n = rmsnorm(x), the new key and value appended first; then
 * x += Wdown·swiglu(Wgate·n′, Wup·n′) with n′ = rmsnorm(x).
 */
function decodeLayers(desc: usize, r0: i32, r1: i32, scratch: usize): void {
  const dim = slot(desc, 8), hidden = slot(desc, 9), nHeads = slot(desc, 10), nKvHeads = slot(desc, 11), headDim = slot(desc, 12);
  const nLayers = slot(desc, 13), eps = reinterpret<f32>(slot(desc, 14));
  const ropeTable = <usize>slot(desc, 15), interleaved = slot(desc, 16) != 0;
  const layerTable = <usize>slot(desc, 17), entries = <usize>slot(desc, 18), allRows = slot(desc, 19);
  const kvDim = nKvHeads * headDim, rows = r1 - r0;
  const dimBytes = <usize>dim * 4, kvBytes = <usize>kvDim * 4, hiddenBytes = <usize>hidden * 4;
  // this part's rows of each buffer
  const x = <usize>slot(desc, 0) + <usize>r0 * dimBytes, xb = <usize>slot(desc, 1) + <usize>r0 * dimBytes;
  const xb2 = <usize>slot(desc, 2) + <usize>r0 * dimBytes, q = <usize>slot(desc, 3) + <usize>r0 * dimBytes;
  const k = <usize>slot(desc, 4) + <usize>r0 * kvBytes, v = <usize>slot(desc, 5) + <usize>r0 * kvBytes;
  const hb = <usize>slot(desc, 6) + <usize>r0 * hiddenBytes, hb2 = <usize>slot(desc, 7) + <usize>r0 * hiddenBytes;
  for (let l = 0; l < nLayers; l++) {
    const w = layerTable + <usize>l * DECODE_LAYER_SLOTS * 4;
    const layerEntries = entries + <usize>l * allRows * BATCH_ENTRY_BYTES;
    // attention
    rmsnorm(xb, x, load<u32>(w), rows, dim, eps);
    linearOutputs(q, xb, load<u32>(w, 4), rows, dim, dim, 0, dim, scratch);
    linearOutputs(k, xb, load<u32>(w, 8), rows, dim, kvDim, 0, kvDim, scratch);
    linearOutputs(v, xb, load<u32>(w, 12), rows, dim, kvDim, 0, kvDim, scratch);
    for (let r = 0; r < rows; r++) {
      const entry = layerEntries + <usize>(r0 + r) * BATCH_ENTRY_BYTES;
      const pos = load<i32>(entry, 12) - 1;
      const kr = k + <usize>r * kvBytes, vr = v + <usize>r * kvBytes;
      rope(q + <usize>r * dimBytes, 1, nHeads, headDim, pos, ropeTable, interleaved);
      rope(kr, 1, nKvHeads, headDim, pos, ropeTable, interleaved);
      copyRow(<usize>load<u32>(entry, 4) + <usize>pos * kvBytes, kr, kvBytes);
      copyRow(<usize>load<u32>(entry, 8) + <usize>pos * kvBytes, vr, kvBytes);
    }
    // out and q are the whole buffers: each entry names its row
    attentionBatch(<usize>slot(desc, 1), <usize>slot(desc, 3), layerEntries, nHeads, nKvHeads, headDim, kvDim, r0, r1, scratch);
    linearOutputs(xb2, xb, load<u32>(w, 16), rows, dim, dim, 0, dim, scratch);
    add(x, x, xb2, rows * dim);
    // SwiGLU MLP; the SwiGLU row by row, as linearSwiglu applies it (jobs.ts)
    rmsnorm(xb, x, load<u32>(w, 20), rows, dim, eps);
    linearOutputs(hb, xb, load<u32>(w, 24), rows, dim, hidden, 0, hidden, scratch);
    linearOutputs(hb2, xb, load<u32>(w, 28), rows, dim, hidden, 0, hidden, scratch);
    for (let r = 0; r < rows; r++) {
      const at = <usize>r * hiddenBytes;
      swiglu(hb + at, hb + at, hb2 + at, hidden);
    }
    linearOutputs(xb2, hb, load<u32>(w, 32), rows, hidden, dim, 0, dim, scratch);
    add(x, x, xb2, rows * dim);
  }
}
