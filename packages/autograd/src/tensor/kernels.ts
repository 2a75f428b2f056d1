/**
 * Backward kernels the tensor backend does not have: plain loops over row-major Float32Arrays,
 * one function per op, each the derivative written out. They accumulate (`+=`) into gradient
 * buffers. Row statistics (means, inverse norms, log-sum-exps) are recomputed in float64 rather
 * than stored, so the forward pass saves nothing but its inputs.
 */
import type { Backend } from "@zero-llm/tensor";
import { emptyF32 } from "./alloc";

/** out[b, c, r] = x[b, r, c]: `batch` matrices [rows, cols] -> [cols, rows]. */
export function transposeBatched(x: Float32Array, batch: number, rows: number, cols: number): Float32Array {
  const out = emptyF32(batch * rows * cols, false);
  const per = rows * cols;
  for (let b = 0; b < batch; b++) {
    const o = b * per;
    for (let r = 0; r < rows; r++) {
      const src = o + r * cols;
      for (let c = 0; c < cols; c++) out[o + c * rows + r] = x[src + c];
    }
  }
  return out;
}

/** Softmax backward per row of y = softmax(x): dx = y ⊙ (dy − Σ_c dy_c·y_c). */
export function softmaxBackward(gx: Float32Array, y: Float32Array, dy: Float32Array, rows: number, cols: number): void {
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let dot = 0;
    for (let c = 0; c < cols; c++) dot += dy[o + c] * y[o + c];
    for (let c = 0; c < cols; c++) gx[o + c] += y[o + c] * (dy[o + c] - dot);
  }
}

/**
 * LayerNorm backward per row: with x̂ = (x − μ)·r, r = 1/√(σ² + eps) and ĝ = dy ⊙ w,
 *   dx = r · (ĝ − mean(ĝ) − x̂ · mean(ĝ ⊙ x̂)),   dw += dy ⊙ x̂,   db += dy.
 * `gw` / `gb` may be null (no gain/bias, or frozen).
 */
export function layerNormBackward(
  gx: Float32Array | null, gw: Float32Array | null, gb: Float32Array | null,
  x: Float32Array, w: Float32Array | null, dy: Float32Array, rows: number, cols: number, eps: number,
): void {
  const xhat = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let mean = 0;
    for (let c = 0; c < cols; c++) mean += x[o + c];
    mean /= cols;
    let variance = 0;
    for (let c = 0; c < cols; c++) variance += (x[o + c] - mean) * (x[o + c] - mean);
    const rstd = 1 / Math.sqrt(variance / cols + eps);
    let meanG = 0, meanGX = 0;
    for (let c = 0; c < cols; c++) {
      xhat[c] = (x[o + c] - mean) * rstd;
      const g = dy[o + c] * (w ? w[c] : 1);
      meanG += g;
      meanGX += g * xhat[c];
    }
    meanG /= cols;
    meanGX /= cols;
    if (gx) for (let c = 0; c < cols; c++) gx[o + c] += rstd * (dy[o + c] * (w ? w[c] : 1) - meanG - xhat[c] * meanGX);
    if (gw) for (let c = 0; c < cols; c++) gw[c] += dy[o + c] * xhat[c];
    if (gb) for (let c = 0; c < cols; c++) gb[c] += dy[o + c];
  }
}

/**
 * RMSNorm backward per row: with r = 1/√(mean(x²) + eps) and ĝ = dy ⊙ w,
 *   dx = r · (ĝ − x · r² · mean(ĝ ⊙ x)),   dw += dy ⊙ x · r.
 */
export function rmsNormBackward(
  gx: Float32Array | null, gw: Float32Array | null,
  x: Float32Array, w: Float32Array | null, dy: Float32Array, rows: number, cols: number, eps: number,
): void {
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let sumSq = 0;
    for (let c = 0; c < cols; c++) sumSq += x[o + c] * x[o + c];
    const rstd = 1 / Math.sqrt(sumSq / cols + eps);
    let meanGX = 0;
    for (let c = 0; c < cols; c++) meanGX += dy[o + c] * (w ? w[c] : 1) * x[o + c];
    meanGX /= cols;
    if (gx) for (let c = 0; c < cols; c++) gx[o + c] += rstd * (dy[o + c] * (w ? w[c] : 1) - x[o + c] * rstd * rstd * meanGX);
    if (gw) for (let c = 0; c < cols; c++) gw[c] += dy[o + c] * x[o + c] * rstd;
  }
}

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
 *   dK = dSᵀ · Q            [S, T]·[T, D]
 *   dV = Pᵀ · dO            [S, T]·[T, D]
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
  const qh = toHeads(q, batch, T, nHeads, nHeads, D);
  const kh = toHeads(k, batch, S, nKvHeads, nHeads, D);
  const vh = toHeads(v, batch, S, nKvHeads, nHeads, D);
  const doh = toHeads(dOut, batch, T, nHeads, nHeads, D);
  const dS = emptyF32(BH * T * S, false);
  backend.matmul(dS, doh, vh, T, D, S, { batch: BH, transB: true }); // dP
  for (let r = 0; r < BH * T; r++) {
    const o = r * S;
    let dot = 0;
    for (let t = 0; t < S; t++) dot += probs[o + t] * dS[o + t];
    for (let t = 0; t < S; t++) dS[o + t] = scale * probs[o + t] * (dS[o + t] - dot);
  }
  if (gq) {
    const dq = emptyF32(BH * T * D, false);
    backend.matmul(dq, dS, kh, T, S, D, { batch: BH });
    fromHeads(gq, dq, batch, T, nHeads, 1, D);
  }
  if (gk) {
    const dk = emptyF32(BH * S * D, false);
    backend.matmul(dk, transposeBatched(dS, BH, T, S), qh, S, T, D, { batch: BH });
    fromHeads(gk, dk, batch, S, nKvHeads, group, D);
  }
  if (gv) {
    const dv = emptyF32(BH * S * D, false);
    backend.matmul(dv, transposeBatched(probs, BH, T, S), doh, S, T, D, { batch: BH });
    fromHeads(gv, dv, batch, S, nKvHeads, group, D);
  }
}

/** x [batch, seq, nSrc, D] -> [batch, nHeads, seq, D]; head h reads source head ⌊h / (nHeads/nSrc)⌋. */
function toHeads(x: Float32Array, batch: number, seq: number, nSrc: number, nHeads: number, D: number): Float32Array {
  const out = emptyF32(batch * nHeads * seq * D, false);
  const group = nHeads / nSrc;
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < nHeads; h++) {
      const src = Math.floor(h / group);
      for (let s = 0; s < seq; s++) {
        const from = ((b * seq + s) * nSrc + src) * D;
        out.set(x.subarray(from, from + D), ((b * nHeads + h) * seq + s) * D);
      }
    }
  }
  return out;
}

/** g [batch, seq, nDst, D] += Σ over each group of `group` heads of x [batch, nDst·group, seq, D]. */
function fromHeads(g: Float32Array, x: Float32Array, batch: number, seq: number, nDst: number, group: number, D: number): void {
  const nHeads = nDst * group;
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < nHeads; h++) {
      const dst = Math.floor(h / group);
      for (let s = 0; s < seq; s++) {
        const from = ((b * nHeads + h) * seq + s) * D, to = ((b * seq + s) * nDst + dst) * D;
        for (let d = 0; d < D; d++) g[to + d] += x[from + d];
      }
    }
  }
}
