import type { Backend } from "./backend";
import { jsTrainKernels } from "./js-train";
import { matmulQuantReference } from "../quant/reference";
import { checkMatmulQuant } from "../quant/types";
import { attentionPackedReference, checkAttentionPacked } from "../quant/attention-reference";
import { packKvRowsReference } from "../quant/kv-pack";
import { checkAttentionBatch, checkPositions } from "./batch-checks";

// One row of attention scores, reused across calls (grown on demand) so a decode step on the
// reference backend allocates nothing either.
let scoreRow = new Float32Array(64);
function scoresFor(length: number): Float32Array {
  if (scoreRow.length < length) scoreRow = new Float32Array(Math.max(length, 2 * scoreRow.length));
  return scoreRow;
}

/**
 * RoPE on one token's heads x[base … base + nHeads·headDim) at position `pos`: pair i turns by
 * pos · theta^(−2i / headDim); `interleaved` pairs (x[2i], x[2i+1]) as llama2.c / GGUF, `half`
 * pairs (x[i], x[i + headDim/2]) as Hugging Face.
 */
function rotateRow(
  x: Float32Array, base: number, nHeads: number, headDim: number, pos: number, theta: number, style: "interleaved" | "half",
): void {
  const half = headDim / 2;
  for (let h = 0; h < nHeads; h++) {
    const head = base + h * headDim;
    for (let i = 0; i < half; i++) {
      const angle = pos * Math.pow(theta, (-2 * i) / headDim);
      const cos = Math.cos(angle), sin = Math.sin(angle);
      const i0 = style === "interleaved" ? head + 2 * i : head + i;
      const i1 = style === "interleaved" ? head + 2 * i + 1 : head + i + half;
      const x0 = x[i0], x1 = x[i1];
      x[i0] = x0 * cos - x1 * sin;
      x[i1] = x0 * sin + x1 * cos;
    }
  }
}

/**
 * One query token's heads (q and out from float offset qOff, [nHeads, headDim]) over key and
 * value rows 0 … last (kvStride floats apart): scores q·k_t / √headDim, softmax, Σ_t p_t·v_t.
 * Head h reads kv head h / (nHeads / nKvHeads). With `probs` ([nHeads, seqQ, seqKv]) the weights
 * of this query (index i of seqQ) are written there, 0 past `last`.
 */
function attendQuery(
  out: Float32Array, q: Float32Array, qOff: number, k: Float32Array, v: Float32Array, kvStride: number, last: number,
  nHeads: number, nKvHeads: number, headDim: number, probs: Float32Array | undefined, seqQ: number, i: number, seqKv: number,
): void {
  const group = nHeads / nKvHeads;
  const scale = 1 / Math.sqrt(headDim);
  const scores = scoresFor(last + 1);
  for (let h = 0; h < nHeads; h++) {
    const kvHead = Math.floor(h / group);
    const hOff = qOff + h * headDim;
    let max = -Infinity;
    for (let t = 0; t <= last; t++) {
      const kOff = t * kvStride + kvHead * headDim;
      let dot = 0;
      for (let d = 0; d < headDim; d++) dot += q[hOff + d] * k[kOff + d];
      scores[t] = dot * scale;
      max = Math.max(max, scores[t]);
    }
    let sum = 0;
    for (let t = 0; t <= last; t++) {
      scores[t] = Math.exp(scores[t] - max);
      sum += scores[t];
    }
    for (let d = 0; d < headDim; d++) out[hOff + d] = 0;
    for (let t = 0; t < seqKv; t++) {
      const p = t <= last ? scores[t] / sum : 0;
      if (probs) probs[(h * seqQ + i) * seqKv + t] = p;
      if (p === 0) continue;
      const vOff = t * kvStride + kvHead * headDim;
      for (let d = 0; d < headDim; d++) out[hOff + d] = out[hOff + d] + p * v[vOff + d];
    }
  }
}

/**
 * The reference backend: plain loops that read like the math. Every other backend is tested
 * against this one, so clarity wins over speed here.
 */
export const jsBackend: Backend = {
  name: "js",
  threads: 1,
  ...jsTrainKernels,

  allocF32(length) {
    return new Float32Array(length);
  },

  allocBytes(byteLength) {
    return new Uint8Array(byteLength); // a fresh ArrayBuffer starts at offset 0: aligned
  },

  matmul(out, a, b, m, k, n, opts = {}) {
    const batch = opts.batch ?? 1;
    const transA = opts.transA ?? false;
    const transB = opts.transB ?? false;
    const bStride = opts.bBatchStride ?? k * n;
    for (let bi = 0; bi < batch; bi++) {
      const aOff = bi * m * k, bOff = bi * bStride, oOff = bi * m * n;
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < n; j++) {
          let sum = 0;
          for (let p = 0; p < k; p++) {
            // transB: b is [n, k], so B[p, j] = b[j, p]
            const bpj = transB ? b[bOff + j * k + p] : b[bOff + p * n + j];
            // transA: a is [k, m], so A[i, p] = a[p, i]
            const aip = transA ? a[aOff + p * m + i] : a[aOff + i * k + p];
            sum += aip * bpj;
          }
          out[oOff + i * n + j] = opts.accumulate ? out[oOff + i * n + j] + sum : sum;
        }
      }
    }
  },

  matvec(out, w, x, rows, cols) {
    for (let r = 0; r < rows; r++) {
      let sum = 0;
      for (let c = 0; c < cols; c++) sum += w[r * cols + c] * x[c];
      out[r] = sum;
    }
  },

  // One float64 running sum per output, in column order: the same sum whatever `rows` is.
  linear(out, x, w, rows, inFeatures, outFeatures) {
    for (let r = 0; r < rows; r++) {
      const xo = r * inFeatures, oo = r * outFeatures;
      for (let j = 0; j < outFeatures; j++) {
        let sum = 0;
        for (let c = 0; c < inFeatures; c++) sum += w[j * inFeatures + c] * x[xo + c];
        out[oo + j] = sum;
      }
    }
  },

  matmulQuant(out, x, w, type, rows, inFeatures, outFeatures, layout = "rows") {
    checkMatmulQuant("js", out, x, w, type, rows, inFeatures, outFeatures, layout);
    matmulQuantReference(out, x, w, type, rows, inFeatures, outFeatures, layout);
  },

  softmax(out, x, rows, cols) {
    for (let r = 0; r < rows; r++) {
      const o = r * cols;
      // subtract the row max so exp never overflows; the result is unchanged
      let max = -Infinity;
      for (let c = 0; c < cols; c++) max = Math.max(max, x[o + c]);
      let sum = 0;
      for (let c = 0; c < cols; c++) {
        const e = Math.exp(x[o + c] - max);
        out[o + c] = e;
        sum += e;
      }
      for (let c = 0; c < cols; c++) out[o + c] = out[o + c] / sum;
    }
  },

  rmsnorm(out, x, weight, rows, cols, eps) {
    for (let r = 0; r < rows; r++) {
      const o = r * cols;
      let sumSq = 0;
      for (let c = 0; c < cols; c++) sumSq += x[o + c] * x[o + c];
      const inv = 1 / Math.sqrt(sumSq / cols + eps);
      for (let c = 0; c < cols; c++) out[o + c] = x[o + c] * inv * weight[c];
    }
  },

  layernorm(out, x, weight, bias, rows, cols, eps) {
    for (let r = 0; r < rows; r++) {
      const o = r * cols;
      let mean = 0;
      for (let c = 0; c < cols; c++) mean += x[o + c];
      mean /= cols;
      let variance = 0;
      for (let c = 0; c < cols; c++) variance += (x[o + c] - mean) ** 2;
      variance /= cols;
      const inv = 1 / Math.sqrt(variance + eps);
      for (let c = 0; c < cols; c++) {
        out[o + c] = (x[o + c] - mean) * inv * weight[c] + (bias ? bias[c] : 0);
      }
    }
  },

  rope(x, seq, nHeads, headDim, pos0, theta, style) {
    for (let s = 0; s < seq; s++) rotateRow(x, s * nHeads * headDim, nHeads, headDim, pos0 + s, theta, style);
  },

  ropeBatch(x, rows, nHeads, headDim, positions, theta, style) {
    checkPositions("js", "ropeBatch", positions, rows, 0);
    for (let r = 0; r < rows; r++) rotateRow(x, r * nHeads * headDim, nHeads, headDim, positions[r], theta, style);
  },

  attention(out, q, k, v, seqQ, seqKv, nHeads, nKvHeads, headDim, opts) {
    const kvStride = opts?.kvStride ?? nKvHeads * headDim;
    for (let i = 0; i < seqQ; i++) {
      // causal: query i sits at position seqKv - seqQ + i and sees keys 0 … that position
      attendQuery(out, q, (i * nHeads) * headDim, k, v, kvStride, seqKv - seqQ + i, nHeads, nKvHeads, headDim, opts?.probs, seqQ, i, seqKv);
    }
  },

  attentionBatch(out, q, keys, values, lengths, rows, nHeads, nKvHeads, headDim) {
    checkAttentionBatch("js", out, q, keys, values, lengths, rows, nHeads, nKvHeads, headDim);
    for (let r = 0; r < rows; r++) {
      // row r is the newest token of its sequence: position lengths[r] − 1 of its own cache
      attendQuery(out, q, r * nHeads * headDim, keys[r], values[r], nKvHeads * headDim, lengths[r] - 1, nHeads, nKvHeads, headDim, undefined, 1, 0, lengths[r]);
    }
  },

  attentionPacked(out, q, k, v, kType, vType, seqQ, seqKv, nHeads, nKvHeads, headDim, opts) {
    checkAttentionPacked("js", out, q, k, v, kType, vType, seqQ, seqKv, nHeads, nKvHeads, headDim, opts?.probs);
    attentionPackedReference(out, q, k, v, kType, vType, seqQ, seqKv, nHeads, nKvHeads, headDim, opts?.probs);
  },

  packKvRows(type, src, srcOffset, rowLen, rows, dst, dstOffset) {
    packKvRowsReference(type, src, srcOffset, rowLen, rows, dst, dstOffset);
  },

  add(out, a, b) {
    for (let i = 0; i < out.length; i++) out[i] = a[i] + b[i];
  },

  mul(out, a, b) {
    for (let i = 0; i < out.length; i++) out[i] = a[i] * b[i];
  },

  silu(out, x) {
    for (let i = 0; i < out.length; i++) out[i] = x[i] / (1 + Math.exp(-x[i]));
  },

  gelu(out, x) {
    const c = Math.sqrt(2 / Math.PI);
    for (let i = 0; i < out.length; i++) {
      const xi = x[i];
      const u = c * (xi + 0.044715 * xi * xi * xi);
      // 0.5·x·(1 + tanh u) written as x·σ(2u), the same value: 1 + tanh u cancels to 0 in f64
      // for x below about −6, where x·σ(2u) keeps its digits
      out[i] = xi / (1 + Math.exp(-2 * u));
    }
  },

  swiglu(out, gate, up) {
    for (let i = 0; i < out.length; i++) {
      const g = gate[i];
      out[i] = (g / (1 + Math.exp(-g))) * up[i];
    }
  },
};
