import { getBackend } from "@zero-llm/tensor";
import { AutogradError } from "../errors";
import type { Var } from "../tensor/var";
import { Optimizer } from "./optimizer";

export interface AdamOptions {
  lr: number;
  /** (β1, β2), default (0.9, 0.999). */
  betas?: readonly [number, number];
  /** Added to √v̂ (default 1e-8). */
  eps?: number;
  /** λ (default 0 for Adam, 0.01 for AdamW, as PyTorch). */
  weightDecay?: number;
}

/**
 * Adam (Kingma & Ba) with bias correction, PyTorch's formulation, for step t:
 *   m ← β1·m + (1 − β1)·g
 *   v ← β2·v + (1 − β2)·g²
 *   p ← p − lr/(1 − β1ᵗ) · m / (√v / √(1 − β2ᵗ) + eps)
 * Adam adds λ·p to g (coupled L2); AdamW instead shrinks p ← p·(1 − lr·λ) before the update
 * (decoupled weight decay, Loshchilov & Hutter).
 */
export class Adam extends Optimizer {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  protected readonly decoupled: boolean;

  constructor(params: readonly Var[], opts: AdamOptions, decoupled = false) {
    super(params, opts.lr, ["expAvg", "expAvgSq"]);
    [this.beta1, this.beta2] = opts.betas ?? [0.9, 0.999];
    this.eps = opts.eps ?? 1e-8;
    this.weightDecay = opts.weightDecay ?? (decoupled ? 0.01 : 0);
    this.decoupled = decoupled;
    for (const b of [this.beta1, this.beta2]) {
      if (!(b >= 0 && b < 1)) throw new AutogradError("AUTOGRAD_BAD_ARGUMENT", `Adam: expected betas in [0, 1), found ${b}`);
    }
  }

  hyperparameters(): Record<string, number | boolean> {
    return { beta1: this.beta1, beta2: this.beta2, eps: this.eps, weightDecay: this.weightDecay, decoupled: this.decoupled };
  }

  protected update(i: number, p: Float32Array, grad: Float32Array): void {
    const { beta1, beta2, eps, weightDecay: wd, lr } = this;
    const m = this.buffer("expAvg", i), v = this.buffer("expAvgSq", i);
    const t = this.steps[i];
    // the formula above, one backend kernel: bias corrections folded into the step size
    getBackend().adam(p, grad, m, v, {
      beta1, beta2, eps,
      stepSize: lr / (1 - Math.pow(beta1, t)),
      c2: Math.sqrt(1 - Math.pow(beta2, t)),
      shrink: this.decoupled ? 1 - lr * wd : 1,
      l2: this.decoupled ? 0 : wd,
    });
  }
}

/** Adam with decoupled weight decay (torch.optim.AdamW); λ defaults to 0.01. */
export class AdamW extends Adam {
  constructor(params: readonly Var[], opts: AdamOptions) {
    super(params, opts, true);
  }
}
