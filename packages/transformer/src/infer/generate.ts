import { ModelDrafter, Sampler, type Constraint, type ConstraintState, type Drafter } from "@zero-llm/sampling";
import { TransformerError } from "../errors";
import { checkLogits } from "./check-logits";
import type { KVCache } from "./kv-cache";
import { Model } from "./model";
import { ModelSequence } from "./sequence";
import { SpeculativeRun } from "./generate-speculative";

/** Anything that picks a token from logits; @zero-llm/sampling's Sampler is one. */
export interface TokenSampler {
  /** `allowed`: a constraint's token mask (bit i of the bitset = token i allowed); a sampler must pick among those. */
  sample(logits: Float32Array, history: ArrayLike<number>, allowed?: Uint32Array): number;
}

export interface GenerateOptions {
  /** Stop after this many new tokens. Default 256. */
  maxTokens?: number;
  /** Token id(s) that end generation; they are not yielded. */
  eos?: number | readonly number[];
  /** Default: greedy (temperature 0). With a draft it must be a @zero-llm/sampling Sampler (its distribution is compared with the draft's). */
  sampler?: TokenSampler;
  /** Continue this cache (the prompt is appended to it). Default: a fresh cache. With a draft it must be empty. */
  cache?: KVCache;
  /** Clock in milliseconds (default performance.now). */
  now?: () => number;
  /**
   * Constrained decoding: a constraint compiled for the model's vocabulary (`compileConstraint`
   * from @zero-llm/sampling). Its mask goes to the sampler's mask step, so every token is drawn
   * from the model's distribution restricted to what the constraint allows; generation stops as
   * soon as the constraint is complete (stop reason "grammar"), or at an EOS it allows.
   */
  constraint?: Constraint;
  /**
   * Speculative decoding (exact: the output follows the same distribution as without a draft,
   * and with a greedy sampler it is the very same tokens). A Model with the same vocabulary drafts
   * greedily (llama.cpp's choice); any Drafter from @zero-llm/sampling works too
   * (`new PromptLookupDrafter(n)`: prompt lookup, no second model).
   */
  draft?: Model | Drafter;
  /** Most draft tokens verified per target pass (llama.cpp's --draft-max). Default 16. */
  draftMax?: number;
  /** A proposal shorter than this is not used; that round decodes one token plainly (--draft-min). Default 0. */
  draftMin?: number;
  /** A draft Model stops drafting when it gives its next token less than this probability (--draft-p-min). Default 0. */
  draftPMin?: number;
  /** The draft Model's cache (empty). Default: a fresh one as long as the target's, within the draft's context. */
  draftCache?: KVCache;
}

export interface GenerateStats {
  promptTokens: number;
  generatedTokens: number;
  /** Prefill wall time. */
  promptMs: number;
  promptTokensPerSecond: number;
  /** Time in decode steps and sampling after the prefill (time spent by the consumer excluded). */
  generateMs: number;
  generateTokensPerSecond: number;
  /** From the call until the first new token was chosen (prefill + one sample). */
  timeToFirstTokenMs: number;
  /** Forward passes of the model after the prompt's prefill (one per token without a draft, one per round with one). */
  targetPasses: number;
  /** Draft tokens proposed and verified (0 without a draft). */
  draftTokens: number;
  /** Draft tokens the model accepted (0 without a draft). */
  acceptedDraftTokens: number;
  /** "grammar": the constraint was complete. */
  stopReason: "eos" | "maxTokens" | "contextFull" | "grammar" | "running";
}

/**
 * Prompt ids in, a stream of new ids out: prefill the prompt, then sample → decode until an eos
 * id, maxTokens, a complete constraint or a full KV cache; with a draft, speculative decoding
 * (generate-speculative.ts). Iterate it once; `stats` fills in as it runs.
 *
 *   const run = generate(model, promptIds, { sampler: new Sampler({ temperature: 0.8, seed: 1 }) });
 *   for (const id of run) process.stdout.write(decode([id]));
 *   console.log(run.stats.generateTokensPerSecond);
 */
export function generate(model: Model, prompt: ArrayLike<number>, options: GenerateOptions = {}): Generation {
  return new Generation(model, prompt, options);
}

export class Generation implements Iterable<number> {
  readonly stats: GenerateStats = {
    promptTokens: 0, generatedTokens: 0, promptMs: 0, promptTokensPerSecond: 0, generateMs: 0, generateTokensPerSecond: 0,
    timeToFirstTokenMs: 0, targetPasses: 0, draftTokens: 0, acceptedDraftTokens: 0, stopReason: "running",
  };
  /** Prompt and generated ids so far (what the sampler's repetition penalty sees). */
  readonly history: number[];
  /** Where the output stands in `options.constraint` (undefined without one). */
  readonly constraintState: ConstraintState | undefined;
  /** With a draft: the speculative run, built here so that a bad draft is refused before generation. */
  private readonly speculative: SpeculativeRun | undefined;
  private started = false;

  constructor(
    private readonly model: Model,
    prompt: ArrayLike<number>,
    private readonly options: GenerateOptions,
  ) {
    if (prompt.length === 0) throw new TransformerError("BAD_TOKEN", "generate: expected a prompt of at least 1 token, found 0");
    const max = options.maxTokens ?? 256;
    if (!Number.isInteger(max) || max < 0) {
      throw new TransformerError("BAD_CONFIG", `maxTokens: expected an integer ≥ 0, found ${max}`);
    }
    this.history = Array.from(prompt);
    const V = model.config.vocabSize;
    const { constraint, draft } = options;
    if (constraint !== undefined && constraint.vocabSize !== V) {
      throw new TransformerError("VOCAB_MISMATCH", `constraint: expected one compiled for the model's vocabulary of ${V} tokens, found one for ${constraint.vocabSize}`);
    }
    if (draft === undefined) {
      for (const name of ["draftMax", "draftMin", "draftPMin", "draftCache"] as const) {
        if (options[name] !== undefined) throw new TransformerError("BAD_CONFIG", `${name}: expected only with a draft, found it without one`);
      }
      this.constraintState = constraint?.initialState();
      this.speculative = undefined;
      return;
    }
    if (options.sampler !== undefined && !(options.sampler instanceof Sampler)) {
      throw new TransformerError("BAD_CONFIG", "sampler: expected a @zero-llm/sampling Sampler with a draft (speculative decoding compares its distribution with the draft's), found another TokenSampler");
    }
    const cache = options.cache ?? model.newCache();
    if (cache.length !== 0) {
      throw new TransformerError("BAD_CACHE", `cache: expected an empty cache for speculative decoding, found ${cache.length} positions`);
    }
    cache.reserve(prompt.length); // a prompt past the cache is CONTEXT_OVERFLOW, as without a draft
    this.speculative = new SpeculativeRun(new ModelSequence(model, cache), this.drafter(draft, cache.capacity), this.history, {
      sampling: options.sampler?.options ?? { temperature: 0 },
      maxTokens: max,
      eos: eosList(options.eos),
      ...(constraint !== undefined ? { constraint } : {}),
      ...(options.draftMax !== undefined ? { draftMax: options.draftMax } : {}),
      ...(options.draftMin !== undefined ? { draftMin: options.draftMin } : {}),
    });
    this.constraintState = this.speculative.constraintState;
  }

  *[Symbol.iterator](): Iterator<number> {
    if (this.started) throw new TransformerError("BAD_CONFIG", "generate: a Generation can be iterated only once");
    this.started = true;
    if (this.speculative !== undefined) {
      yield* this.speculative.tokens(this.stats, this.history, this.options.now ?? (() => performance.now()));
      return;
    }
    const { model, options, stats, history, constraintState: state } = this;
    const now = options.now ?? (() => performance.now());
    const maxTokens = options.maxTokens ?? 256;
    const eos = eosList(options.eos);
    const sampler = options.sampler ?? new Sampler({ temperature: 0 });
    const cache = options.cache ?? model.newCache();
    const constraint = options.constraint;
    const mask = constraint?.createMask();

    const t0 = now();
    let logits = model.prefill(history, cache).logits;
    checkLogits(logits, cache.length - 1);
    const t1 = now();
    stats.promptTokens = history.length;
    stats.promptMs = t1 - t0;
    stats.promptTokensPerSecond = perSecond(history.length, stats.promptMs);
    if (maxTokens === 0) {
      stats.stopReason = "maxTokens";
      return;
    }
    if (constraint !== undefined && state !== undefined && constraint.isComplete(state)) {
      stats.stopReason = "grammar"; // only the empty output satisfies it
      return;
    }

    for (;;) {
      const ts = now();
      let next: number;
      if (constraint !== undefined && state !== undefined && mask !== undefined) {
        constraint.mask(state, mask);
        next = sampler.sample(logits, history, mask);
        constraint.accept(state, next); // throws if a sampler ignored the mask
      } else {
        next = sampler.sample(logits, history);
      }
      if (stats.generatedTokens === 0) stats.timeToFirstTokenMs = now() - t0;
      if (eos.includes(next)) {
        stats.stopReason = "eos";
        stats.generateMs += now() - ts;
        break;
      }
      history.push(next);
      stats.generatedTokens++;
      const complete = constraint !== undefined && state !== undefined && constraint.isComplete(state);
      if (complete || stats.generatedTokens >= maxTokens || cache.length >= cache.capacity) {
        stats.stopReason = complete ? "grammar" : stats.generatedTokens >= maxTokens ? "maxTokens" : "contextFull";
        stats.generateMs += now() - ts;
        stats.generateTokensPerSecond = perSecond(stats.generatedTokens, stats.generateMs);
        yield next;
        break;
      }
      logits = model.decode(next, cache);
      stats.targetPasses++;
      checkLogits(logits, cache.length - 1);
      stats.generateMs += now() - ts;
      stats.generateTokensPerSecond = perSecond(stats.generatedTokens, stats.generateMs);
      yield next;
    }
    stats.generateTokensPerSecond = perSecond(stats.generatedTokens, stats.generateMs);
  }

  /**
   * A draft Model drafts from its own cache (as long as the target's), greedily through the
   * target's own chain (bias, penalties, DRY, truncations at temperature 0): what the target
   * would most likely pick if it agreed with the draft. A Drafter is used as it is.
   */
  private drafter(draft: Model | Drafter, capacity: number): Drafter {
    if (!(draft instanceof Model)) {
      for (const name of ["draftPMin", "draftCache"] as const) {
        if (this.options[name] !== undefined) throw new TransformerError("BAD_CONFIG", `${name}: expected only with a draft Model, found it with another Drafter`);
      }
      return draft;
    }
    const V = this.model.config.vocabSize;
    if (draft.config.vocabSize !== V) {
      throw new TransformerError("VOCAB_MISMATCH", `draft model: expected the target's vocabulary of ${V} tokens, found ${draft.config.vocabSize}`);
    }
    let cache = this.options.draftCache;
    if (cache === undefined) {
      // as many positions as the target's cache: a draft with a shorter context is refused here
      try {
        cache = draft.newCache({ capacity });
      } catch (error) {
        if (!(error instanceof TransformerError)) throw error;
        throw new TransformerError(error.code, `draft model: ${error.message}`, { cause: error });
      }
    }
    const sampling = { ...(this.options.sampler instanceof Sampler ? this.options.sampler.options : {}), temperature: 0 };
    return new ModelDrafter(new ModelSequence(draft, cache), { sampling, ...(this.options.draftPMin !== undefined ? { pMin: this.options.draftPMin } : {}) });
  }
}

function eosList(eos: GenerateOptions["eos"]): readonly number[] {
  return eos === undefined ? [] : typeof eos === "number" ? [eos] : eos;
}

function perSecond(tokens: number, ms: number): number {
  return ms > 0 ? (tokens * 1000) / ms : 0;
}
