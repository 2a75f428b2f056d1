/**
 * The neural-network ops a transformer forward needs. Each validates shapes here, makes its
 * input contiguous, and hands the rows to one backend kernel (softmax, layernorm, rmsnorm,
 * rope, attention); log-softmax is a TS loop.
 */
import { TensorError, formatShape } from "../errors";
import { Tensor } from "../tensor/tensor";
import { getBackend } from "../tensor/current-backend";
import { normalizeAxis, sameShape, sizeOf } from "../tensor/shape";
import { transpose } from "./view";

/** Apply a last-axis row op along any axis by swapping that axis to the end and back. */
function alongAxis(op: string, x: Tensor, axis: number, rowOp: (x: Tensor, rows: number, cols: number) => Tensor): Tensor {
  const ax = normalizeAxis(op, axis, x.ndim);
  const last = x.ndim - 1;
  if (x.ndim === 0) return rowOp(x.contiguous(), 1, 1);
  if (ax === last) {
    const cols = x.shape[last];
    return rowOp(x.contiguous(), cols === 0 ? 0 : x.size / cols, cols);
  }
  const moved = transpose(x, ax, last).contiguous();
  const cols = moved.shape[last];
  return transpose(rowOp(moved, cols === 0 ? 0 : moved.size / cols, cols), ax, last).contiguous();
}

/** exp(x − max) / Σ exp(x − max) along `axis`: the max shift keeps exp from overflowing. */
export function softmax(x: Tensor, axis = -1): Tensor {
  return alongAxis("softmax", x, axis, (xc, rows, cols) => {
    const out = Tensor.empty(xc.shape);
    getBackend().softmax(out.storage, xc.data, rows, cols);
    return out;
  });
}

/** x − max − log Σ exp(x − max): log of softmax without ever forming a tiny probability. */
export function logSoftmax(x: Tensor, axis = -1): Tensor {
  return alongAxis("logSoftmax", x, axis, (xc, rows, cols) => {
    const src = xc.data;
    const out = Tensor.empty(xc.shape);
    // per row: m = max x and Σ e^(x − m) from the backend's kernel, then x − m − log Σ
    const rowSum = new Float32Array(rows), rowMax = new Float32Array(rows);
    getBackend().expSumRows(rowSum, rowMax, src, rows, cols);
    for (let r = 0; r < rows; r++) {
      const o = r * cols;
      const logSumExp = rowMax[r] + Math.log(rowSum[r]);
      for (let c = 0; c < cols; c++) out.storage[o + c] = src[o + c] - logSumExp;
    }
    return out;
  });
}

function checkLastAxisParam(op: string, x: Tensor, name: string, p: Tensor): void {
  const cols = x.shape[x.ndim - 1];
  if (x.ndim === 0 || p.ndim !== 1 || p.shape[0] !== cols) {
    throw new TensorError(
      "SHAPE_MISMATCH",
      `${op}: ${formatShape(x.shape)} and ${name} ${formatShape(p.shape)}: ${name} must be [${cols ?? "?"}] (the last dimension)`,
    );
  }
}

/** (x − mean) / √(var + eps) · weight + bias over the last axis (biased variance, torch layer_norm). */
export function layerNorm(x: Tensor, weight: Tensor, bias: Tensor | null = null, eps = 1e-5): Tensor {
  checkLastAxisParam("layerNorm", x, "weight", weight);
  if (bias) checkLastAxisParam("layerNorm", x, "bias", bias);
  const cols = x.shape[x.ndim - 1];
  const out = Tensor.empty(x.shape);
  getBackend().layernorm(out.storage, x.data, weight.data, bias ? bias.data : null, x.size / cols, cols, eps);
  return out;
}

/** x / √(mean(x²) + eps) · weight over the last axis (Llama's RMSNorm). */
export function rmsNorm(x: Tensor, weight: Tensor, eps = 1e-5): Tensor {
  checkLastAxisParam("rmsNorm", x, "weight", weight);
  const cols = x.shape[x.ndim - 1];
  const out = Tensor.empty(x.shape);
  getBackend().rmsnorm(out.storage, x.data, weight.data, x.size / cols, cols, eps);
  return out;
}

/**
 * Which pairs of a head vector rotary embedding rotates together.
 * - "interleaved": (x[2i], x[2i+1]), as llama2.c and GGUF/llama.cpp (rope type 0, "normal").
 * - "half": (x[i], x[i + headDim/2]), as Hugging Face Llama (rotate_half; "neox" in llama.cpp).
 * Both rotate pair i at position p by the angle p · theta^(−2i/headDim).
 */
export type RopeStyle = "interleaved" | "half";

/**
 * Rotary position embedding of x [..., seq, nHeads, headDim] for positions pos0 … pos0+seq−1
 * (theta defaults to 10000). Returns a new tensor.
 */
export function rope(x: Tensor, style: RopeStyle, opts: { pos0?: number; theta?: number } = {}): Tensor {
  if (x.ndim < 3 || x.shape[x.ndim - 1] % 2 !== 0) {
    throw new TensorError(
      "SHAPE_MISMATCH",
      `rope: ${formatShape(x.shape)}: expected [..., seq, nHeads, headDim] with an even headDim`,
    );
  }
  if (style !== "interleaved" && style !== "half") {
    throw new TensorError("INVALID_ARGUMENT", `rope: style must be "interleaved" or "half", found "${String(style)}"`);
  }
  const [seq, nHeads, headDim] = x.shape.slice(-3);
  const out = x.clone();
  const per = seq * nHeads * headDim;
  const batches = per === 0 ? 0 : out.size / per;
  for (let b = 0; b < batches; b++) {
    getBackend().rope(out.storage.subarray(b * per, (b + 1) * per), seq, nHeads, headDim, opts.pos0 ?? 0, opts.theta ?? 10000, style);
  }
  return out;
}

/**
 * Causal scaled dot-product attention with grouped-query heads (GQA; nKvHeads = nHeads is plain
 * multi-head attention, nKvHeads = 1 is multi-query).
 *   q [..., seqQ, nHeads, headDim], k and v [..., seqKv, nKvHeads, headDim] -> [..., seqQ, nHeads, headDim]
 * Query i sits at position seqKv − seqQ + i (the last seqQ positions, as when decoding after a
 * KV-cache prefix) and attends to keys at positions ≤ its own, with scale 1/√headDim.
 */
export function attention(q: Tensor, k: Tensor, v: Tensor): Tensor {
  return runAttention(q, k, v, false).output;
}

/** attention() plus the softmaxed weights [..., nHeads, seqQ, seqKv] (zero above the causal diagonal). */
export function attentionWithProbs(q: Tensor, k: Tensor, v: Tensor): { output: Tensor; probs: Tensor } {
  const { output, probs } = runAttention(q, k, v, true);
  return { output, probs: probs as Tensor };
}

function runAttention(q: Tensor, k: Tensor, v: Tensor, wantProbs: boolean): { output: Tensor; probs: Tensor | null } {
  const shapes = `${formatShape(q.shape)}, ${formatShape(k.shape)}, ${formatShape(v.shape)}`;
  const fail = (why: string): never => {
    throw new TensorError("SHAPE_MISMATCH", `attention: q, k, v = ${shapes}: ${why}`);
  };
  if (q.ndim < 3 || k.ndim !== q.ndim) fail("expected q [..., seqQ, nHeads, headDim] and k, v with the same number of axes");
  if (!sameShape(k.shape, v.shape)) fail("k and v shapes differ");
  if (!sameShape(q.shape.slice(0, -3), k.shape.slice(0, -3))) fail("batch dimensions differ");
  const [seqQ, nHeads, headDim] = q.shape.slice(-3);
  const [seqKv, nKvHeads, kvHeadDim] = k.shape.slice(-3);
  if (headDim !== kvHeadDim) fail(`head dimensions ${headDim} and ${kvHeadDim} differ`);
  if (nKvHeads === 0 || nHeads % nKvHeads !== 0) fail(`nHeads ${nHeads} is not a multiple of nKvHeads ${nKvHeads}`);
  if (seqKv < seqQ) fail(`seqKv ${seqKv} is shorter than seqQ ${seqQ}`);

  const batchShape = q.shape.slice(0, -3);
  const batches = sizeOf(batchShape);
  const qd = q.data, kd = k.data, vd = v.data;
  const output = Tensor.empty(q.shape);
  const probs = wantProbs ? Tensor.empty([...batchShape, nHeads, seqQ, seqKv]) : null;
  const qPer = seqQ * nHeads * headDim, kvPer = seqKv * nKvHeads * headDim, pPer = nHeads * seqQ * seqKv;
  for (let b = 0; b < batches; b++) {
    getBackend().attention(
      output.storage.subarray(b * qPer, (b + 1) * qPer),
      qd.subarray(b * qPer, (b + 1) * qPer),
      kd.subarray(b * kvPer, (b + 1) * kvPer),
      vd.subarray(b * kvPer, (b + 1) * kvPer),
      seqQ, seqKv, nHeads, nKvHeads, headDim,
      probs ? { probs: probs.storage.subarray(b * pPer, (b + 1) * pPer) } : {},
    );
  }
  return { output, probs };
}
