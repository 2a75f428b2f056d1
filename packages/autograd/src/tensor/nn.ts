/**
 * The transformer's fused ops. Forwards and backwards both run on the tensor backend's kernels
 * (the backward kernels are TrainKernels in @zero-llm/tensor: plain loops in its js reference,
 * SIMD in wasm); the rule each one applies is written beside the call. All act on the last
 * axis (softmax, norms) or on the documented [batch, seq, heads, headDim] layout (rope, attention).
 */
import { formatShape, getBackend } from "@zero-llm/tensor";
import type { Rng } from "@zero-llm/tensor";
import { AutogradError } from "../errors";
import { Var, gradBuffer } from "./var";
import { emptyF32, emptyTensor } from "./alloc";
import { attentionBackwardBatched, ropeRotateAdd } from "./kernels";

function rowsOf(x: Var): { rows: number; cols: number } {
  const cols = x.ndim === 0 ? 1 : x.shape[x.ndim - 1];
  return { rows: cols === 0 ? 0 : x.size / cols, cols };
}

/** softmax over the last axis: exp(x − max) / Σ exp(x − max). */
export function softmax(x: Var): Var {
  const { rows, cols } = rowsOf(x);
  const out = emptyTensor(x.shape, false);
  const y = out.storage;
  getBackend().softmax(y, x.data, rows, cols);
  // dx = y ⊙ (dy − Σ dy·y)
  return Var.fromOp(out, "softmax", [x], (g) => getBackend().softmaxBackward(gradBuffer(x), y, g, rows, cols, 1));
}

/** log-softmax over the last axis: x − logΣexp(x). */
export function logSoftmax(x: Var): Var {
  const { rows, cols } = rowsOf(x);
  const out = emptyTensor(x.shape, false);
  const y = out.storage, xd = x.data;
  // per row m = max x and Σ e^(x − m) on the backend (as crossEntropy), lse = m + log Σ here
  const rowSum = emptyF32(rows, false), rowMax = emptyF32(rows, false);
  getBackend().expSumRows(rowSum, rowMax, xd, rows, cols);
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    const lse = rowMax[r] + Math.log(rowSum[r]);
    for (let c = 0; c < cols; c++) y[o + c] = xd[o + c] - lse;
  }
  return Var.fromOp(out, "logSoftmax", [x], (g) => {
    // dx = dy − softmax(x)·Σdy, softmax = exp(y)
    const gx = gradBuffer(x);
    for (let r = 0; r < rows; r++) {
      const o = r * cols;
      let total = 0;
      for (let c = 0; c < cols; c++) total += g[o + c];
      for (let c = 0; c < cols; c++) gx[o + c] += g[o + c] - Math.exp(y[o + c]) * total;
    }
  });
}

function checkGain(op: string, x: Var, name: string, p: Var | null): void {
  const cols = x.shape[x.ndim - 1];
  if (p !== null && (p.ndim !== 1 || p.shape[0] !== cols)) {
    throw new AutogradError("AUTOGRAD_SHAPE_MISMATCH", `${op}: expected ${name} [${cols}] for input ${formatShape(x.shape)}, found ${formatShape(p.shape)}`);
  }
}

function onesLike(n: number): Float32Array {
  return emptyF32(n, false).fill(1);
}

/** (x − mean)/√(var + eps) · weight + bias over the last axis (biased variance, as PyTorch). */
export function layerNorm(x: Var, weight: Var | null, bias: Var | null, eps = 1e-5): Var {
  checkGain("layerNorm", x, "weight", weight);
  checkGain("layerNorm", x, "bias", bias);
  const { rows, cols } = rowsOf(x);
  const out = emptyTensor(x.shape, false);
  const xd = x.data, wd = weight ? weight.data : null;
  getBackend().layernorm(out.storage, xd, wd ?? onesLike(cols), bias ? bias.data : null, rows, cols, eps);
  const parents = [x, weight, bias].filter((p): p is Var => p !== null);
  // x̂ = (x − μ)·r, ĝ = dy ⊙ w:  dx = r(ĝ − mean ĝ − x̂·mean(ĝ ⊙ x̂)),  dw = Σ dy ⊙ x̂,  db = Σ dy
  return Var.fromOp(out, "layerNorm", parents, (g) => getBackend().layernormBackward(
    x.requiresGrad ? gradBuffer(x) : null,
    weight?.requiresGrad ? gradBuffer(weight) : null,
    bias?.requiresGrad ? gradBuffer(bias) : null,
    xd, wd, g, rows, cols, eps,
  ));
}

/** x / √(mean(x²) + eps) · weight over the last axis (Llama's RMSNorm). */
export function rmsNorm(x: Var, weight: Var | null, eps = 1e-5): Var {
  checkGain("rmsNorm", x, "weight", weight);
  const { rows, cols } = rowsOf(x);
  const out = emptyTensor(x.shape, false);
  const xd = x.data, wd = weight ? weight.data : null;
  getBackend().rmsnorm(out.storage, xd, wd ?? onesLike(cols), rows, cols, eps);
  const parents = weight ? [x, weight] : [x];
  // r = 1/√(mean x² + eps), ĝ = dy ⊙ w:  dx = r(ĝ − x·r²·mean(ĝ ⊙ x)),  dw = Σ dy ⊙ x·r
  return Var.fromOp(out, "rmsNorm", parents, (g) => getBackend().rmsnormBackward(
    x.requiresGrad ? gradBuffer(x) : null,
    weight?.requiresGrad ? gradBuffer(weight) : null,
    xd, wd, g, rows, cols, eps,
  ));
}

export interface RopeOptions {
  /** Position of the first row (default 0). */
  pos0?: number;
  /** Base of the angle schedule (default 10000). */
  theta?: number;
}

/**
 * Rotary position embedding on x [batch, seq, nHeads, headDim] (or [seq, nHeads, headDim]).
 * "interleaved" rotates (x[2i], x[2i+1]) (llama2.c, GGUF); "half" rotates (x[i], x[i + d/2])
 * (Hugging Face). A rotation's gradient is the inverse rotation applied to dy.
 */
export function rope(x: Var, style: "interleaved" | "half", opts: RopeOptions = {}): Var {
  if (x.ndim < 3 || x.shape[x.ndim - 1] % 2 !== 0) {
    throw new AutogradError("AUTOGRAD_SHAPE_MISMATCH", `rope: expected [..., seq, nHeads, headDim] with an even headDim, found ${formatShape(x.shape)}`);
  }
  const [seq, nHeads, headDim] = x.shape.slice(-3);
  const batch = x.size / (seq * nHeads * headDim);
  const pos0 = opts.pos0 ?? 0, theta = opts.theta ?? 10000;
  const out = emptyTensor(x.shape, false);
  out.storage.set(x.data);
  const per = seq * nHeads * headDim;
  for (let b = 0; b < batch; b++) getBackend().rope(out.storage.subarray(b * per, (b + 1) * per), seq, nHeads, headDim, pos0, theta, style);
  return Var.fromOp(out, "rope", [x], (g) => {
    // y = R(θ)x  =>  dx = R(θ)ᵀdy = R(−θ)dy
    ropeRotateAdd(gradBuffer(x), g, batch, seq, nHeads, headDim, pos0, theta, style, -1);
  });
}

/**
 * Causal scaled dot-product attention with grouped-query heads, one op with a fused backward.
 *   q [batch, seqQ, nHeads, headDim], k and v [batch, seqKv, nKvHeads, headDim]
 *   -> [batch, seqQ, nHeads, headDim]
 * Query i sits at position seqKv − seqQ + i and sees keys at positions ≤ its own; scale 1/√headDim.
 * The softmax probabilities [batch, nHeads, seqQ, seqKv] are kept for the backward pass, which
 * runs as batched matrix products on the backend (kernels.ts attentionBackwardBatched; the
 * plain-loop attentionBackward there is its reference, held to it by a test).
 */
export function attention(q: Var, k: Var, v: Var): Var {
  if (q.ndim !== 4 || k.ndim !== 4 || v.ndim !== 4) {
    throw new AutogradError("AUTOGRAD_SHAPE_MISMATCH", `attention: expected 4-d q, k, v [batch, seq, heads, headDim], found ${formatShape(q.shape)}, ${formatShape(k.shape)}, ${formatShape(v.shape)}`);
  }
  const [batch, seqQ, nHeads, headDim] = q.shape;
  const [kb, seqKv, nKvHeads, kd] = k.shape;
  if (kb !== batch || kd !== headDim || v.shape.some((d, i) => d !== k.shape[i]) || nHeads % nKvHeads !== 0 || seqKv < seqQ) {
    throw new AutogradError("AUTOGRAD_SHAPE_MISMATCH", `attention: expected k = v = [${batch}, seqKv >= ${seqQ}, nKvHeads dividing ${nHeads}, ${headDim}], found q ${formatShape(q.shape)}, k ${formatShape(k.shape)}, v ${formatShape(v.shape)}`);
  }
  const output = emptyTensor(q.shape, false);
  // probs stay zero above the causal diagonal: the backward reads whole rows
  const pd = emptyF32(batch * nHeads * seqQ * seqKv);
  const qd = q.data, kdata = k.data, vd = v.data;
  const qPer = seqQ * nHeads * headDim, kvPer = seqKv * nKvHeads * headDim, pPer = nHeads * seqQ * seqKv;
  const backend = getBackend();
  for (let b = 0; b < batch; b++) {
    backend.attention(
      output.storage.subarray(b * qPer, (b + 1) * qPer),
      qd.subarray(b * qPer, (b + 1) * qPer), kdata.subarray(b * kvPer, (b + 1) * kvPer), vd.subarray(b * kvPer, (b + 1) * kvPer),
      seqQ, seqKv, nHeads, nKvHeads, headDim, { probs: pd.subarray(b * pPer, (b + 1) * pPer) },
    );
  }
  // P = softmax(QKᵀ/√d + mask):  dV = Pᵀ·dO,  dS = P ⊙ (dO·Vᵀ − rowsum),  dQ = dS·K/√d,  dK = dSᵀ·Q/√d
  return Var.fromOp(output, "attention", [q, k, v], (g) => attentionBackwardBatched(
    getBackend(),
    q.requiresGrad ? gradBuffer(q) : null,
    k.requiresGrad ? gradBuffer(k) : null,
    v.requiresGrad ? gradBuffer(v) : null,
    qd, kdata, vd, pd, g, batch, seqQ, seqKv, nHeads, nKvHeads, headDim,
  ));
}

/**
 * Inverted dropout: each element is zeroed with probability p and the survivors scaled by
 * 1/(1 − p), so the expectation is unchanged. The mask comes from `generator` (seeded runs are
 * reproducible). With `training` false or p = 0 it is the identity and returns x itself.
 */
export function dropout(x: Var, p: number, generator: Rng, training = true): Var {
  if (!(p >= 0 && p < 1)) {
    throw new AutogradError("AUTOGRAD_BAD_ARGUMENT", `dropout: expected 0 <= p < 1, found ${p}`);
  }
  if (!training || p === 0) return x;
  const scale = 1 / (1 - p);
  const keep = new Uint8Array(x.size);
  const out = emptyTensor(x.shape, false);
  const xd = x.data, o = out.storage;
  for (let i = 0; i < keep.length; i++) {
    keep[i] = generator.uniformFloat32() >= p ? 1 : 0;
    o[i] = keep[i] ? xd[i] * scale : 0;
  }
  return Var.fromOp(out, "dropout", [x], (g) => {
    // d(out)/dx = mask / (1 − p)
    const gx = gradBuffer(x);
    for (let i = 0; i < keep.length; i++) if (keep[i]) gx[i] += g[i] * scale;
  });
}
