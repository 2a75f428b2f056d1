import { headDimOf } from "./config";
import type { KVStore } from "./kv-cache";
import { KV_CHUNK_POSITIONS, type ChunkBuffers } from "./run-state";
import type { Runtime } from "./steps";

// Passed instead of nothing: a kernel's `opts = {}` default would otherwise allocate an object
// per call, i.e. per layer per token. Frozen so no kernel can leave state in it.
const NO_OPTIONS: { kvStride?: number; probs?: Float32Array } = Object.freeze({});

/**
 * Causal grouped-query attention of `seqQ` query rows q [seqQ, nHeads, headDim] over cached
 * positions 0 … seqKv-1 (query i sits at position seqKv - seqQ + i) into out [seqQ, nHeads, headDim].
 * With `probs` ([nHeads, seqQ, seqKv]) the softmaxed weights are written there too.
 *
 * f32 stores go straight to the backend's `attention`, which reads the cache in place; stores in
 * a packed layout (f16, q8_0, q4_0, q4_1 rows; with an f32 half too) to `attentionPacked`, which
 * reads their bytes in place. Only a store of some other layout goes through attendChunked.
 */
export function attend(
  rt: Runtime, out: Float32Array, q: Float32Array, seqQ: number,
  keys: KVStore, values: KVStore, seqKv: number, probs?: Float32Array,
): void {
  const { nHeads, nKvHeads } = rt.config;
  const headDim = headDimOf(rt.config);
  const k = keys.f32Rows, v = values.f32Rows;
  const pk = keys.packed, pv = values.packed;
  if (k && v) {
    rt.backend.attention(out, q, k, v, seqQ, seqKv, nHeads, nKvHeads, headDim, probs ? { probs } : NO_OPTIONS);
  } else if (pk && pv) {
    rt.backend.attentionPacked(out, q, pk.bytes, pv.bytes, pk.type, pv.type, seqQ, seqKv, nHeads, nKvHeads, headDim, probs ? { probs } : NO_OPTIONS);
  } else {
    attendChunked(rt, out, q, seqQ, keys, values, seqKv, probs);
  }
}

/**
 * The same attention over a store that cannot be read in place: positions are unpacked
 * KV_CHUNK_POSITIONS at a time into two small buffers of the run state, and the softmax runs
 * online across chunks (flash-attention style): per query row and head we keep the running
 * maximum m and normaliser l of the scores seen so far; a chunk with a larger maximum m' rescales
 * the partial output and l by exp(m − m') before adding its own exp(s − m')-weighted values.
 * At the end out /= l. This is exact softmax attention (up to rounding), in O(chunk) memory.
 *
 * Plain loops: a packed KV cache trades speed for memory, and the arithmetic here is a small
 * part of a decode step (one dot product per cached position and head).
 */
export function attendChunked(
  rt: Runtime, out: Float32Array, q: Float32Array, seqQ: number,
  keys: KVStore, values: KVStore, seqKv: number, probs?: Float32Array,
): void {
  const { nHeads, nKvHeads } = rt.config;
  const headDim = headDimOf(rt.config);
  const rowLen = nKvHeads * headDim;
  const group = nHeads / nKvHeads;
  const buffers = rt.state.chunkBuffers();
  const { kChunk, vChunk, scores, runningMax, runningSum } = buffers;
  const rows = seqQ * nHeads;
  for (let r = 0; r < rows; r++) {
    runningMax[r] = -Infinity;
    runningSum[r] = 0;
  }
  out.fill(0, 0, rows * headDim);

  for (let c0 = 0; c0 < seqKv; c0 += KV_CHUNK_POSITIONS) {
    const n = Math.min(KV_CHUNK_POSITIONS, seqKv - c0);
    keys.readRows(c0, n, kChunk, 0);
    values.readRows(c0, n, vChunk, 0);
    for (let i = 0; i < seqQ; i++) {
      const last = seqKv - seqQ + i; // query i sees keys 0 … last
      if (c0 > last) continue;
      const visible = Math.min(n, last - c0 + 1);
      for (let h = 0; h < nHeads; h++) {
        const r = i * nHeads + h;
        chunkStep(out, q, r * headDim, Math.floor(h / group) * headDim, rowLen, headDim, visible, buffers, r);
        if (probs) {
          const base = (h * seqQ + i) * seqKv + c0;
          for (let t = 0; t < visible; t++) probs[base + t] = scores[t]; // raw scores, normalised at the end
        }
      }
    }
  }

  for (let i = 0; i < seqQ; i++) {
    const last = seqKv - seqQ + i;
    for (let h = 0; h < nHeads; h++) {
      const r = i * nHeads + h;
      const inv = 1 / runningSum[r];
      const qOff = r * headDim;
      for (let d = 0; d < headDim; d++) out[qOff + d] *= inv;
      if (!probs) continue;
      const base = (h * seqQ + i) * seqKv;
      for (let t = 0; t < seqKv; t++) probs[base + t] = t <= last ? Math.exp(probs[base + t] - runningMax[r]) * inv : 0;
    }
  }
}

/**
 * One query head (row r of the online-softmax state) against the first `visible` positions of the
 * current chunk. Only integers and arrays cross the call, so no double is boxed on the way
 * (inlined into one large loop nest, V8 sometimes boxed one per call: measured 16 bytes).
 */
function chunkStep(
  out: Float32Array, q: Float32Array, qOff: number, kvOff: number, rowLen: number, headDim: number,
  visible: number, buffers: ChunkBuffers, r: number,
): void {
  // computed here, not passed in: a double argument to a call that is not inlined is boxed
  const scale = 1 / Math.sqrt(headDim);
  const { kChunk, vChunk, scores, runningMax, runningSum } = buffers;
  let chunkMax = -Infinity;
  for (let t = 0; t < visible; t++) {
    const kOff = t * rowLen + kvOff;
    let dot = 0;
    for (let d = 0; d < headDim; d++) dot += q[qOff + d] * kChunk[kOff + d];
    const s = dot * scale;
    scores[t] = s;
    if (s > chunkMax) chunkMax = s;
  }
  const m = Math.max(runningMax[r], chunkMax);
  const correction = Math.exp(runningMax[r] - m); // 0 for the first chunk (exp(−∞)), 1 when the max holds
  let sum = runningSum[r] * correction;
  for (let d = 0; d < headDim; d++) out[qOff + d] *= correction;
  for (let t = 0; t < visible; t++) {
    const p = Math.exp(scores[t] - m);
    sum += p;
    const vOff = t * rowLen + kvOff;
    for (let d = 0; d < headDim; d++) out[qOff + d] += p * vChunk[vOff + d];
  }
  runningMax[r] = m;
  runningSum[r] = sum;
}
