import { getBackend } from "@zero-llm/tensor";
import type { Var } from "../tensor/var";

/**
 * Scale all gradients together so their global L2 norm is at most `maxNorm`
 * (torch.nn.utils.clip_grad_norm_): coef = maxNorm / (‖g‖ + 1e-6), applied when coef < 1.
 * Returns the norm before clipping (summed in float64).
 */
export function clipGradNorm(params: readonly Var[], maxNorm: number): number {
  const backend = getBackend();
  let sumSq = 0;
  for (const p of params) if (p.grad !== null) sumSq += backend.sumSquares(p.grad.storage);
  const norm = Math.sqrt(sumSq);
  const coef = maxNorm / (norm + 1e-6);
  if (coef < 1) for (const p of params) if (p.grad !== null) backend.scale(p.grad.storage, coef);
  return norm;
}

/**
 * Multiply every gradient by `factor`. Gradient accumulation over k micro-batches is k calls
 * of backward() (gradients add up) followed by scaleGrads(params, 1/k) and one step, or
 * equivalently backward on loss/k each time.
 */
export function scaleGrads(params: readonly Var[], factor: number): void {
  for (const p of params) if (p.grad !== null) getBackend().scale(p.grad.storage, factor);
}
