// The reference attention over a packed KV cache: js attention's loops (src/backend/js.ts) with
// each cached head row decoded by kvRowValues first. With f32 rows it gives js attention's bits.
import { TensorError } from "../errors";
import { checkCount, checkLength, shapeMismatch } from "../backend/arg-checks";
import { kvRowBytes, kvRowValues, kvTypeInfo, KV_TYPES, type KvType } from "./kv";
import { quantizeRowQ8, quantizeRowQ8Groups, type QuantizedRow } from "./activation";
import { dotQ4_0, dotQ4_1, dotQ8_0 } from "./reference";
import { f16ToF32 } from "../dtype/half";

// Reused across calls (grown on demand): a decode step allocates nothing here.
let scoreRow: Float32Array = new Float32Array(64);
let headRow: Float32Array = new Float32Array(64);
let queryCodes: QuantizedRow = { codes: new Int8Array(0), scales: new Float32Array(0), sums: new Int32Array(0) };
function queryScratch(headDim: number): QuantizedRow {
  if (queryCodes.codes.length < headDim) {
    queryCodes = { codes: new Int8Array(headDim), scales: new Float32Array(headDim / 16), sums: new Int32Array(headDim / 16) };
  }
  return queryCodes;
}
function grown(array: Float32Array, length: number): Float32Array {
  return array.length >= length ? array : new Float32Array(Math.max(length, 2 * array.length));
}

const f32 = Math.fround;
const f16At = (bytes: Uint8Array, at: number): number => f16ToF32(bytes[at] | (bytes[at + 1] << 8));
const halfLanes = new Float64Array(4);

/**
 * q·k for a head slice [start, start + count) of a packed q8_0 / q4_0 / q4_1 row at rowOffset
 * whose start and count are multiples of 16 (a head of 48 starts on a block or in its middle),
 * against a query head quantized per 16 (quantizeRowQ8Groups): per half block, an exact integer
 * Σ code·q, then (d_k·d_q)·Σ (q4_0: Σ (code − 8)·q = Σ code·q − 8·Σ q; q4_1: + (m_k·d_q)·Σ q), in
 * float32. Half i goes into running sum i mod 4, added as (s0 + s2) + (s1 + s3): the wasm
 * kernel's lanes (assembly/kv-halves.ts), so both give the same bits.
 */
export function dotHalves(type: "q8_0" | "q4_0" | "q4_1", k: Uint8Array, rowOffset: number, start: number, query: QuantizedRow, count: number): number {
  const { blockBytes } = KV_TYPES[type];
  for (let i = 0; i < count / 16; i++) {
    const e = start + 16 * i;
    const block = rowOffset + (e >> 5) * blockBytes, second = (e & 16) !== 0;
    let isum = 0;
    for (let j = 0; j < 16; j++) {
      let code: number;
      if (type === "q8_0") code = (k[block + 2 + (second ? 16 : 0) + j] << 24) >> 24;
      else {
        const byte = k[block + (type === "q4_1" ? 4 : 2) + j];
        code = second ? byte >> 4 : byte & 0xf;
      }
      isum += code * query.codes[16 * i + j];
    }
    const dq = query.scales[i];
    if (type === "q4_0") isum -= 8 * query.sums[i];
    let term = f32(f32(f16At(k, block) * dq) * isum);
    if (type === "q4_1") term = f32(term + f32(f32(f16At(k, block + 2) * dq) * query.sums[i]));
    halfLanes[i & 3] = f32(halfLanes[i & 3] + term);
  }
  const total = f32(f32(halfLanes[0] + halfLanes[2]) + f32(halfLanes[1] + halfLanes[3]));
  halfLanes.fill(0);
  return total;
}

/**
 * The boundary check of `attentionPacked` on every backend: the types exist, the sizes are
 * consistent and the arrays hold what they say. Returns the two row strides in bytes.
 */
export function checkAttentionPacked(
  backend: string, out: Float32Array, q: Float32Array, k: Uint8Array, v: Uint8Array, kType: KvType, vType: KvType,
  seqQ: number, seqKv: number, nHeads: number, nKvHeads: number, headDim: number, probs: Float32Array | undefined,
): { kRowBytes: number; vRowBytes: number } {
  kvTypeInfo(kType);
  kvTypeInfo(vType);
  const op = "attentionPacked";
  checkCount(backend, op, "seqQ", seqQ);
  checkCount(backend, op, "seqKv", seqKv);
  checkCount(backend, op, "nHeads", nHeads);
  checkCount(backend, op, "nKvHeads", nKvHeads);
  checkCount(backend, op, "headDim", headDim);
  if (seqKv < seqQ || nKvHeads === 0 || nHeads % nKvHeads !== 0) {
    throw new TensorError(
      "INVALID_ARGUMENT",
      `${backend} attentionPacked: expected seqKv ≥ seqQ and nHeads a multiple of nKvHeads > 0, found seqQ ${seqQ}, seqKv ${seqKv}, nHeads ${nHeads}, nKvHeads ${nKvHeads}`,
    );
  }
  const rowLen = nKvHeads * headDim;
  const kRow = kvRowBytes(kType, rowLen), vRow = kvRowBytes(vType, rowLen);
  checkLength(backend, op, "q", q.length, seqQ * nHeads * headDim);
  if (k.length < seqKv * kRow) shapeMismatch(backend, op, `k (${kType} rows)`, k.length, seqKv * kRow);
  if (v.length < seqKv * vRow) shapeMismatch(backend, op, `v (${vType} rows)`, v.length, seqKv * vRow);
  checkLength(backend, op, "out", out.length, seqQ * nHeads * headDim);
  if (probs) checkLength(backend, op, "probs", probs.length, nHeads * seqQ * seqKv);
  return { kRowBytes: kRow, vRowBytes: vRow };
}

/**
 * Causal grouped-query attention as the js backend's `attention`, over packed rows. Scores with
 * a q8_0 / q4_0 / q4_1 key cache whose heads are whole blocks (headDim a multiple of 32) are taken
 * as llama.cpp takes them: the query head is quantized to Q8_0 codes (activation.ts's rule) and
 * each cached head slice is multiplied in integers per block (reference.ts's dot products, the
 * matmulQuant ones). Heads of a multiple of 16 that share blocks (48) are scored the same way per
 * half block, the query quantized per 16 values (dotHalves). Other caches (f32, f16, other head
 * sizes) and every value row are decoded to floats.
 */
export function attentionPackedReference(
  out: Float32Array, q: Float32Array, k: Uint8Array, v: Uint8Array, kType: KvType, vType: KvType,
  seqQ: number, seqKv: number, nHeads: number, nKvHeads: number, headDim: number, probs?: Float32Array,
): void {
  const rowLen = nKvHeads * headDim;
  const kRow = kvRowBytes(kType, rowLen), vRow = kvRowBytes(vType, rowLen);
  const group = nHeads / nKvHeads;
  const scale = 1 / Math.sqrt(headDim);
  const scores = (scoreRow = grown(scoreRow, seqKv));
  const head = (headRow = grown(headRow, headDim));
  const blockType = kType === "q8_0" || kType === "q4_0" || kType === "q4_1" ? kType : null;
  const blockDot = headDim % 32 !== 0 ? null : kType === "q8_0" ? dotQ8_0 : kType === "q4_0" ? dotQ4_0 : kType === "q4_1" ? dotQ4_1 : null;
  const halves = blockType !== null && headDim % 32 !== 0 && headDim % 16 === 0 ? blockType : null;
  const codes = queryScratch(headDim);
  for (let h = 0; h < nHeads; h++) {
    const kvHead = Math.floor(h / group);
    for (let i = 0; i < seqQ; i++) {
      const qOff = (i * nHeads + h) * headDim;
      const last = seqKv - seqQ + i; // causal: this query sees keys 0..last
      if (blockDot) quantizeRowQ8(q, qOff, headDim, codes);
      else if (halves) quantizeRowQ8Groups(q, qOff, headDim, 16, codes);
      let max = -Infinity;
      for (let t = 0; t <= last; t++) {
        if (blockDot) {
          scores[t] = blockDot(k, t * kRow + kvHead * (headDim / 32) * KV_TYPES[kType].blockBytes, codes, headDim) * scale;
        } else if (halves) {
          scores[t] = dotHalves(halves, k, t * kRow, kvHead * headDim, codes, headDim) * scale;
        } else {
          kvRowValues(kType, k, t * kRow, kvHead * headDim, headDim, head, 0);
          let dot = 0;
          for (let d = 0; d < headDim; d++) dot += q[qOff + d] * head[d];
          scores[t] = dot * scale;
        }
        max = Math.max(max, scores[t]);
      }
      let sum = 0;
      for (let t = 0; t <= last; t++) {
        scores[t] = Math.exp(scores[t] - max);
        sum += scores[t];
      }
      const oOff = (i * nHeads + h) * headDim;
      for (let d = 0; d < headDim; d++) out[oOff + d] = 0;
      for (let t = 0; t < seqKv; t++) {
        const p = t <= last ? scores[t] / sum : 0;
        if (probs) probs[(h * seqQ + i) * seqKv + t] = p;
        if (p === 0) continue;
        kvRowValues(vType, v, t * vRow, kvHead * headDim, headDim, head, 0);
        for (let d = 0; d < headDim; d++) out[oOff + d] = out[oOff + d] + p * head[d];
      }
    }
  }
}
