import type { SpeculativeModel } from "@zero-llm/sampling";
import type { KVCache, Model } from "@zero-llm/transformer";

/**
 * Speculative decoding's view of a Model and its KV cache (sampling's `SpeculativeModel`):
 * prefill → model.prefill, verify → a prefill that keeps every position's logits, rewind →
 * cache.truncate. It also records each round (the drafts sent for verification and how many the
 * target kept), so the page can colour accepted and rejected draft tokens.
 */
export interface Round { drafts: number[]; accepted: number }

export class RecordingTarget implements SpeculativeModel {
  readonly rounds: Round[] = [];
  private logits = new Float32Array(0);

  constructor(private readonly model: Model, private readonly cache: KVCache) {}

  get vocabSize(): number { return this.model.config.vocabSize; }
  get length(): number { return this.cache.length; }
  get capacity(): number { return this.cache.capacity; }

  prefill(tokens: ArrayLike<number>): void {
    this.model.prefill(Array.from(tokens), this.cache);
  }

  verify(tokens: ArrayLike<number>): Float32Array {
    const V = this.vocabSize;
    if (this.logits.length < tokens.length * V) this.logits = new Float32Array(tokens.length * V);
    const rows = this.logits.subarray(0, tokens.length * V);
    // [last, d₁ … d_k]: the drafts are every token after the first
    this.rounds.push({ drafts: Array.from(tokens).slice(1), accepted: -1 });
    this.model.prefill(Array.from(tokens), this.cache, { allLogits: rows });
    return rows;
  }

  rewind(length: number): void {
    // verify appended [last, drafts…] after `before` cached positions; the cache keeps last + accepted
    const round = this.rounds[this.rounds.length - 1];
    if (round && round.accepted < 0) round.accepted = length - (this.cache.length - round.drafts.length - 1) - 1;
    this.cache.truncate(length);
  }
}
