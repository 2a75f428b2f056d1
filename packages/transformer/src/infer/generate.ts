import { Sampler } from "@zero-llm/sampling";
import { TransformerError } from "../errors";
import type { KVCache } from "./kv-cache";
import type { Model } from "./model";

/** Anything that picks a token from logits; @zero-llm/sampling's Sampler is one. */
export interface TokenSampler {
  sample(logits: Float32Array, history: ArrayLike<number>): number;
}

export interface GenerateOptions {
  /** Stop after this many new tokens. Default 256. */
  maxTokens?: number;
  /** Token id(s) that end generation; they are not yielded. */
  eos?: number | readonly number[];
  /** Default: greedy (temperature 0). */
  sampler?: TokenSampler;
  /** Continue this cache (the prompt is appended to it). Default: a fresh cache. */
  cache?: KVCache;
  /** Clock in milliseconds (default performance.now). */
  now?: () => number;
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
  stopReason: "eos" | "maxTokens" | "contextFull" | "running";
}

/**
 * Prompt ids in, a stream of new ids out: prefill the prompt, then sample → decode until an eos
 * id, maxTokens, or a full KV cache. Iterate it once; `stats` fills in as it runs.
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
    promptTokens: 0, generatedTokens: 0, promptMs: 0, promptTokensPerSecond: 0,
    generateMs: 0, generateTokensPerSecond: 0, timeToFirstTokenMs: 0, stopReason: "running",
  };
  /** Prompt and generated ids so far (what the sampler's repetition penalty sees). */
  readonly history: number[];
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
  }

  *[Symbol.iterator](): Iterator<number> {
    if (this.started) throw new TransformerError("BAD_CONFIG", "generate: a Generation can be iterated only once");
    this.started = true;
    const { model, options, stats, history } = this;
    const now = options.now ?? (() => performance.now());
    const maxTokens = options.maxTokens ?? 256;
    const eos = options.eos === undefined ? [] : typeof options.eos === "number" ? [options.eos] : options.eos;
    const sampler = options.sampler ?? new Sampler({ temperature: 0 });
    const cache = options.cache ?? model.newCache();

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

    for (;;) {
      const ts = now();
      const next = sampler.sample(logits, history);
      if (stats.generatedTokens === 0) stats.timeToFirstTokenMs = now() - t0;
      if (eos.includes(next)) {
        stats.stopReason = "eos";
        stats.generateMs += now() - ts;
        break;
      }
      history.push(next);
      stats.generatedTokens++;
      if (stats.generatedTokens >= maxTokens || cache.length >= cache.capacity) {
        stats.stopReason = stats.generatedTokens >= maxTokens ? "maxTokens" : "contextFull";
        stats.generateMs += now() - ts;
        stats.generateTokensPerSecond = perSecond(stats.generatedTokens, stats.generateMs);
        yield next;
        break;
      }
      logits = model.decode(next, cache);
      checkLogits(logits, cache.length - 1);
      stats.generateMs += now() - ts;
      stats.generateTokensPerSecond = perSecond(stats.generatedTokens, stats.generateMs);
      yield next;
    }
    stats.generateTokensPerSecond = perSecond(stats.generatedTokens, stats.generateMs);
  }
}

/**
 * NONFINITE_LOGITS unless every logit is finite: a NaN or an infinity would make any sampler's
 * choice meaningless (softmax of NaN), so generation stops with an error instead of emitting
 * tokens. Finite weights can still overflow f32 activations; loaders refuse non-finite weights.
 */
export function checkLogits(logits: Float32Array, position: number): void {
  // x·0 is 0 for finite x and NaN for NaN and ±∞: one multiply-add per logit, no branch
  let probe = 0;
  for (let i = 0; i < logits.length; i++) probe += logits[i] * 0;
  if (probe === 0) return;
  let i = 0;
  while (Number.isFinite(logits[i])) i++;
  throw new TransformerError(
    "NONFINITE_LOGITS",
    `generate: expected finite logits at position ${position}, found ${logits[i]} for token id ${i} (the model's activations overflowed, or its weights are not finite)`,
  );
}

function perSecond(tokens: number, ms: number): number {
  return ms > 0 ? (tokens * 1000) / ms : 0;
}
