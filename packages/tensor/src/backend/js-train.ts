/**
 * The reference training kernels: the backward rules' arithmetic and the optimizer update as
 * plain loops that read like the derivatives. `js` uses them as they are; the wasm backend's
 * SIMD versions (assembly/train.ts) are held to them by the parity tests. Outputs named `g…`
 * accumulate (+=), as gradients do. Row statistics are recomputed in float64 from the forward
 * inputs, so a forward pass saves nothing but those inputs.
 */
import type { AdamHyper, TrainKernels } from "./backend";

/** out[b, c, r] = x[b, r, c]: `batch` matrices [rows, cols] -> [cols, rows]. */
export function transpose(out: Float32Array, x: Float32Array, batch: number, rows: number, cols: number): void {
  const per = rows * cols;
  for (let b = 0; b < batch; b++) {
    const o = b * per;
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) out[o + c * rows + r] = x[o + r * cols + c];
    }
  }
}

/** x [batch, seq, nSrc, d] -> out [batch, nHeads, seq, d]; head h reads source head ⌊h / (nHeads/nSrc)⌋. */
export function gatherHeads(out: Float32Array, x: Float32Array, batch: number, seq: number, nSrc: number, nHeads: number, d: number): void {
  const group = nHeads / nSrc;
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < nHeads; h++) {
      const src = Math.floor(h / group);
      for (let s = 0; s < seq; s++) {
        const from = ((b * seq + s) * nSrc + src) * d, to = ((b * nHeads + h) * seq + s) * d;
        for (let i = 0; i < d; i++) out[to + i] = x[from + i];
      }
    }
  }
}

/** g [batch, seq, nDst, d] += Σ over each group of `group` heads of x [batch, nDst·group, seq, d]. */
export function scatterHeadsAdd(g: Float32Array, x: Float32Array, batch: number, seq: number, nDst: number, group: number, d: number): void {
  const nHeads = nDst * group;
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < nHeads; h++) {
      const dst = Math.floor(h / group);
      for (let s = 0; s < seq; s++) {
        const from = ((b * nHeads + h) * seq + s) * d, to = ((b * seq + s) * nDst + dst) * d;
        for (let i = 0; i < d; i++) g[to + i] += x[from + i];
      }
    }
  }
}

export function axpy(out: Float32Array, x: Float32Array, alpha: number): void {
  for (let i = 0; i < out.length; i++) out[i] += alpha * x[i];
}

export function mulAdd(out: Float32Array, a: Float32Array, b: Float32Array): void {
  for (let i = 0; i < out.length; i++) out[i] += a[i] * b[i];
}

export function scale(x: Float32Array, s: number): void {
  for (let i = 0; i < x.length; i++) x[i] *= s;
}

export function sumSquares(x: Float32Array): number {
  let total = 0;
  for (let i = 0; i < x.length; i++) total += x[i] * x[i];
  return total;
}

const GELU_K = Math.sqrt(2 / Math.PI);
const GELU_C = 0.044715;

/**
 * gx += dy · gelu'(x) for the tanh approximation. With u = k(x + c·x³) and s = σ(2u)
 * (so that ½(1 + tanh u) = s and 1 − tanh²u = 4s(1 − s)):
 *   gelu'(x) = ½(1 + tanh u) + ½x(1 − tanh²u)·k(1 + 3c·x²) = s + 2x·s(1 − s)·k(1 + 3c·x²)
 */
export function geluBackward(gx: Float32Array, x: Float32Array, dy: Float32Array): void {
  for (let i = 0; i < gx.length; i++) {
    const v = x[i];
    const s = 1 / (1 + Math.exp(-2 * GELU_K * (v + GELU_C * v * v * v)));
    gx[i] += dy[i] * (s + 2 * v * s * (1 - s) * GELU_K * (1 + 3 * GELU_C * v * v));
  }
}

/** gx += dy · silu'(x), silu'(x) = σ(x)(1 + x(1 − σ(x))). */
export function siluBackward(gx: Float32Array, x: Float32Array, dy: Float32Array): void {
  for (let i = 0; i < gx.length; i++) {
    const s = 1 / (1 + Math.exp(-x[i]));
    gx[i] += dy[i] * s * (1 + x[i] * (1 - s));
  }
}

/** gx += scale · y ⊙ (dy − Σ_c dy_c·y_c), per row of y = softmax(x). */
export function softmaxBackward(gx: Float32Array, y: Float32Array, dy: Float32Array, rows: number, cols: number, scaleBy: number): void {
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let dot = 0;
    for (let c = 0; c < cols; c++) dot += dy[o + c] * y[o + c];
    for (let c = 0; c < cols; c++) gx[o + c] += scaleBy * y[o + c] * (dy[o + c] - dot);
  }
}

/**
 * LayerNorm backward per row: with x̂ = (x − μ)·r, r = 1/√(σ² + eps) and ĝ = dy ⊙ w,
 *   dx = r · (ĝ − mean(ĝ) − x̂ · mean(ĝ ⊙ x̂)),   dw += dy ⊙ x̂,   db += dy.
 * Any of gx, gw, gb may be null (not wanted); w null means a gain of 1.
 */
export function layernormBackward(
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
export function rmsnormBackward(
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
 * Fused softmax cross-entropy backward per row of logits z, given lse = log Σ_c e^(z_c):
 *   gz += scale · (p − q),   p = e^(z − lse),   q = (1 − ε)·onehot(target) + ε/cols.
 * A negative target skips the row (an ignored position).
 */
export function crossEntropyBackward(
  gz: Float32Array, z: Float32Array, lse: Float32Array, target: Float32Array,
  rows: number, cols: number, scaleBy: number, smoothing: number,
): void {
  for (let r = 0; r < rows; r++) {
    const y = target[r];
    if (y < 0) continue;
    const o = r * cols;
    for (let c = 0; c < cols; c++) {
      const p = Math.exp(z[o + c] - lse[r]);
      const q = (c === y ? 1 - smoothing : 0) + smoothing / cols;
      gz[o + c] += scaleBy * (p - q);
    }
  }
}

/** Per row of z [rows, cols]: max[r] = max_c z_c and sum[r] = Σ_c e^(z_c − max[r]). */
export function expSumRows(sum: Float32Array, max: Float32Array, z: Float32Array, rows: number, cols: number): void {
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let m = -Infinity;
    for (let c = 0; c < cols; c++) m = Math.max(m, z[o + c]);
    let s = 0;
    for (let c = 0; c < cols; c++) s += Math.exp(z[o + c] - m);
    sum[r] = s;
    max[r] = m;
  }
}

/**
 * Adam(W) in place (PyTorch's formulation, for one parameter at step t; the caller folds t
 * into stepSize = lr/(1 − β1ᵗ) and c2 = √(1 − β2ᵗ)):
 *   g = grad + l2·p,  m ← β1·m + (1 − β1)·g,  v ← β2·v + (1 − β2)·g²,
 *   p ← p·shrink − stepSize·m / (√v / c2 + eps)
 * Adam has l2 = λ and shrink 1; AdamW has l2 = 0 and shrink = 1 − lr·λ (decoupled decay).
 */
export function adam(p: Float32Array, grad: Float32Array, m: Float32Array, v: Float32Array, h: AdamHyper): void {
  const { beta1, beta2, eps, stepSize, c2, shrink, l2 } = h;
  for (let j = 0; j < p.length; j++) {
    const g = grad[j] + l2 * p[j];
    m[j] = beta1 * m[j] + (1 - beta1) * g;
    v[j] = beta2 * v[j] + (1 - beta2) * g * g;
    p[j] = p[j] * shrink - (stepSize * m[j]) / (Math.sqrt(v[j]) / c2 + eps);
  }
}

/** The reference training kernels as one object, spread into jsBackend. */
export const jsTrainKernels: TrainKernels = {
  transpose, gatherHeads, scatterHeadsAdd, axpy, mulAdd, scale, sumSquares, geluBackward, siluBackward,
  softmaxBackward, layernormBackward, rmsnormBackward, crossEntropyBackward, expSumRows, adam,
};
