import { AutogradError } from "../errors";
import { Value } from "./value";

/** Losses built from Value ops, so their gradients come from the ops' own backward rules. */

function checkPairs(scores: readonly Value[], targets: readonly number[], what: string): void {
  if (scores.length !== targets.length || scores.length === 0) {
    throw new AutogradError(
      "AUTOGRAD_INPUT_SIZE",
      `${what}: expected as many targets as scores (at least one), found ${scores.length} scores and ${targets.length} targets`,
    );
  }
}

/** Mean hinge (max-margin) loss: (1/n) Σ relu(1 − yᵢ·sᵢ), labels yᵢ ∈ {−1, +1}. */
export function hingeLoss(scores: readonly Value[], labels: readonly number[]): Value {
  checkPairs(scores, labels, "hingeLoss");
  return Value.sum(scores.map((s, i) => s.mul(-labels[i]).add(1).relu())).div(scores.length);
}

/** Mean squared error: (1/n) Σ (sᵢ − tᵢ)². */
export function mseLoss(predictions: readonly Value[], targets: readonly number[]): Value {
  checkPairs(predictions, targets, "mseLoss");
  return Value.sum(predictions.map((p, i) => p.sub(targets[i]).pow(2))).div(predictions.length);
}

/** L2 penalty α·Σ p² (weight decay written into the loss). */
export function l2Penalty(parameters: readonly Value[], alpha: number): Value {
  return Value.sum(parameters.map((p) => p.mul(p))).mul(alpha);
}

/** Fraction of scores whose sign matches its ±1 label (a score of 0 counts as −1). */
export function signAccuracy(scores: readonly Value[], labels: readonly number[]): number {
  checkPairs(scores, labels, "signAccuracy");
  let right = 0;
  scores.forEach((s, i) => {
    if ((s.data > 0 ? 1 : -1) === labels[i]) right++;
  });
  return right / scores.length;
}
