/**
 * What speculative decoding needs from a model (the target, and a draft model): a sequence in a
 * KV cache that grows by several tokens in one forward pass and can be cut back.
 *
 * Convention: the cache holds every committed token but the last, which is fed again with the
 * next tokens to get the logits after it (llama.cpp's `id_last`). So verifying K draft tokens is
 * one pass over K + 1 tokens, [last, d₁ … d_K], whose K + 1 logits rows judge d₁ … d_K and give
 * the bonus token; afterwards the cache is rewound to the accepted length.
 *
 * @zero-llm/transformer implements it on a Model and a KVCache: prefill → `model.prefill(tokens,
 * cache)`, verify → the same with every position's logits, rewind → `cache.truncate(length)`.
 * For `--greedy` to reproduce plain decoding exactly, verify's row i must be bit-identical to
 * what decoding the same tokens one at a time gives (batch-invariant kernels).
 */
export interface SpeculativeModel {
  readonly vocabSize: number;
  /** Positions in the cache. */
  readonly length: number;
  /** The most positions the cache can hold. */
  readonly capacity: number;
  /** Appends tokens to the cache (a prompt): no logits needed. */
  prefill(tokens: ArrayLike<number>): void;
  /**
   * Appends tokens to the cache in one forward pass and returns their logits, row i (at
   * i · vocabSize) being the next-token logits after tokens[0..i]: [tokens.length, vocabSize].
   * A view, valid until the next call.
   */
  verify(tokens: ArrayLike<number>): Float32Array;
  /** Drops every position from `length` on. */
  rewind(length: number): void;
}

/** Where draft tokens come from: a small model (ModelDrafter), the text itself (PromptLookupDrafter), anything else. */
export interface Drafter {
  /** Vocabulary size, when the drafter has one (a draft model): checked against the target's before generation. */
  readonly vocabSize?: number;
  /**
   * Proposes up to `max` tokens to follow `sequence` (prompt and generated tokens) into
   * `tokens`; returns how many. May propose fewer, or none.
   */
  propose(sequence: readonly number[], max: number): number;
  /** The proposed tokens. */
  readonly tokens: Int32Array;
  /**
   * Row i (at i · vocabSize) is the distribution proposal i was drawn from; null when proposals
   * are certain (the draft puts probability 1 on its token, as prompt lookup or greedy drafting do).
   */
  readonly probs: Float64Array | null;
}

/**
 * Inverse CDF over probs[offset .. offset + n) in id order (weights summing to `total`) with the
 * uniform number uniform[0] ∈ [0, 1); returns the id (0…n−1).
 */
export function drawFrom(probs: Float64Array, offset: number, n: number, uniform: Float64Array, total = 1): number {
  const u = uniform[0] * total;
  let cumulative = 0;
  let last = -1;
  for (let i = 0; i < n; i++) {
    const p = probs[offset + i];
    if (p === 0) continue;
    cumulative += p;
    last = i;
    if (u < cumulative) return i;
  }
  return last; // u in the rounding gap above the float sum
}
