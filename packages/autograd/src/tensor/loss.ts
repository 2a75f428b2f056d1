/**
 * Losses. crossEntropy fuses log-softmax and the negative log-likelihood so the gradient is the
 * famous p − y, computed from the logits without forming log-probabilities in memory.
 */
import { Tensor, formatShape, getBackend } from "@zero-llm/tensor";
import { AutogradError } from "../errors";
import { Var, gradBuffer } from "./var";
import { sameShape } from "./broadcast";
import { emptyF32 } from "./alloc";

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
  for (let r = 0; r < rows; r++) {
    const y = targets[r];
    if (y !== ignoreIndex && !(Number.isInteger(y) && y >= 0 && y < vocab)) {
      throw new AutogradError("AUTOGRAD_BAD_ARGUMENT", `crossEntropy: expected targets in [0, ${vocab}) or ${ignoreIndex}, found ${y} at row ${r}`);
    }
  }
  const backend = getBackend();
  // per row: m = max z and Σ e^(z − m) on the backend; lse = m + log Σ in float64 here
  const rowSum = emptyF32(rows, false), rowMax = emptyF32(rows, false);
  backend.expSumRows(rowSum, rowMax, z, rows, vocab);
  const lse = emptyF32(rows, false); // log Σ_c exp(z_c) per row
  const target = emptyF32(rows, false); // the class as a float, −1 on ignored rows (the kernel skips them)
  let total = 0, counted = 0;
  for (let r = 0; r < rows; r++) {
    const y = targets[r];
    target[r] = y === ignoreIndex ? -1 : y;
    if (y === ignoreIndex) continue;
    const o = r * vocab;
    const rowLse = rowMax[r] + Math.log(rowSum[r]);
    lse[r] = rowLse;
    let meanZ = 0;
    if (eps > 0) {
      for (let c = 0; c < vocab; c++) meanZ += z[o + c];
      meanZ /= vocab;
    }
    // −Σ q_c log p_c = (1 − ε)(lse − z_y) + ε(lse − mean_c z_c)
    total += (1 - eps) * (rowLse - z[o + y]) + eps * (rowLse - meanZ);
    counted++;
  }
  const out = new Tensor(Float32Array.of(total / counted), []);
  return Var.fromOp(out, "crossEntropy", [logits], (g) => {
    // dz_c = (p_c − q_c)/N · dL
    backend.crossEntropyBackward(gradBuffer(logits), z, lse, target, rows, vocab, g[0] / counted, eps);
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
