import type { SpeculativeModel } from "@zero-llm/sampling";
import { checkLogits } from "./check-logits";
import type { KVCache } from "./kv-cache";
import type { Model } from "./model";

/**
 * One sequence of a Model in its own KV cache, as speculative decoding sees a model
 * (@zero-llm/sampling's `SpeculativeModel`): the target, or a draft model.
 *
 * - prefill(tokens): `model.prefill`, only the last position's logits computed (none are read);
 * - verify(tokens): the same pass with every position's logits, [tokens.length, vocab]: the
 *   K draft tokens (and the last committed one before them) in ONE batched forward;
 * - rewind(length): `cache.truncate(length)`: the rows of rejected drafts are simply
 *   overwritten by the next pass.
 *
 * Why verification is exact: the block is batch-invariant (every projection's sums run in the
 * decode kernel's order whatever the number of rows; attention, norms and RoPE work row by row),
 * so row i of a verify pass is bit for bit the logits one-token decoding gives at that position,
 * on the js and wasm backends and on any number of threads (test/infer-speculative.test.ts).
 * Greedy speculative decoding therefore emits the very tokens `generate` does.
 *
 * A one-token verify (a draft model's step) is `model.decode`: the same bits, matrix × vector.
 */
export class ModelSequence implements SpeculativeModel {
  /** [rows, vocab] logits of the last multi-token verify; grows to the largest pass. */
  private rows = new Float32Array(0);

  /** `cache` defaults to a fresh one of the model's context (`model.newCache()`); it is used from its current length. */
  constructor(readonly model: Model, readonly cache: KVCache = model.newCache()) {}

  get vocabSize(): number {
    return this.model.config.vocabSize;
  }

  get length(): number {
    return this.cache.length;
  }

  get capacity(): number {
    return this.cache.capacity;
  }

  prefill(tokens: ArrayLike<number>): void {
    this.model.prefill(tokens, this.cache);
  }

  verify(tokens: ArrayLike<number>): Float32Array {
    const first = this.cache.length;
    if (tokens.length === 1) {
      const logits = this.model.decode(tokens[0], this.cache);
      checkLogits(logits, first);
      return logits;
    }
    const V = this.vocabSize;
    const size = tokens.length * V;
    if (this.rows.length < size) this.rows = new Float32Array(size);
    const rows = this.rows.subarray(0, size);
    this.model.prefill(tokens, this.cache, { allLogits: rows });
    for (let i = 0; i < tokens.length; i++) checkLogits(rows, first + i, i * V, V);
    return rows;
  }

  rewind(length: number): void {
    this.cache.truncate(length);
  }
}
