import { badLogit } from "./candidates";
import { SamplingError } from "./errors";
import { expInPlace, logAt } from "./portable-math";
import { siftDownIds, siftUpIds } from "./select";

/** One alternative: a token and its log-probability. */
export interface TopLogprob {
  readonly id: number;
  readonly logprob: number;
}

/** What the OpenAI API calls a `logprobs.content` entry, with token ids (see toOpenAI for text and bytes). */
export interface TokenLogprob {
  readonly id: number;
  readonly logprob: number;
  /** The topN most likely tokens, most likely first (ties: lower id first). */
  readonly top: readonly TopLogprob[];
}

/**
 * Log-probabilities of generated tokens as the OpenAI API reports them: the chosen token's
 * ln p and the top-n alternatives (OpenAI allows 0–20; any n works here).
 *
 * Which distribution: whatever row you pass. Pass the model's raw logits (what generate() gets
 * from the model) and you get the model's distribution at temperature 1, before the logit bias,
 * penalties, constraint mask, truncation and temperature: what OpenAI documents ("the log
 * probability of this token"), what vLLM returns by default and what llama.cpp's server returns
 * unless `post_sampling_probs` is set. We recommend it because it measures the model, not the
 * sampling settings: it is comparable across settings, it is the number perplexity and scoring
 * use, and a chosen token has a finite log-probability even when a truncation step would have
 * given it 0 elsewhere. For the distribution after the bias, penalties, DRY and mask (still
 * before truncation and temperature), pass `sampler.processedLogits` instead.
 *
 * compute() allocates nothing (its arrays are sized once per vocabulary and topN): the sums run
 * over the whole row with the portable exp, the top-n come from a bounded heap in one pass.
 */
export class Logprobs {
  /** ln p of the chosen token ([0]) and ln Z of the row ([1]). */
  private readonly scalars = new Float64Array(2);
  private shifted = new Float64Array(0);
  private readonly heap: Int32Array;
  /** Ids of the top-n, most likely first; valid up to `count`. */
  readonly topIds: Int32Array;
  /** Their log-probabilities. */
  readonly topLogprobs: Float64Array;
  /** How many of topIds are filled (topN, or fewer when fewer tokens have a finite logit). */
  count = 0;
  chosenId = -1;

  constructor(readonly topN: number) {
    if (!Number.isInteger(topN) || topN < 0) {
      throw new SamplingError("SAMPLING_BAD_OPTION", `topN: expected an integer ≥ 0, found ${topN}`);
    }
    this.heap = new Int32Array(topN);
    this.topIds = new Int32Array(topN);
    this.topLogprobs = new Float64Array(topN);
  }

  /** ln p of the chosen token in the last compute(). */
  get chosenLogprob(): number {
    return this.scalars[0];
  }

  /** Fills in the log-probabilities of `logits` (a row of the vocabulary) for the token `chosen`. */
  compute(logits: Float32Array, chosen: number): void {
    const n = logits.length;
    if (!(Number.isInteger(chosen) && chosen >= 0 && chosen < n)) {
      throw new SamplingError("SAMPLING_BAD_TOKEN", `logprobs: expected a chosen token id in [0, ${n}), found ${chosen}`);
    }
    if (this.shifted.length !== n) this.shifted = new Float64Array(n);
    // ln Z = max + ln Σ exp(logit − max); −Infinity logits add exp(−∞) = 0
    let max = -Infinity;
    for (let i = 0; i < n; i++) {
      const v = logits[i];
      if (v !== v || v === Infinity) badLogit(i, v);
      if (v > max) max = v;
    }
    if (max === -Infinity) {
      throw new SamplingError("SAMPLING_NO_CANDIDATES", `logprobs: expected at least one finite logit, found all ${n} −Infinity`);
    }
    const shifted = this.shifted;
    for (let i = 0; i < n; i++) shifted[i] = logits[i] - max;
    expInPlace(shifted, n);
    let sum = 0;
    for (let i = 0; i < n; i++) sum += shifted[i];
    this.scalars[1] = sum;
    logAt(this.scalars, 1);
    const logZ = max + this.scalars[1];
    this.chosenId = chosen;
    this.scalars[0] = logits[chosen] - logZ;

    // the top-n by a bounded heap (its root is the worst kept), then sorted best first
    const k = Math.min(this.topN, n);
    const heap = this.heap;
    let size = 0;
    for (let i = 0; i < n && k > 0; i++) {
      const v = logits[i];
      if (v === -Infinity) continue;
      if (size < k) {
        heap[size] = i;
        siftUpIds(heap, size, logits);
        size++;
      } else if (v > logits[heap[0]]) {
        heap[0] = i;
        siftDownIds(heap, k, logits);
      }
    }
    // popping the root (the worst) fills the list from its end
    for (let end = size - 1; end >= 0; end--) {
      const id = heap[0];
      this.topIds[end] = id;
      this.topLogprobs[end] = logits[id] - logZ;
      heap[0] = heap[end];
      siftDownIds(heap, end, logits);
    }
    this.count = size;
  }

  /** The last compute() as a plain object (allocates: for output, not for the hot loop). */
  entry(): TokenLogprob {
    const top: TopLogprob[] = [];
    for (let j = 0; j < this.count; j++) top.push({ id: this.topIds[j], logprob: this.topLogprobs[j] });
    return { id: this.chosenId, logprob: this.scalars[0], top };
  }
}

/** The OpenAI API's shape of one `logprobs.content` entry. */
export interface OpenAILogprob {
  token: string;
  logprob: number;
  bytes: number[];
  top_logprobs: { token: string; logprob: number; bytes: number[] }[];
}

/**
 * An entry in the OpenAI API's shape, given each token's bytes. `token` is the bytes decoded as
 * UTF-8 with U+FFFD for a token that holds part of a character (the whole character is in
 * `bytes`, split across entries, as OpenAI does).
 */
export function toOpenAI(entry: TokenLogprob, tokenBytes: (id: number) => Uint8Array): OpenAILogprob {
  const decoder = new TextDecoder("utf-8");
  const describe = (id: number, logprob: number) => {
    const bytes = tokenBytes(id);
    return { token: decoder.decode(bytes), logprob, bytes: Array.from(bytes) };
  };
  return { ...describe(entry.id, entry.logprob), top_logprobs: entry.top.map((t) => describe(t.id, t.logprob)) };
}
