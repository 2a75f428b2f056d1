import { QuantError } from "./errors";

// How much quantization changes a model, measured as llama.cpp's `perplexity --kl-divergence`
// and its quantization tables measure it: weight error per tensor, and, on held-out text, the
// perplexity of both models, the KL divergence of their next-token distributions and how often
// they agree on the most likely token.

/** √(mean (a − b)²), summed in float64. */
export function rmse(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new QuantError("BAD_LENGTH", `rmse: expected arrays of equal length, found ${a.length} and ${b.length}`);
  if (a.length === 0) return 0;
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += (a[i] - b[i]) ** 2;
  return Math.sqrt(sum / a.length);
}

/** rmse(a, b) / √(mean a²): the error relative to the tensor's own scale (0 for an all-zero a equal to b). */
export function relativeRmse(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const error = rmse(a, b);
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i] ** 2;
  const rms = Math.sqrt(sum / Math.max(1, a.length));
  return rms === 0 ? (error === 0 ? 0 : Infinity) : error / rms;
}

/**
 * The value at `fraction` (0…1) of ascending `sorted` values, interpolated linearly between the
 * two nearest ranks, as llama.cpp reports its 99 % KLD.
 */
export function percentile(sorted: ArrayLike<number>, fraction: number): number {
  if (sorted.length === 0) throw new QuantError("INVALID_ARGUMENT", "percentile: expected at least one value, found none");
  if (fraction <= 0) return sorted[0];
  if (fraction >= 1) return sorted[sorted.length - 1];
  const p = fraction * (sorted.length - 1);
  const i = Math.floor(p), t = p - i;
  return (1 - t) * sorted[i] + t * sorted[Math.min(i + 1, sorted.length - 1)];
}

/** log softmax of logits[offset … offset + n) into out (float64). */
function logSoftmax(logits: ArrayLike<number>, offset: number, n: number, out: Float64Array): void {
  let max = -Infinity;
  for (let i = 0; i < n; i++) max = Math.max(max, logits[offset + i]);
  let sum = 0;
  for (let i = 0; i < n; i++) sum += Math.exp(logits[offset + i] - max);
  const lse = max + Math.log(sum);
  for (let i = 0; i < n; i++) out[i] = logits[offset + i] - lse;
}

function argmax(values: Float64Array): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

export interface ComparisonSummary {
  /** Positions compared. */
  readonly positions: number;
  /** exp(mean negative log-likelihood of the targets) under the base model. */
  readonly perplexityBase: number;
  /** The same under the compared (quantized) model. */
  readonly perplexity: number;
  /** Mean over positions of KL(P_base ‖ P) = Σ_t p_base(t)·(log p_base(t) − log p(t)), in nats. */
  readonly kldMean: number;
  /** Its 99th percentile (linear interpolation) and maximum. */
  readonly kldP99: number;
  readonly kldMax: number;
  /** Fraction of positions where both models' most likely token is the same. */
  readonly top1Agreement: number;
}

/**
 * Next-token distributions of a base model and a compared one, fed position by position (one row
 * of logits from each and the token that actually came next), summarised as llama.cpp does.
 * Sums are float64; each position's KL divergence is kept for the percentile.
 */
export class DistributionComparison {
  private readonly logBase: Float64Array;
  private readonly logOther: Float64Array;
  private kld = new Float64Array(1024);
  private count = 0;
  private nllBase = 0;
  private nll = 0;
  private sameTop = 0;

  constructor(readonly vocabSize: number) {
    if (!Number.isInteger(vocabSize) || vocabSize <= 0) {
      throw new QuantError("INVALID_ARGUMENT", `DistributionComparison: expected a positive integer vocabulary size, found ${vocabSize}`);
    }
    this.logBase = new Float64Array(vocabSize);
    this.logOther = new Float64Array(vocabSize);
  }

  /** One position: the two models' logits (vocabSize each, from the offsets) and the next token. */
  add(baseLogits: ArrayLike<number>, logits: ArrayLike<number>, target: number, baseOffset = 0, offset = 0): void {
    const n = this.vocabSize;
    if (!Number.isInteger(target) || target < 0 || target >= n) {
      throw new QuantError("INVALID_ARGUMENT", `DistributionComparison.add: expected a target token in [0, ${n}), found ${target}`);
    }
    if (baseOffset + n > baseLogits.length || offset + n > logits.length) {
      throw new QuantError("BAD_LENGTH", `DistributionComparison.add: expected ${n} logits from each model, found ${baseLogits.length - baseOffset} and ${logits.length - offset}`);
    }
    logSoftmax(baseLogits, baseOffset, n, this.logBase);
    logSoftmax(logits, offset, n, this.logOther);
    let kld = 0;
    for (let t = 0; t < n; t++) {
      const p = Math.exp(this.logBase[t]);
      if (p > 0) kld += p * (this.logBase[t] - this.logOther[t]);
    }
    if (this.count === this.kld.length) {
      const grown = new Float64Array(2 * this.kld.length);
      grown.set(this.kld);
      this.kld = grown;
    }
    this.kld[this.count++] = Math.max(0, kld); // ≥ 0 in exact arithmetic; rounding can dip below by ~1e-17
    this.nllBase -= this.logBase[target];
    this.nll -= this.logOther[target];
    if (argmax(this.logBase) === argmax(this.logOther)) this.sameTop++;
  }

  summary(): ComparisonSummary {
    if (this.count === 0) throw new QuantError("INVALID_ARGUMENT", "DistributionComparison.summary: expected at least one position, found none");
    const sorted = this.kld.slice(0, this.count).sort();
    let sum = 0;
    for (const v of sorted) sum += v;
    return {
      positions: this.count,
      perplexityBase: Math.exp(this.nllBase / this.count),
      perplexity: Math.exp(this.nll / this.count),
      kldMean: sum / this.count,
      kldP99: percentile(sorted, 0.99),
      kldMax: sorted[this.count - 1],
      top1Agreement: this.sameTop / this.count,
    };
  }
}

/**
 * exp(mean over rows of −log softmax(logits row)[target]): rows of `vocabSize` logits, one target
 * each. (A model's perplexity over a text is `inferencePerplexity` in @zero-llm/transformer.)
 */
export function logitsPerplexity(logits: ArrayLike<number>, targets: ArrayLike<number>, vocabSize: number): number {
  if (targets.length === 0 || logits.length !== targets.length * vocabSize) {
    throw new QuantError("BAD_LENGTH", `logitsPerplexity: expected ${targets.length} rows of ${vocabSize} logits (at least one), found ${logits.length} values`);
  }
  const row = new Float64Array(vocabSize);
  let nll = 0;
  for (let r = 0; r < targets.length; r++) {
    const target = targets[r];
    if (!Number.isInteger(target) || target < 0 || target >= vocabSize) {
      throw new QuantError("INVALID_ARGUMENT", `logitsPerplexity: expected target tokens in [0, ${vocabSize}), found ${target} at row ${r}`);
    }
    logSoftmax(logits, r * vocabSize, vocabSize, row);
    nll -= row[target];
  }
  return Math.exp(nll / targets.length);
}

/**
 * @deprecated Renamed `logitsPerplexity`: @zero-llm/transformer's `perplexity` takes a model and
 * tokens, this one rows of logits. This alias goes in the next major version.
 */
export const perplexity = logitsPerplexity;
