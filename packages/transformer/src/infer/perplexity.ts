import { TransformerError } from "../errors";
import type { PerplexityResult } from "../train/eval";
import type { KVCacheOptions } from "./kv-cache";
import type { Model } from "./model";

/**
 * The windows a perplexity run scores, the same ones as the training engine's `perplexity`:
 * non-overlapping windows of seqLen inputs, window w reading tokens [w·seqLen, w·seqLen + seqLen)
 * and predicting each one's successor, then a shorter tail; every token of the text but the
 * first is predicted exactly once, with the context since its window began.
 */
export function scoringWindows(tokenCount: number, seqLen: number): Array<{ readonly start: number; readonly length: number }> {
  const windows: Array<{ start: number; length: number }> = [];
  let start = 0;
  for (; start + seqLen + 1 <= tokenCount; start += seqLen) windows.push({ start, length: seqLen });
  if (tokenCount - start >= 2) windows.push({ start, length: tokenCount - start - 1 });
  return windows;
}

/**
 * Runs each scoring window of `tokens` through the inference model (one prefill into a fresh
 * cache of the model's cache types, every position's logits kept) and hands `visit` the logits
 * [length, vocabSize] with the window. This is what a quantized model (weights stored in blocks,
 * a quantized KV cache) is measured with: the same forward pass as generation.
 */
export function forEachWindow(
  model: Model, tokens: ArrayLike<number>, seqLen: number,
  visit: (logits: Float32Array, window: { readonly start: number; readonly length: number }) => void,
  cacheOptions: KVCacheOptions = {},
): void {
  const { config } = model;
  if (!Number.isInteger(seqLen) || seqLen < 1 || seqLen > config.seqLen) {
    const code = Number.isInteger(seqLen) && seqLen > config.seqLen ? "CONTEXT_OVERFLOW" : "BAD_CONFIG";
    throw new TransformerError(code, `perplexity: expected seqLen an integer in [1, ${config.seqLen}] (the model's context), found ${seqLen}`);
  }
  if (tokens.length < 2) throw new TransformerError("DATA_TOO_SHORT", `perplexity: expected at least 2 tokens, found ${tokens.length}`);
  const logits = new Float32Array(seqLen * config.vocabSize);
  const cache = model.newCache({ ...cacheOptions, capacity: seqLen });
  for (const window of scoringWindows(tokens.length, seqLen)) {
    cache.reset();
    const input = Array.from({ length: window.length }, (_, i) => tokens[window.start + i]);
    model.prefill(input, cache, { allLogits: logits });
    visit(logits, window);
  }
}

/**
 * Perplexity through the inference forward pass (model.prefill), for models the training engine
 * cannot hold: weights kept as stored (Q8_0, Q4_K…) and quantized KV caches. On an f32 model it
 * agrees with the training engine's `perplexity` to float rounding (tested). Cross-entropy is
 * summed in float64 from a max-subtracted log-softmax.
 */
export function inferencePerplexity(model: Model, tokens: ArrayLike<number>, options: { seqLen?: number } = {}): PerplexityResult {
  const vocab = model.config.vocabSize;
  let nll = 0, count = 0;
  forEachWindow(model, tokens, options.seqLen ?? model.config.seqLen, (logits, { start, length }) => {
    for (let i = 0; i < length; i++) {
      const target = tokens[start + i + 1];
      if (!Number.isInteger(target) || target < 0 || target >= vocab) {
        throw new TransformerError("BAD_TOKEN", `perplexity: expected token ids in [0, ${vocab}), found ${target} at position ${start + i + 1}`);
      }
      const o = i * vocab;
      let max = -Infinity;
      for (let j = 0; j < vocab; j++) max = Math.max(max, logits[o + j]);
      let sum = 0;
      for (let j = 0; j < vocab; j++) sum += Math.exp(logits[o + j] - max);
      nll += Math.log(sum) + max - logits[o + target];
      count++;
    }
  });
  const loss = nll / count;
  return { loss, perplexity: Math.exp(loss), tokens: count };
}
