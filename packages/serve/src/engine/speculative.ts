import type { KVCache, Model } from "@zero-llm/transformer";
import { ServeError } from "../errors";
import type { Sequence } from "./sequence";

/**
 * Speculative decoding inside the batch loop (`zllm serve --draft-model F`).
 *
 * A step with a draft model, for every decoding sequence at once:
 *
 *   1. draft: the draft model proposes up to `maxTokens` tokens per sequence, greedily, in
 *      batched passes (pass j feeds every still-drafting sequence's token j: one decodeBatch of
 *      the small model per draft position, not per sequence); a sequence stops drafting when the
 *      draft is less sure than `pMin` of its next token (llama.cpp's --draft-p-min);
 *   2. verify: ONE decodeBatch of the target over every sequence's [next, d₁ … d_k] in
 *      consecutive rows (a ragged batch), whose row i is bit for bit the logits one-token decoding
 *      gives at that position (batch-invariant kernels);
 *   3. accept (in the engine): row by row, the sequence's own chooser picks the token exactly as
 *      it would without a draft; while the pick equals the draft, the next row is already
 *      computed and the walk goes on; at the first difference (or after the last draft) the pick
 *      is the step's last token, and the caches are cut back to what was committed.
 *
 * Why this is exact, and more than exact: the tokens come from the same chooser (seeded stream,
 * penalties, constraint mask, logprobs), applied to the same bits, in the same order, consuming
 * the same random numbers as plain decoding. So the output is not only distributed like plain
 * decoding (the guarantee of speculative sampling): it IS plain decoding's output, token for
 * token, at any temperature and seed. This is the rule llama.cpp's server applies to greedy drafts
 * (sample from the target at each position, accept while the sample equals the draft); for a
 * greedy (certain) draft it is the same acceptance test as Leviathan et al.'s min(1, p/q) with
 * q(d) = 1: the target's draw equals d with probability p(d), and when it does not, the draw is
 * distributed as p without d, which is that rule's residual.
 */

export interface DraftOptions {
  /** A model with the target's vocabulary (same ids for the same bytes), on the same backend. */
  readonly model: Model;
  /** Most draft tokens per sequence and step. Default 8. */
  readonly maxTokens?: number;
  /** Stop drafting a sequence when the draft gives its next token less than this probability. Default 0.75 (llama.cpp). */
  readonly pMin?: number;
}

export const DRAFT_MAX_TOKENS_DEFAULT = 8;
export const DRAFT_P_MIN_DEFAULT = 0.75;

/** The draft side: proposals for a batch of sequences, and each sequence's draft cache kept in line with its text. */
export class BatchDrafter {
  readonly model: Model;
  readonly maxTokens: number;
  readonly pMin: number;
  /** Counters for /metrics. */
  proposed = 0;
  accepted = 0;
  private readonly rows: Sequence[] = [];
  private readonly rowTokens: number[] = [];
  private readonly rowCaches: KVCache[] = [];
  private readonly stopped = new Set<Sequence>();

  constructor(target: Model, options: DraftOptions) {
    this.model = options.model;
    this.maxTokens = options.maxTokens ?? DRAFT_MAX_TOKENS_DEFAULT;
    this.pMin = options.pMin ?? DRAFT_P_MIN_DEFAULT;
    if (!Number.isInteger(this.maxTokens) || this.maxTokens < 1 || this.maxTokens + 1 > target.maxBatchRows) {
      throw new ServeError("invalid_option", `draft maxTokens: expected an integer in [1, ${target.maxBatchRows - 1}] (a sequence's next token and its drafts fit one pass of ${target.maxBatchRows} rows), found ${this.maxTokens}`);
    }
    if (!(this.pMin >= 0 && this.pMin <= 1)) throw new ServeError("invalid_option", `draft pMin: expected a number in [0, 1], found ${this.pMin}`);
    if (this.model.config.vocabSize !== target.config.vocabSize) {
      throw new ServeError("invalid_option", `draft model: expected the target's vocabulary of ${target.config.vocabSize} tokens, found ${this.model.config.vocabSize}`);
    }
    if (this.model.backend !== target.backend) throw new ServeError("invalid_option", "draft model: expected the target's backend, found another");
  }

  /**
   * Fills each sequence's `drafts` (possibly empty). A sequence's draft cache is first brought to
   * its committed text but the last token (rejected drafts were cut already; tokens the draft
   * has not seen, a prefix from the prefix cache or a draft accepted whole, are prefilled).
   */
  propose(batch: readonly Sequence[]): void {
    const { rows, rowTokens, rowCaches, stopped } = this;
    const drafting: Sequence[] = [];
    for (const seq of batch) {
      seq.drafts.length = 0;
      // a sequence may emit `remaining` more tokens: the drafts and the one after them
      const remaining = seq.request.maxTokens - seq.generated;
      seq.draftLimit = Math.min(this.maxTokens, remaining - 1);
      if (seq.draftLimit <= 0 || !seq.draftCache) continue;
      this.sync(seq, seq.draftCache);
      drafting.push(seq);
    }
    stopped.clear();
    const limit = this.model.maxBatchRows;
    const V = this.model.config.vocabSize;
    for (let j = 0; j < this.maxTokens; j++) {
      rows.length = rowTokens.length = rowCaches.length = 0;
      for (const seq of drafting) {
        if (stopped.has(seq) || seq.drafts.length !== j || j >= seq.draftLimit) continue;
        rows.push(seq);
        rowTokens.push(j === 0 ? seq.next : seq.drafts[j - 1]);
        rowCaches.push(seq.draftCache as KVCache);
      }
      if (rows.length === 0) break;
      for (let start = 0; start < rows.length; start += limit) {
        const end = Math.min(rows.length, start + limit);
        const logits = this.model.decodeBatch(rowTokens.slice(start, end), rowCaches.slice(start, end));
        for (let r = start; r < end; r++) {
          const seq = rows[r];
          const { token, confident } = greedy(logits, (r - start) * V, V, this.pMin);
          if (confident) seq.drafts.push(token);
          else stopped.add(seq);
        }
      }
    }
    for (const seq of drafting) this.proposed += seq.drafts.length;
  }

  /** After verification: the draft cache keeps what the target committed, nothing past it. */
  rewind(seq: Sequence, committed: number): void {
    const cache = seq.draftCache;
    if (cache && cache.length > committed) cache.truncate(committed);
  }

  /** Draft cache := the sequence's tokens but the last (`next`, fed with the first draft step). */
  private sync(seq: Sequence, cache: KVCache): void {
    const want = seq.tokens.length - 1;
    if (cache.length > want) cache.truncate(want);
    if (cache.length < want) this.model.prefill(seq.tokens.slice(cache.length, want), cache);
  }

  /** Prefills the draft cache up to the target's (prompt chunks, a prefix copied from the cache). */
  catchUp(seq: Sequence, upTo: number): void {
    const cache = seq.draftCache;
    if (cache && cache.length < upTo) this.model.prefill(seq.tokens.slice(cache.length, upTo), cache);
  }
}

/**
 * The argmax of row [offset, offset + V) of `logits`, and whether its softmax probability is at
 * least pMin: p = 1 / Σ exp(l_x − l_max) ≥ pMin ⇔ Σ exp(l_x − l_max) ≤ 1 / pMin (the sum stops
 * as soon as it passes; Math.exp is enough here: it only decides how far to draft, never a token).
 */
function greedy(logits: Float32Array, offset: number, V: number, pMin: number): { token: number; confident: boolean } {
  let best = 0;
  let max = -Infinity;
  for (let x = 0; x < V; x++) {
    const l = logits[offset + x];
    if (l > max) {
      max = l;
      best = x;
    }
  }
  if (pMin <= 0) return { token: best, confident: true };
  const limit = 1 / pMin;
  let sum = 0;
  for (let x = 0; x < V; x++) {
    sum += Math.exp(logits[offset + x] - max);
    if (sum > limit) return { token: best, confident: false };
  }
  return { token: best, confident: true };
}
