import { Rng, type RngState } from "@zero-llm/tensor";
import { Candidates, checkedArgmax } from "./candidates";
import { Dry } from "./dry";
import { SamplingError } from "./errors";
import { MirostatV2 } from "./mirostat";
import { LogitBias, Penalties, applyTokenMask, type LogitBiasInput } from "./penalties";
import { MinP, TopK, TopP, TypicalP, Xtc } from "./truncation";

export interface SamplerOptions {
  /** Seed of the random stream, an integer in [0, 2^32); same seed and inputs → same tokens. Default 0. */
  seed?: number;
  /** Divide logits by this after truncation; 0 means greedy (the most likely survivor). Default 1. */
  temperature?: number;
  /** Keep the k most likely tokens; 0 turns it off. Default 0 (llama.cpp's CLI: 40). */
  topK?: number;
  /** Locally typical sampling: keep the most typical tokens up to mass p; 1 turns it off. Default 1. */
  typicalP?: number;
  /** Nucleus: keep the most likely tokens up to cumulative probability p; 1 turns it off. Default 1 (llama.cpp: 0.95). */
  topP?: number;
  /** Keep tokens with probability ≥ minP × the top probability; 0 turns it off. Default 0 (llama.cpp: 0.05). */
  minP?: number;
  /** Top-p, typical-p, min-p and XTC never keep fewer than this many tokens. Default 1. */
  minKeep?: number;
  /** XTC: chance per token of excluding the top choices; 0 turns it off. Default 0. */
  xtcProbability?: number;
  /** XTC: tokens at least this probable count as top choices; above 0.5 turns it off. Default 0.1. */
  xtcThreshold?: number;
  /** CTRL repetition penalty θ for ids in the history window; 1 turns it off. Default 1. */
  repetitionPenalty?: number;
  /** OpenAI frequency penalty: logit −= count · α. 0 turns it off. Default 0. */
  frequencyPenalty?: number;
  /** OpenAI presence penalty: logit −= α once per id present. 0 turns it off. Default 0. */
  presencePenalty?: number;
  /** How many of the latest history tokens the three penalties look at. Default: all (llama.cpp: 64). */
  repetitionWindow?: number;
  /**
   * History index from which the frequency and presence penalties count tokens. Default 0: the
   * whole window, prompt included (llama.cpp). The prompt's length gives OpenAI's rule, which
   * counts only the tokens sampled so far; the repetition penalty still sees the prompt.
   */
  frequencyPresenceFrom?: number;
  /** DRY multiplier; 0 turns DRY off. Default 0 (llama.cpp suggests 0.8 when on). */
  dryMultiplier?: number;
  /** DRY base of the exponential penalty. Default 1.75. */
  dryBase?: number;
  /** DRY: repetitions up to this many tokens are free. Default 2. */
  dryAllowedLength?: number;
  /** DRY: how many of the latest history tokens are scanned. Default: all. */
  dryWindow?: number;
  /** DRY sequence breakers as token sequences (see dryBreakersFromStrings). Default none. */
  dryBreakers?: readonly (readonly number[])[];
  /** Added to the logits of the given ids before anything else; −Infinity bans a token. */
  logitBias?: LogitBiasInput;
  /** 2: Mirostat 2.0 instead of top-k … XTC; 0: off. Default 0. */
  mirostat?: 0 | 2;
  /** Mirostat target surprise τ (bits). Default 5. */
  mirostatTau?: number;
  /** Mirostat learning rate η. Default 0.1. */
  mirostatEta?: number;
}

/** The options with every default filled in. */
export type ResolvedSamplerOptions = Readonly<Required<Omit<SamplerOptions, "logitBias">>> & {
  readonly logitBias: LogitBiasInput | undefined;
};

/** Everything that changes while sampling: the random stream and Mirostat's μ. */
export interface SamplerState {
  readonly rng: RngState;
  /** Mirostat's surprise bound μ, or null without Mirostat. */
  readonly mirostatMu: number | null;
}

/**
 * Picks the next token from a row of logits with llama.cpp's sampler chain, in its order:
 *
 *   token mask (constraint) → logit bias → penalties (repetition, frequency, presence) → DRY
 *   → top-k → typical-p → top-p → min-p → XTC → temperature → draw
 *   (or, with mirostat 2: … → DRY → temperature → Mirostat 2.0)
 *
 * Temperature 0 takes the most likely token left after the truncations (greedy). The draw is an
 * inverse CDF in token-id order with one uniform number from the workspace's seeded Rng, and
 * every exp/log in the chain is the portable one, so the same seed, logits and settings give
 * the same token on every engine and platform. The caller's logits are never modified; the work
 * happens in rows kept between calls, and a call allocates nothing (test/allocation.test.ts).
 */
export class Sampler {
  readonly options: ResolvedSamplerOptions;
  private readonly rng: Rng;
  private readonly bias: LogitBias | null;
  private readonly penalties: Penalties;
  private readonly dry: Dry;
  private readonly topK: TopK;
  private readonly typicalP: TypicalP;
  private readonly topP: TopP;
  private readonly minP: MinP;
  private readonly xtc: Xtc;
  private readonly mirostat: MirostatV2 | null;
  /** [0] = 1 / temperature (Infinity: greedy), in an array so that passing it never boxes it. */
  private readonly invT = new Float64Array(1);
  private readonly candidates = new Candidates();
  private row = new Float32Array(0);
  /** Temperature 0 with no step that could remove the most likely token: sample() is one argmax. */
  private readonly greedyArgmax: boolean;
  /**
   * A temperature above 0 and no truncation step active (the default, and OpenAI's distribution):
   * the softmax and the draw run over the row itself, with no candidate list (Candidates.softmaxWholeRow).
   */
  private readonly wholeRow: boolean;
  /** The uniform draw of the current token, kept in an array so it is never boxed (see Rng.uniformInto). */
  private readonly u = new Float64Array(1);

  constructor(options: SamplerOptions = {}) {
    const o: ResolvedSamplerOptions = {
      seed: options.seed ?? 0,
      temperature: options.temperature ?? 1,
      topK: options.topK ?? 0,
      typicalP: options.typicalP ?? 1,
      topP: options.topP ?? 1,
      minP: options.minP ?? 0,
      minKeep: options.minKeep ?? 1,
      xtcProbability: options.xtcProbability ?? 0,
      xtcThreshold: options.xtcThreshold ?? 0.1,
      repetitionPenalty: options.repetitionPenalty ?? 1,
      frequencyPenalty: options.frequencyPenalty ?? 0,
      presencePenalty: options.presencePenalty ?? 0,
      repetitionWindow: options.repetitionWindow ?? Infinity,
      frequencyPresenceFrom: options.frequencyPresenceFrom ?? 0,
      dryMultiplier: options.dryMultiplier ?? 0,
      dryBase: options.dryBase ?? 1.75,
      dryAllowedLength: options.dryAllowedLength ?? 2,
      dryWindow: options.dryWindow ?? Infinity,
      dryBreakers: options.dryBreakers ?? [],
      logitBias: options.logitBias,
      mirostat: options.mirostat ?? 0,
      mirostatTau: options.mirostatTau ?? 5,
      mirostatEta: options.mirostatEta ?? 0.1,
    };
    const isInt = Number.isInteger;
    check("seed", o.seed, isInt(o.seed) && o.seed >= 0 && o.seed <= 0xffffffff, "an integer in [0, 4294967295]");
    check("temperature", o.temperature, o.temperature >= 0 && Number.isFinite(o.temperature), "a finite number ≥ 0");
    check("topK", o.topK, isInt(o.topK) && o.topK >= 0, "an integer ≥ 0");
    check("typicalP", o.typicalP, o.typicalP > 0 && o.typicalP <= 1, "a number in (0, 1]");
    check("topP", o.topP, o.topP >= 0 && o.topP <= 1, "a number in [0, 1]");
    check("minP", o.minP, o.minP >= 0 && o.minP <= 1, "a number in [0, 1]");
    check("minKeep", o.minKeep, isInt(o.minKeep) && o.minKeep >= 0, "an integer ≥ 0");
    check("xtcProbability", o.xtcProbability, o.xtcProbability >= 0 && o.xtcProbability <= 1, "a number in [0, 1]");
    check("xtcThreshold", o.xtcThreshold, o.xtcThreshold >= 0 && o.xtcThreshold <= 1, "a number in [0, 1]");
    check("repetitionPenalty", o.repetitionPenalty, o.repetitionPenalty > 0 && Number.isFinite(o.repetitionPenalty), "a finite number > 0");
    check("frequencyPenalty", o.frequencyPenalty, Number.isFinite(o.frequencyPenalty), "a finite number");
    check("presencePenalty", o.presencePenalty, Number.isFinite(o.presencePenalty), "a finite number");
    check("repetitionWindow", o.repetitionWindow, windowOk(o.repetitionWindow), "an integer ≥ 0 or Infinity");
    check("frequencyPresenceFrom", o.frequencyPresenceFrom, isInt(o.frequencyPresenceFrom) && o.frequencyPresenceFrom >= 0, "an integer ≥ 0");
    check("dryMultiplier", o.dryMultiplier, o.dryMultiplier >= 0 && Number.isFinite(o.dryMultiplier), "a finite number ≥ 0");
    check("dryBase", o.dryBase, o.dryBase >= 1 && Number.isFinite(o.dryBase), "a finite number ≥ 1");
    check("dryAllowedLength", o.dryAllowedLength, isInt(o.dryAllowedLength) && o.dryAllowedLength >= 0, "an integer ≥ 0");
    check("dryWindow", o.dryWindow, windowOk(o.dryWindow), "an integer ≥ 0 or Infinity");
    check("mirostat", o.mirostat, o.mirostat === 0 || o.mirostat === 2, "0 (off) or 2 (Mirostat 2.0; version 1 is not implemented)");
    check("mirostatTau", o.mirostatTau, o.mirostatTau >= 0 && Number.isFinite(o.mirostatTau), "a finite number ≥ 0");
    check("mirostatEta", o.mirostatEta, o.mirostatEta >= 0 && Number.isFinite(o.mirostatEta), "a finite number ≥ 0");
    this.options = o;
    this.rng = new Rng(o.seed);
    this.invT[0] = o.temperature === 0 ? Infinity : 1 / o.temperature;
    this.bias = o.logitBias === undefined ? null : new LogitBias(o.logitBias);
    this.penalties = new Penalties(o.repetitionPenalty, o.frequencyPenalty, o.presencePenalty, o.repetitionWindow, o.frequencyPresenceFrom);
    this.dry = new Dry(o.dryMultiplier, o.dryBase, o.dryAllowedLength, o.dryWindow, o.dryBreakers);
    this.topK = new TopK(o.topK);
    this.typicalP = new TypicalP(o.typicalP, o.minKeep);
    this.topP = new TopP(o.topP, o.minKeep);
    this.minP = new MinP(o.minP, o.minKeep);
    this.xtc = new Xtc(o.xtcProbability, o.xtcThreshold, o.minKeep);
    this.mirostat = o.mirostat === 2 ? new MirostatV2(o.mirostatTau, o.mirostatEta) : null;
    this.wholeRow = o.temperature > 0 && o.mirostat === 0 && o.topK === 0 && o.typicalP >= 1 && o.topP >= 1 && o.minP <= 0 &&
      !(o.xtcProbability > 0 && o.xtcThreshold <= 0.5);
    this.greedyArgmax = o.temperature === 0 && o.mirostat === 0 && o.typicalP >= 1 && !(o.xtcProbability > 0 && o.xtcThreshold <= 0.5);
  }

  /**
   * The next token for `logits` given the ids so far (prompt and generated: what the penalties
   * and DRY look at) and, optionally, a constraint's mask of allowed tokens (bit i of the
   * Uint32Array bitset = token i allowed).
   */
  sample(logits: Float32Array, history: ArrayLike<number> = NO_HISTORY, allowed?: Uint32Array): number {
    const row = this.rewrite(logits, history, allowed);
    // greedy, when no step can remove the most likely token (top-k, top-p and min-p always keep it)
    if (this.greedyArgmax) return checkedArgmax(row);
    const c = this.candidates;
    // nothing to truncate: the same token as the path below, without building the list
    // (false for a row holding −Infinity or a bad logit: the path below handles and reports those)
    if (this.wholeRow && c.softmaxWholeRow(row, this.invT)) {
      this.rng.uniformInto(this.u, 0);
      return c.drawWholeRow(this.u, 0);
    }
    if (this.mirostat !== null) {
      c.fromRow(row);
      return this.mirostat.sample(row, c, this.invT, this.rng);
    }
    this.truncate(row, c);
    if (this.invT[0] === Infinity) return c.argmax(row);
    c.softmax(row, this.invT);
    this.rng.uniformInto(this.u, 0);
    return c.draw(this.u, 0);
  }

  /**
   * The distribution sample() draws from, written to out[0..vocab) (0 for removed tokens; with
   * temperature 0 a single 1). Consumes no randomness. This is what speculative decoding compares
   * between draft and target; XTC and Mirostat are refused because their distribution is not a
   * function of the logits (XTC flips a coin first, Mirostat carries μ from token to token).
   */
  probabilities(out: Float64Array, logits: Float32Array, history: ArrayLike<number> = NO_HISTORY, allowed?: Uint32Array): Float64Array {
    if (this.mirostat !== null || this.options.xtcProbability > 0) {
      throw new SamplingError(
        "SAMPLING_BAD_OPTION",
        `probabilities: expected a sampler whose distribution depends on the logits only, found ${this.mirostat ? "mirostat 2" : `xtcProbability ${this.options.xtcProbability}`}`,
      );
    }
    if (out.length < logits.length) {
      throw new SamplingError("SAMPLING_BAD_OPTION", `probabilities: expected an output of at least ${logits.length} entries, found ${out.length}`);
    }
    const row = this.rewrite(logits, history, allowed);
    out.fill(0, 0, logits.length);
    if (this.greedyArgmax) {
      // the token sample() takes, by the same rule (one pass, no candidate list)
      out[checkedArgmax(row)] = 1;
      return out;
    }
    const c = this.candidates;
    this.truncate(row, c);
    if (this.invT[0] === Infinity) {
      out[c.argmax(row)] = 1;
      return out;
    }
    c.softmax(row, this.invT);
    for (let j = 0; j < c.count; j++) out[c.ids[j]] = c.probs[j];
    return out;
  }

  /**
   * The logits of the last call after the mask, bias, penalties and DRY, before any truncation
   * or temperature (a view, overwritten by the next call): the "processed" distribution.
   */
  get processedLogits(): Float32Array {
    return this.row;
  }

  /** The active steps in order, with llama.cpp's names: e.g. ["top-k 40", "top-p 0.95", "temp 0.8", "dist"]. */
  describe(): string[] {
    const o = this.options;
    const steps: string[] = [];
    if (this.bias) steps.push(`logit-bias ${this.bias.ids.length}`);
    if (this.penalties.active) {
      steps.push(`penalties (repeat ${o.repetitionPenalty}, freq ${o.frequencyPenalty}, present ${o.presencePenalty}, last ${o.repetitionWindow})`);
    }
    if (this.dry.active) steps.push(`dry (multiplier ${o.dryMultiplier}, base ${o.dryBase}, allowed ${o.dryAllowedLength})`);
    if (this.mirostat) {
      steps.push(o.temperature === 0 ? "greedy" : `temp ${o.temperature}`, `mirostat-v2 (tau ${o.mirostatTau}, eta ${o.mirostatEta})`);
      return steps;
    }
    if (o.topK > 0) steps.push(`top-k ${o.topK}`);
    if (o.typicalP < 1) steps.push(`typical ${o.typicalP}`);
    if (o.topP < 1) steps.push(`top-p ${o.topP}`);
    if (o.minP > 0) steps.push(`min-p ${o.minP}`);
    if (o.xtcProbability > 0 && o.xtcThreshold <= 0.5) steps.push(`xtc (p ${o.xtcProbability}, t ${o.xtcThreshold})`);
    steps.push(...(o.temperature === 0 ? ["greedy"] : [`temp ${o.temperature}`, "dist"]));
    return steps;
  }

  /** The random stream and Mirostat's μ, to resume sampling exactly where it stopped. */
  getState(): SamplerState {
    return { rng: this.rng.getState(), mirostatMu: this.mirostat ? this.mirostat.mu[0] : null };
  }

  setState(state: SamplerState): void {
    const mu = state?.mirostatMu;
    if (this.mirostat ? !(typeof mu === "number" && Number.isFinite(mu)) : mu !== null) {
      throw new SamplingError(
        "SAMPLING_BAD_STATE",
        `sampler state: expected mirostatMu ${this.mirostat ? "to be a finite number" : "null (no mirostat)"}, found ${String(mu)}`,
      );
    }
    try {
      this.rng.setState(state.rng);
    } catch (error) {
      throw new SamplingError("SAMPLING_BAD_STATE", `sampler state: ${(error as Error).message}`, { cause: error });
    }
    if (this.mirostat && mu !== null) this.mirostat.mu[0] = mu;
  }

  /** Copies logits into the work row and applies mask → logit bias → penalties → DRY. */
  private rewrite(logits: Float32Array, history: ArrayLike<number>, allowed: Uint32Array | undefined): Float32Array {
    if (logits.length === 0) throw new SamplingError("SAMPLING_EMPTY_LOGITS", "logits: expected at least 1 value, found 0");
    if (this.row.length !== logits.length) {
      this.dry.checkVocabulary(logits.length);
      this.row = new Float32Array(logits.length);
    }
    const row = this.row;
    row.set(logits);
    if (allowed !== undefined) applyTokenMask(row, allowed);
    if (this.bias !== null) this.bias.apply(row);
    if (this.penalties.active) this.penalties.apply(row, history);
    if (this.dry.active) this.dry.apply(row, history);
    return row;
  }

  /** The candidates (every finite token) → top-k → typical-p → top-p → min-p → XTC (each returns at once when off). */
  private truncate(row: Float32Array, c: Candidates): void {
    this.topK.fromRow(row, c);
    this.typicalP.apply(row, c);
    this.topP.apply(row, c);
    this.minP.apply(row, c);
    this.xtc.apply(row, c, this.rng);
  }
}

// a shared empty history rather than a default `[]`, which would allocate on every call
const NO_HISTORY: ArrayLike<number> = Object.freeze([]);

function windowOk(n: number): boolean {
  return n === Infinity || (Number.isInteger(n) && n >= 0);
}

function check(name: string, value: number, ok: boolean, expected: string): void {
  if (!ok) throw new SamplingError("SAMPLING_BAD_OPTION", `${name}: expected ${expected}, found ${value}`);
}
