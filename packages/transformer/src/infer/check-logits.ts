import { TransformerError } from "../errors";

/**
 * NONFINITE_LOGITS unless every logit is finite: a NaN or an infinity would make any sampler's
 * choice meaningless (softmax of NaN), so generation stops with an error instead of emitting
 * tokens. Finite weights can still overflow f32 activations; loaders refuse non-finite weights.
 * `offset` and `length` pick one row of a [rows, vocab] block.
 */
export function checkLogits(logits: Float32Array, position: number, offset = 0, length = logits.length - offset): void {
  // x·0 is 0 for finite x and NaN for NaN and ±∞: one multiply-add per logit, no branch
  let probe = 0;
  const end = offset + length;
  for (let i = offset; i < end; i++) probe += logits[i] * 0;
  if (probe === 0) return;
  let i = offset;
  while (Number.isFinite(logits[i])) i++;
  throw new TransformerError(
    "NONFINITE_LOGITS",
    `generate: expected finite logits at position ${position}, found ${logits[i]} for token id ${i - offset} (the model's activations overflowed, or its weights are not finite)`,
  );
}
