import type { Model } from "../infer/model";
import { TransformerError } from "../errors";
import { contiguousBatches } from "./data";
import { meanLoss } from "./trainer";
import { TransformerLM } from "./model";

export interface PerplexityResult {
  /** Mean next-token cross-entropy in nats. */
  loss: number;
  /** exp(loss). */
  perplexity: number;
  /** Tokens predicted (every token of the text but the first). */
  tokens: number;
}

/**
 * Perplexity of held-out tokens: exp of the mean cross-entropy of each token given the ones
 * before it, over non-overlapping windows of `seqLen` (default the model's): each token but the
 * first is predicted exactly once, with the context since its window began. A seqLen above the
 * model's context is CONTEXT_OVERFLOW (never silently reduced).
 */
export function perplexity(model: TransformerLM | Model, tokens: ArrayLike<number>, options: { seqLen?: number; batchSize?: number } = {}): PerplexityResult {
  const { config } = model;
  const seqLen = options.seqLen ?? config.seqLen;
  // A longer window would score positions the model has no embedding (gpt2) or no training (RoPE) for.
  if (!Number.isInteger(seqLen) || seqLen < 1 || seqLen > config.seqLen) {
    const code = Number.isInteger(seqLen) && seqLen > config.seqLen ? "CONTEXT_OVERFLOW" : "BAD_CONFIG";
    throw new TransformerError(code, `perplexity: expected seqLen an integer in [1, ${config.seqLen}] (the model's context), found ${seqLen}`);
  }
  const ids = Int32Array.from(tokens);
  if (ids.length < 2) throw new TransformerError("DATA_TOO_SHORT", `perplexity: expected at least 2 tokens, found ${ids.length}`);
  for (let i = 0; i < ids.length; i++) {
    if (ids[i] < 0 || ids[i] >= config.vocabSize) throw new TransformerError("BAD_TOKEN", `perplexity: expected token ids in [0, ${config.vocabSize}), found ${ids[i]} at position ${i}`);
  }
  const lm = model instanceof TransformerLM ? model : trainableFrom(model);
  const batches = contiguousBatches(ids, seqLen, options.batchSize ?? 8);
  const loss = meanLoss(lm, batches);
  return { loss, perplexity: Math.exp(loss), tokens: ids.length - 1 };
}

/** The autograd model over an inference Model's weights (copied), for batched evaluation or fine-tuning. */
export function trainableFrom(model: Model): TransformerLM {
  const lm = new TransformerLM(model.config);
  lm.loadWeights(model.weights);
  return lm.eval();
}
