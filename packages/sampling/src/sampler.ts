import { SamplingError } from "./errors";
import {
  argmax, minP, repetitionPenalty, softmax, temperature, topK, topP, type LogitsProcessor,
} from "./processors";
import { Rng, type RngState } from "./rng";

export interface SamplerOptions {
  /** Seed of the random stream; the same seed and inputs give the same tokens. Default 0. */
  seed?: number;
  /** Divide logits by this; 0 means greedy (argmax). Default 1. */
  temperature?: number;
  /** Keep the k most likely tokens; 0 turns it off. Default 0. */
  topK?: number;
  /** Nucleus: keep the most likely tokens up to cumulative probability p; 1 turns it off. Default 1. */
  topP?: number;
  /** Keep tokens with probability ≥ minP × the top probability; 0 turns it off. Default 0. */
  minP?: number;
  /** CTRL penalty for ids already in the history; 1 turns it off. Default 1. */
  repetitionPenalty?: number;
  /** How many of the latest history tokens the penalty looks at. Default: all. */
  repetitionWindow?: number;
}

/**
 * Picks the next token from a row of logits. The pipeline, in Hugging Face's order:
 * repetition penalty → temperature → top-k → top-p → min-p → softmax → one draw from the seeded
 * stream (inverse CDF). With temperature 0 the draw is replaced by argmax of the penalised logits.
 * The caller's logits are never modified; the work happens in a scratch row kept between calls.
 */
export class Sampler {
  readonly options: Readonly<Required<Omit<SamplerOptions, "seed">>> & { readonly seed: number };
  private readonly rng: Rng;
  private readonly processors: LogitsProcessor[] = [];
  private readonly penalty: LogitsProcessor | null;
  private scratch = new Float32Array(0);
  /** The uniform draw of the current token, kept in an array so it is never boxed (see Rng.nextInto). */
  private readonly u = new Float64Array(1);

  constructor(options: SamplerOptions = {}) {
    const o = {
      seed: options.seed ?? 0,
      temperature: options.temperature ?? 1,
      topK: options.topK ?? 0,
      topP: options.topP ?? 1,
      minP: options.minP ?? 0,
      repetitionPenalty: options.repetitionPenalty ?? 1,
      repetitionWindow: options.repetitionWindow ?? Infinity,
    };
    check("temperature", o.temperature, o.temperature >= 0 && Number.isFinite(o.temperature), "a finite number ≥ 0");
    check("topK", o.topK, Number.isInteger(o.topK) && o.topK >= 0, "an integer ≥ 0");
    check("topP", o.topP, o.topP > 0 && o.topP <= 1, "a number in (0, 1]");
    check("minP", o.minP, o.minP >= 0 && o.minP <= 1, "a number in [0, 1]");
    check("repetitionPenalty", o.repetitionPenalty, o.repetitionPenalty > 0 && Number.isFinite(o.repetitionPenalty), "a finite number > 0");
    check("repetitionWindow", o.repetitionWindow, o.repetitionWindow >= 0, "a number ≥ 0");
    this.options = o;
    this.rng = new Rng(o.seed);
    this.penalty = o.repetitionPenalty !== 1 ? repetitionPenalty(o.repetitionPenalty, o.repetitionWindow) : null;
    if (o.temperature !== 1) this.processors.push(temperature(o.temperature));
    if (o.topK > 0) this.processors.push(topK(o.topK));
    if (o.topP < 1) this.processors.push(topP(o.topP));
    if (o.minP > 0) this.processors.push(minP(o.minP));
  }

  /** The next token id for `logits` given the ids generated so far (used by the penalty). */
  sample(logits: Float32Array, history: ArrayLike<number> = NO_HISTORY): number {
    if (logits.length === 0) throw new SamplingError("SAMPLING_EMPTY_LOGITS", "logits: expected at least 1 value, found 0");
    if (this.scratch.length !== logits.length) this.scratch = new Float32Array(logits.length);
    const row = this.scratch;
    row.set(logits);
    this.penalty?.(row, history);
    if (this.options.temperature === 0 || this.options.topK === 1) return argmax(row);
    // indexed, not for…of: with several processors the call is megamorphic and V8 then keeps the
    // array iterator object (48 bytes per token) instead of optimising it away
    const processors = this.processors;
    for (let i = 0; i < processors.length; i++) processors[i](row, history);
    this.rng.nextInto(this.u, 0);
    return drawAt(softmax(row, row), this.u, 0);
  }

  /** The random stream's state, to resume sampling exactly where it stopped. */
  getState(): RngState {
    return this.rng.getState();
  }

  setState(state: RngState): void {
    this.rng.setState(state);
  }
}

// a shared empty history rather than a default `[]`, which would allocate on every call
const NO_HISTORY: ArrayLike<number> = Object.freeze([]);

/** Inverse CDF: the first index whose cumulative probability exceeds u ∈ [0, 1). */
export function drawFrom(probs: ArrayLike<number>, u: number): number {
  return drawAt(probs, new Float64Array([u]), 0);
}

/** drawFrom with u read from an array (no double crosses the call). */
function drawAt(probs: ArrayLike<number>, uniform: Float64Array, index: number): number {
  const u = uniform[index];
  let cumulative = 0;
  let lastNonZero = 0;
  for (let i = 0; i < probs.length; i++) {
    if (probs[i] === 0) continue;
    cumulative += probs[i];
    lastNonZero = i;
    if (u < cumulative) return i;
  }
  return lastNonZero; // u landed in the rounding gap above the float sum
}

function check(name: string, value: number, ok: boolean, expected: string): void {
  if (!ok) throw new SamplingError("SAMPLING_BAD_OPTION", `${name}: expected ${expected}, found ${value}`);
}
