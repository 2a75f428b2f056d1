import { Rng } from "@zero-llm/tensor";
import { TransformerError } from "../errors";

/**
 * The data loader: one token stream cut into a training part and a validation part (the last
 * `valFraction` of the stream, so no window straddles the two), and batches of windows.
 *
 * A window is seqLen + 1 consecutive tokens: inputs are the first seqLen, targets the last
 * seqLen (each position predicts the next token).
 *
 * Training windows start at random offsets. The generator for optimizer step s, micro-batch m
 * is seeded from (seed, s, m) alone, so the batch of any step is a pure function of its number:
 * the "data position" a checkpoint must record is just the step, and a resumed run reads the
 * very batches the uninterrupted run would have read.
 *
 * Validation windows are fixed: evenly spaced over the validation part, the same every time.
 */

export interface Batch {
  /** [batch, seqLen] row-major. */
  readonly inputs: Int32Array;
  /** [batch, seqLen] row-major: inputs shifted left by one. */
  readonly targets: Int32Array;
  readonly batch: number;
  readonly seqLen: number;
}

export interface TokenSplitOptions {
  seqLen: number;
  /** Fraction of the stream held out for validation (default 0.1). */
  valFraction?: number;
}

export class TokenDataset {
  readonly train: Int32Array;
  readonly val: Int32Array;
  readonly seqLen: number;

  /**
   * Splits `tokens`; throws DATA_TOO_SHORT unless each part holds at least one window
   * (seqLen + 1 tokens), BAD_TOKEN for an id outside [0, vocabSize).
   */
  constructor(tokens: ArrayLike<number>, vocabSize: number, options: TokenSplitOptions) {
    const { seqLen } = options;
    const valFraction = options.valFraction ?? 0.1;
    if (!(valFraction > 0 && valFraction < 1)) {
      throw new TransformerError("BAD_CONFIG", `data: expected 0 < valFraction < 1, found ${valFraction}`);
    }
    const all = Int32Array.from(tokens);
    checkDataLength(all.length, seqLen, valFraction);
    const nVal = Math.floor(all.length * valFraction);
    for (let i = 0; i < all.length; i++) {
      if (all[i] < 0 || all[i] >= vocabSize) {
        throw new TransformerError("BAD_TOKEN", `data: expected token ids in [0, ${vocabSize}), found ${all[i]} at position ${i}`);
      }
    }
    this.train = all.subarray(0, all.length - nVal);
    this.val = all.subarray(all.length - nVal);
    this.seqLen = seqLen;
  }

  /** `batch` training windows at offsets drawn from `g`. */
  sample(batch: number, g: Rng): Batch {
    const starts = new Array<number>(batch);
    const span = this.train.length - this.seqLen; // starts in [0, span)
    for (let b = 0; b < batch; b++) starts[b] = g.int(span);
    return windows(this.train, starts, this.seqLen);
  }

  /** The training batch of optimizer step `step`, micro-batch `micro` (see the file comment). */
  trainBatch(seed: number, step: number, micro: number, batch: number): Batch {
    return this.sample(batch, new Rng(stepSeed(seed, step, micro)));
  }

  /**
   * The fixed validation set: `count` windows evenly spaced over the validation part, in
   * batches of `batch` (the last may be smaller).
   */
  validationBatches(count: number, batch: number): Batch[] {
    const span = this.val.length - this.seqLen - 1; // last valid start
    const starts = Array.from({ length: count }, (_, i) => (count === 1 ? 0 : Math.floor((i * span) / (count - 1))));
    const out: Batch[] = [];
    for (let i = 0; i < starts.length; i += batch) out.push(windows(this.val, starts.slice(i, i + batch), this.seqLen));
    return out;
  }
}

/** Whether a stream of n tokens leaves one window (seqLen + 1 tokens) in each part of the split. */
function splitFits(n: number, seqLen: number, valFraction: number): boolean {
  const nVal = Math.floor(n * valFraction);
  return nVal >= seqLen + 1 && n - nVal >= seqLen + 1;
}

/**
 * The fewest tokens TokenDataset accepts for this window length and validation share. Callers
 * check it before costly work (tokenizer training, tokenizing a corpus): a text of fewer UTF-8
 * bytes than this can never be long enough, since every token covers at least one byte.
 */
export function requiredTokens(seqLen: number, valFraction = 0.1): number {
  if (!(Number.isInteger(seqLen) && seqLen >= 1)) throw new TransformerError("BAD_CONFIG", `data: expected seqLen to be a positive integer, found ${seqLen}`);
  if (!(valFraction > 0 && valFraction < 1)) throw new TransformerError("BAD_CONFIG", `data: expected 0 < valFraction < 1, found ${valFraction}`);
  // Both parts grow by 0 or 1 token per added token, so the predicate is monotone: bisect.
  let lo = 2 * (seqLen + 1) - 1; // too short
  let hi = Math.ceil((seqLen + 1) / Math.min(valFraction, 1 - valFraction)) + 2;
  while (!splitFits(hi, seqLen, valFraction)) hi *= 2;
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (splitFits(mid, seqLen, valFraction)) hi = mid;
    else lo = mid;
  }
  return hi;
}

/** DATA_TOO_SHORT unless `found` tokens (or an upper bound on them, named by `unit`) can make a TokenDataset. */
export function checkDataLength(found: number, seqLen: number, valFraction = 0.1, unit = "tokens"): void {
  const need = requiredTokens(seqLen, valFraction);
  if (found < need) {
    throw new TransformerError(
      "DATA_TOO_SHORT",
      `data: expected at least ${need} tokens (one window of seqLen + 1 = ${seqLen + 1} in both the training and the ${valFraction} validation part), found ${found} ${unit}`,
    );
  }
}

/** Non-overlapping windows covering `tokens` (each predicted token counted once): perplexity's batches. */
export function contiguousBatches(tokens: Int32Array, seqLen: number, batch: number): Batch[] {
  const starts: number[] = [];
  for (let s = 0; s + seqLen + 1 <= tokens.length; s += seqLen) starts.push(s);
  const out: Batch[] = [];
  for (let i = 0; i < starts.length; i += batch) out.push(windows(tokens, starts.slice(i, i + batch), seqLen));
  // the tail shorter than a window: one more row, shorter (every token but the first is predicted once)
  const covered = starts.length * seqLen;
  if (tokens.length - covered >= 2) {
    const tail = tokens.length - covered - 1;
    out.push(windows(tokens, [covered], tail));
  }
  return out;
}

function windows(tokens: Int32Array, starts: readonly number[], seqLen: number): Batch {
  const batch = starts.length;
  const inputs = new Int32Array(batch * seqLen);
  const targets = new Int32Array(batch * seqLen);
  starts.forEach((s, b) => {
    inputs.set(tokens.subarray(s, s + seqLen), b * seqLen);
    targets.set(tokens.subarray(s + 1, s + 1 + seqLen), b * seqLen);
  });
  return { inputs, targets, batch, seqLen };
}

/** A 32-bit seed for (seed, step, micro): three rounds of a murmur3-style integer mix. */
export function stepSeed(seed: number, step: number, micro: number): number {
  let h = seed >>> 0;
  for (const v of [step, micro]) {
    h = Math.imul(h ^ (v >>> 0), 0x9e3779b1) >>> 0;
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b) >>> 0;
    h ^= h >>> 13;
  }
  return h >>> 0;
}
