/**
 * Losses. crossEntropy fuses log-softmax and the negative log-likelihood so the gradient is the
 * famous p − y, computed from the logits without forming log-probabilities in memory.
 */
import { Tensor, formatShape } from "@zero-llm/tensor";
import { AutogradError } from "../errors";
import { Var, gradBuffer } from "./var";
import { sameShape } from "./broadcast";

export interface CrossEntropyOptions {
  /** Targets equal to this are skipped and excluded from the mean (default −100, as PyTorch). */
  ignoreIndex?: number;
  /** ε: the target distribution is (1 − ε)·onehot + ε/V (default 0, as PyTorch). */
  labelSmoothing?: number;
}

/**
 * Mean cross-entropy of logits [..., V] against integer targets (one per row), PyTorch
 * semantics (F.cross_entropy with ignore_index and label_smoothing):
 *
 *   p = softmax(z),  q = (1 − ε)·onehot(y) + ε/V
 *   loss = (1/N) Σ_rows −Σ_c q_c log p_c     over the N rows whose target is not ignored
 *   dz   = (p − q) / N                       (zero on ignored rows)
 *
 * When every row is ignored the loss is NaN (0/0), as in PyTorch.
 */
export function crossEntropy(logits: Var, targets: Int32Array | readonly number[], opts: CrossEntropyOptions = {}): Var {
  const ignoreIndex = opts.ignoreIndex ?? -100;
  const eps = opts.labelSmoothing ?? 0;
  const vocab = logits.shape[logits.ndim - 1];
  const rows = logits.ndim === 0 ? 0 : logits.size / vocab;
  if (logits.ndim < 1 || targets.length !== rows) {
    throw new AutogradError("AUTOGRAD_SHAPE_MISMATCH", `crossEntropy: expected one target per row of logits ${formatShape(logits.shape)} (${rows}), found ${targets.length}`);
  }
  if (!(eps >= 0 && eps <= 1)) {
    throw new AutogradError("AUTOGRAD_BAD_ARGUMENT", `crossEntropy: expected 0 <= labelSmoothing <= 1, found ${eps}`);
  }
  const z = logits.data;
  const lse = new Float64Array(rows); // log Σ_c exp(z_c) per row
  let total = 0, counted = 0;
  for (let r = 0; r < rows; r++) {
    const y = targets[r];
    if (y === ignoreIndex) continue;
    if (!Number.isInteger(y) || y < 0 || y >= vocab) {
      throw new AutogradError("AUTOGRAD_BAD_ARGUMENT", `crossEntropy: expected targets in [0, ${vocab}) or ${ignoreIndex}, found ${y} at row ${r}`);
    }
    const o = r * vocab;
    let m = -Infinity, sumZ = 0;
    for (let c = 0; c < vocab; c++) {
      m = Math.max(m, z[o + c]);
      sumZ += z[o + c];
    }
    let s = 0;
    for (let c = 0; c < vocab; c++) s += Math.exp(z[o + c] - m);
    lse[r] = m + Math.log(s);
    // −Σ q_c log p_c = (1 − ε)(lse − z_y) + ε(lse − mean_c z_c)
    total += (1 - eps) * (lse[r] - z[o + y]) + eps * (lse[r] - sumZ / vocab);
    counted++;
  }
  const out = new Tensor(Float32Array.of(total / counted), []);
  return Var.fromOp(out, "crossEntropy", [logits], (g) => {
    // dz_c = (p_c − q_c)/N · dL
    const gz = gradBuffer(logits);
    const scale = g[0] / counted;
    for (let r = 0; r < rows; r++) {
      const y = targets[r];
      if (y === ignoreIndex) continue;
      const o = r * vocab;
      for (let c = 0; c < vocab; c++) {
        const p = Math.exp(z[o + c] - lse[r]);
        const q = (c === y ? 1 - eps : 0) + eps / vocab;
        gz[o + c] += scale * (p - q);
      }
    }
  });
}

/** Mean squared error against a constant target of the same shape: mean((x − t)²). */
export function mseLoss(x: Var, target: Tensor): Var {
  if (!sameShape(x.shape, target.shape)) {
    throw new AutogradError("AUTOGRAD_SHAPE_MISMATCH", `mseLoss: expected a target of shape ${formatShape(x.shape)}, found ${formatShape(target.shape)}`);
  }
  const xd = x.data, td = target.contiguous().data;
  let total = 0;
  for (let i = 0; i < xd.length; i++) total += (xd[i] - td[i]) ** 2;
  const n = xd.length;
  return Var.fromOp(new Tensor(Float32Array.of(total / n), []), "mseLoss", [x], (g) => {
    // d mean((x − t)²)/dx = 2(x − t)/n
    const gx = gradBuffer(x);
    for (let i = 0; i < n; i++) gx[i] += (g[0] * 2 * (xd[i] - td[i])) / n;
  });
}
