import { Rng } from "@zero-llm/tensor";
import { SamplingError } from "../errors";
import { Logprobs } from "../logprobs";
import type { Sampler, SamplerOptions } from "../sampler";
import { fixedDistributionSampler } from "./verify";
import { drawFrom, type Drafter, type SpeculativeModel } from "./model";

export interface ModelDrafterOptions {
  /** How the draft model picks its tokens. Default: greedy (temperature 0), as llama.cpp drafts. */
  sampling?: SamplerOptions;
  /**
   * Stop drafting when the draft model is less sure than this of its next token (the token's
   * probability in the draft's logits at temperature 1). Default 0: always draft `max` tokens.
   * llama.cpp uses 0.75.
   */
  pMin?: number;
}

/**
 * Drafts with a smaller model that shares the target's vocabulary: decodes up to `max` tokens
 * one at a time from its own KV cache, each drawn from its sampler's distribution q (kept for the
 * acceptance rule). Before each proposal its cache is brought in line with the committed text
 * (rewound to the longest common prefix, then fed what it has not seen), so rejected drafts never
 * leak into the next round.
 */
export class ModelDrafter implements Drafter {
  readonly vocabSize: number;
  tokens = new Int32Array(0);
  probs: Float64Array | null = null;
  private readonly sampler: Sampler;
  private readonly certain: boolean;
  private readonly pMin: number;
  private readonly rng: Rng;
  private readonly u = new Float64Array(1);
  private readonly q: Float64Array;
  private readonly row: Float32Array;
  private readonly one = new Int32Array(1);
  /** The draft's own confidence in a token, for pMin. */
  private readonly confidence = new Logprobs(0);
  /** The tokens in the draft model's cache, in order. */
  private readonly cached: number[] = [];
  private readonly history: number[] = [];

  constructor(private readonly model: SpeculativeModel, options: ModelDrafterOptions = {}) {
    this.vocabSize = model.vocabSize;
    const sampling = { temperature: 0, ...options.sampling };
    this.sampler = fixedDistributionSampler(sampling, "draft sampling");
    this.certain = sampling.temperature === 0;
    this.rng = new Rng(sampling.seed ?? 0);
    this.pMin = options.pMin ?? 0;
    if (!(this.pMin >= 0 && this.pMin <= 1)) {
      throw new SamplingError("SAMPLING_BAD_OPTION", `pMin: expected a number in [0, 1], found ${options.pMin}`);
    }
    this.q = new Float64Array(this.vocabSize);
    this.row = new Float32Array(this.vocabSize);
    if (model.length !== 0) {
      throw new SamplingError("SAMPLING_BAD_STATE", `draft model: expected an empty cache to start from, found ${model.length} positions`);
    }
  }

  propose(sequence: readonly number[], max: number): number {
    const V = this.vocabSize;
    if (this.tokens.length < max) {
      this.tokens = new Int32Array(max);
      if (!this.certain) this.probs = new Float64Array(max * V);
    }
    this.syncCache(sequence);
    const history = this.history;
    history.length = 0;
    for (const t of sequence) history.push(t);
    let last = sequence[sequence.length - 1];
    let count = 0;
    while (count < max && this.model.length < this.model.capacity) {
      this.one[0] = last;
      const logits = this.model.verify(this.one);
      this.cached.push(last);
      for (let x = 0; x < V; x++) this.row[x] = logits[x];
      this.sampler.probabilities(this.q, this.row, history);
      this.rng.uniformInto(this.u, 0);
      const d = drawFrom(this.q, 0, V, this.u);
      if (this.pMin > 0) {
        this.confidence.compute(this.row, d);
        if (Math.exp(this.confidence.chosenLogprob) < this.pMin) break;
      }
      this.tokens[count] = d;
      if (this.probs !== null) this.probs.set(this.q, count * V);
      count++;
      history.push(d);
      last = d;
    }
    return count;
  }

  /** Makes the draft cache hold sequence[0 .. n − 1): the last token is fed with the next proposal. */
  private syncCache(sequence: readonly number[]): void {
    const want = sequence.length - 1;
    let common = 0;
    const limit = Math.min(this.cached.length, want);
    while (common < limit && this.cached[common] === sequence[common]) common++;
    if (this.cached.length > common) {
      this.model.rewind(common);
      this.cached.length = common;
    }
    if (want > common) {
      const missing = sequence.slice(common, want);
      this.model.prefill(missing);
      for (const t of missing) this.cached.push(t);
    }
  }
}

/**
 * Prompt lookup decoding (Saxena 2023), no second model: find the most recent earlier place
 * where the last n tokens of the text occurred (n from `ngram` down to 1) and propose the tokens
 * that followed it there. Summaries, code edits and quoted text repeat their input, so long
 * proposals are often right; a proposal is certain (q = 1 on its token).
 */
export class PromptLookupDrafter implements Drafter {
  tokens = new Int32Array(0);
  readonly probs = null;

  constructor(readonly ngram: number) {
    if (!Number.isInteger(ngram) || ngram < 1) {
      throw new SamplingError("SAMPLING_BAD_OPTION", `lookup n-gram size: expected an integer ≥ 1, found ${ngram}`);
    }
  }

  propose(sequence: readonly number[], max: number): number {
    if (this.tokens.length < max) this.tokens = new Int32Array(max);
    const n = sequence.length;
    for (let size = Math.min(this.ngram, n - 1); size >= 1; size--) {
      // the most recent earlier occurrence of the last `size` tokens
      search: for (let start = n - size - 1; start >= 0; start--) {
        for (let i = 0; i < size; i++) if (sequence[start + i] !== sequence[n - size + i]) continue search;
        let count = 0;
        for (let at = start + size; at < n && count < max; at++) this.tokens[count++] = sequence[at];
        return count;
      }
    }
    return 0;
  }
}
