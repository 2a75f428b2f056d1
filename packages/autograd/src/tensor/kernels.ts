/**
 * Backward computations built from several backend kernels (the attention backward as batched
 * products), the rotary backward, and plain-loop references the tests hold the fast paths to.
 * They accumulate (`+=`) into gradient buffers.
 */
import type { Backend } from "@zero-llm/tensor";
import { emptyF32 } from "./alloc";

/**
 * Rotary embedding as a rotation by `sign` × the angle, on x [batch, seq, nHeads, headDim],
 * accumulated into out (out += R(±θ)·x). Pair i at position p turns by p·theta^(−2i/headDim),
 * the backend's convention. The backward of a rotation is the rotation by −θ (its transpose).
 */
export function ropeRotateAdd(
  out: Float32Array, x: Float32Array, batch: number, seq: number, nHeads: number, headDim: number,
  pos0: number, theta: number, style: "interleaved" | "half", sign: 1 | -1,
): void {
  const half = headDim / 2;
  for (let s = 0; s < seq; s++) {
    const pos = pos0 + s;
    for (let i = 0; i < half; i++) {
      const angle = pos * Math.pow(theta, (-2 * i) / headDim);
      const cos = Math.cos(angle), sin = sign * Math.sin(angle);
      for (let b = 0; b < batch; b++) {
        for (let h = 0; h < nHeads; h++) {
          const base = ((b * seq + s) * nHeads + h) * headDim;
          // interleaved pairs (x[2i], x[2i+1]); half-split pairs (x[i], x[i + headDim/2])
          const i0 = style === "interleaved" ? base + 2 * i : base + i;
          const i1 = style === "interleaved" ? base + 2 * i + 1 : base + i + half;
          const x0 = x[i0], x1 = x[i1];
          out[i0] += x0 * cos - x1 * sin;
          out[i1] += x0 * sin + x1 * cos;
        }
      }
    }
  }
}

/**
 * Causal attention backward, per batch b, head h and query i, given the saved probabilities
 * P [batch, nHeads, seqQ, seqKv] (zero above the causal diagonal) and s = 1/√headDim:
 *
 *   dV_t += P_it · dO_i
 *   dP_it = dO_i · V_t
 *   dS_it = P_it · (dP_it − Σ_u P_iu·dP_iu)        (softmax backward)
 *   dQ_i += s · Σ_t dS_it · K_t
 *   dK_t += s · dS_it · Q_i
 *
 * Layouts: q, dO [batch, seqQ, nHeads, headDim]; k, v [batch, seqKv, nKvHeads, headDim].
 * Query head h reads kv head ⌊h / (nHeads/nKvHeads)⌋, so a kv head's gradient sums over its group.
 */
export function attentionBackward(
  gq: Float32Array | null, gk: Float32Array | null, gv: Float32Array | null,
  q: Float32Array, k: Float32Array, v: Float32Array, probs: Float32Array, dOut: Float32Array,
  batch: number, seqQ: number, seqKv: number, nHeads: number, nKvHeads: number, headDim: number,
): void {
  const group = nHeads / nKvHeads;
  const scale = 1 / Math.sqrt(headDim);
  const dS = new Float64Array(seqKv);
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < nHeads; h++) {
      const kvHead = Math.floor(h / group);
      for (let i = 0; i < seqQ; i++) {
        const last = seqKv - seqQ + i; // keys 0..last are visible
        const qOff = ((b * seqQ + i) * nHeads + h) * headDim;
        const pOff = ((b * nHeads + h) * seqQ + i) * seqKv;
        let dot = 0;
        for (let t = 0; t <= last; t++) {
          const vOff = ((b * seqKv + t) * nKvHeads + kvHead) * headDim;
          let dp = 0;
          for (let d = 0; d < headDim; d++) dp += dOut[qOff + d] * v[vOff + d];
          dS[t] = dp;
          dot += probs[pOff + t] * dp;
        }
        for (let t = 0; t <= last; t++) {
          const p = probs[pOff + t];
          const kvOff = ((b * seqKv + t) * nKvHeads + kvHead) * headDim;
          if (gv) for (let d = 0; d < headDim; d++) gv[kvOff + d] += p * dOut[qOff + d];
          const ds = p * (dS[t] - dot) * scale;
          if (gq) for (let d = 0; d < headDim; d++) gq[qOff + d] += ds * k[kvOff + d];
          if (gk) for (let d = 0; d < headDim; d++) gk[kvOff + d] += ds * q[qOff + d];
        }
      }
    }
  }
}

/**
 * The same attention backward as `attentionBackward`, written as five batched matrix products
 * over the B·H (batch × query head) attention matrices, so the backend's matmul does the work:
 *
 *   dP = dO · Vᵀ            [T, D]·[D, S]      (transB: V read in place)
 *   dS = s · P ⊙ (dP − rowsum(P ⊙ dP))
 *   dQ = dS · K             [T, S]·[S, D]
 *   dK = dSᵀ · Q            [S, T]·[T, D]      (transA: dS read in place)
 *   dV = Pᵀ · dO            [S, T]·[T, D]      (transA: P read in place)
 *
 * Q, K, V and dO are first gathered from [batch, seq, heads, D] into per-head blocks
 * [B·H, seq, D] (K and V repeated across each GQA group); dK and dV are summed back over the group.
 */
export function attentionBackwardBatched(
  backend: Backend,
  gq: Float32Array | null, gk: Float32Array | null, gv: Float32Array | null,
  q: Float32Array, k: Float32Array, v: Float32Array, probs: Float32Array, dOut: Float32Array,
  batch: number, seqQ: number, seqKv: number, nHeads: number, nKvHeads: number, headDim: number,
): void {
  const BH = batch * nHeads, T = seqQ, S = seqKv, D = headDim;
  const group = nHeads / nKvHeads;
  const scale = 1 / Math.sqrt(headDim);
  const heads = (x: Float32Array, seq: number, nSrc: number): Float32Array => {
    const out = emptyF32(BH * seq * D, false);
    backend.gatherHeads(out, x, batch, seq, nSrc, nHeads, D);
    return out;
  };
  const qh = heads(q, T, nHeads), kh = heads(k, S, nKvHeads), vh = heads(v, S, nKvHeads), doh = heads(dOut, T, nHeads);
  const dP = emptyF32(BH * T * S, false);
  backend.matmul(dP, doh, vh, T, D, S, { batch: BH, transB: true }); // dP = dO·Vᵀ
  const dS = emptyF32(BH * T * S); // accumulated into: zeros
  backend.softmaxBackward(dS, probs, dP, BH * T, S, scale); // dS = s·P ⊙ (dP − rowsum(P ⊙ dP))
  if (gq) {
    const dq = emptyF32(BH * T * D, false);
    backend.matmul(dq, dS, kh, T, S, D, { batch: BH });
    backend.scatterHeadsAdd(gq, dq, batch, T, nHeads, 1, D);
  }
  if (gk) {
    const dk = emptyF32(BH * S * D, false);
    backend.matmul(dk, dS, qh, S, T, D, { batch: BH, transA: true }); // dSᵀ·Q
    backend.scatterHeadsAdd(gk, dk, batch, S, nKvHeads, group, D);
  }
  if (gv) {
    const dv = emptyF32(BH * S * D, false);
    backend.matmul(dv, probs, doh, S, T, D, { batch: BH, transA: true }); // Pᵀ·dO
    backend.scatterHeadsAdd(gv, dv, batch, S, nKvHeads, group, D);
  }
}
