import { SamplingError } from "./errors";
import { EXP_USUAL_MIN, expInPlace, expUsualInPlace, logAt } from "./portable-math";
import { wholeRowKernel, type WholeRowKernel } from "./whole-row-wasm";

/**
 * The tokens still in the running, as llama.cpp's `llama_token_data_array`: the chain starts
 * with every token whose logit is finite and each truncation step (top-k, typical-p, top-p,
 * min-p, XTC) shrinks the list; later steps then work on the survivors only (after top-k 40,
 * on 40 tokens instead of the whole vocabulary).
 *
 *   row:   Float32Array [vocab]   the processed logits (bias, penalties, DRY, mask applied)
 *   ids:   Int32Array   [count]   surviving token ids, always in ascending order
 *   probs: Float64Array [count]   probs[j] belongs to ids[j], after softmax()
 *
 * Keeping ids ascending makes every step's result independent of how an earlier step happened
 * to order its work, and makes the final draw walk tokens in id order (the draw of the earlier
 * full-row sampler, so its seeded streams carry over wherever the kept set is the same).
 *
 * All arrays are allocated once per vocabulary size; a step allocates nothing.
 */
export class Candidates {
  ids = new Int32Array(0);
  count = 0;
  probs = new Float64Array(0);
  /** Scratch for steps: positions to select among, selection keys, kept flags, logits to select from. */
  order = new Int32Array(0);
  keys = new Float64Array(0);
  kept = new Uint8Array(0);
  values = new Float32Array(0);
  /**
   * Of the last softmax(): [0] the largest logit, [1] ln Σ exp((logit − max)·invT), so that
   * ln p_j = (row[ids[j]] − max)·invT − [1] without a logarithm per token. In an array because a
   * double stored on an object or returned from a call may be boxed (allocated) by V8.
   */
  readonly last = new Float64Array(2);
  /** [0] 1 / Σ weights of the last softmaxWholeRow(), which its draw multiplies each weight by. */
  private readonly wholeRow = new Float64Array(1);
  /** The last softmaxWholeRow() left its weights in the wasm kernel's memory (not in probs). */
  private weightsInKernel = false;

  /**
   * @param kernel the whole-row pair's fast half (WebAssembly SIMD, the same bits as the
   *   TypeScript below); null runs the TypeScript reference. Default: the process's kernel where
   *   WebAssembly SIMD is available.
   */
  constructor(readonly kernel: WholeRowKernel | null = wholeRowKernel()) {}

  /** Size the arrays for a vocabulary (allocates only when the size changes). */
  reserve(vocab: number): void {
    if (this.ids.length === vocab) return;
    this.ids = new Int32Array(vocab);
    this.probs = new Float64Array(vocab);
    this.order = new Int32Array(vocab);
    this.keys = new Float64Array(vocab);
    this.kept = new Uint8Array(vocab);
    this.values = new Float32Array(vocab);
  }

  /**
   * Every token whose logit is not −Infinity, in id order. A NaN or +Infinity logit is an error
   * (softmax of it has no meaning), and so is a row with nothing left.
   */
  fromRow(row: Float32Array): void {
    this.reserve(row.length);
    const ids = this.ids;
    let count = 0;
    for (let i = 0; i < row.length; i++) {
      const v = row[i];
      if (v > -Infinity && v < Infinity) ids[count++] = i;
      else if (v !== -Infinity) badLogit(i, v);
    }
    if (count === 0) noCandidates(row.length);
    this.count = count;
  }

  /**
   * probs = softmax(row[ids] · scale[0]) over the candidates (scale[0] = 1/temperature, or
   * UNIT_SCALE), in double precision with the portable exp (the same bits on every engine).
   * Records the max and ln of the normaliser in `last`. The scale comes in an array: a double
   * argument would be boxed on each call.
   */
  softmax(row: Float32Array, scale: Float64Array): void {
    const { ids, probs, count } = this;
    const invT = scale[0];
    let max = -Infinity;
    for (let j = 0; j < count; j++) if (row[ids[j]] > max) max = row[ids[j]];
    for (let j = 0; j < count; j++) probs[j] = (row[ids[j]] - max) * invT;
    expInPlace(probs, count);
    let sum = 0;
    for (let j = 0; j < count; j++) sum += probs[j];
    const inverse = 1 / sum; // one division, then multiplications (4× cheaper each)
    for (let j = 0; j < count; j++) probs[j] *= inverse;
    this.last[0] = max;
    this.last[1] = sum;
    logAt(this.last, 1);
  }

  /**
   * The chain's commonest case, no truncation step active (OpenAI's default distribution: only a
   * temperature), done without a candidate list: every token is a candidate and ids[j] would be
   * j, so the softmax reads the row directly. Four passes instead of eight (list, max, shift, range
   * check, exp, sum, normalise, draw), with the same arithmetic in the same order, so the same bits
   * as fromRow() + softmax() + draw():
   *
   *   1. max and min of the row, checking every logit is finite;
   *   2. probs[i] = (row[i] − max)·invT, all known usual for the exp from the min alone
   *      (the shift and the scale are monotonic), so expUsualInPlace skips its range pass;
   *   3. the exp, then sum += probs[i] in id order;
   *   4. drawWholeRow(): probs[i]·(1/sum) formed as it scans, stopping at the drawn token (the
   *      normalising pass of softmax() is fused into the draw: the same product, made only for
   *      the tokens the scan reaches).
   *
   * Returns false, having changed nothing the general path reads, when the row holds a −Infinity
   * (a ban or a mask: the list leaves them out), a NaN or ±Infinity (fromRow reports it), or a
   * spread of logits so wide that some exp leaves the usual range (expInPlace's rare path).
   * After a true return the unnormalised weights are in probs[0..row.length) (the TypeScript
   * path) or in the wasm kernel's memory, and `count` is 0: no list was built, and only
   * drawWholeRow() may follow, before any other Candidates' whole-row softmax (the kernel's
   * memory is shared; Sampler.sample() draws right after, in the same synchronous call).
   */
  softmaxWholeRow(row: Float32Array, scale: Float64Array): boolean {
    if (this.kernel !== null) return this.softmaxWholeRowKernel(this.kernel, row, scale);
    const n = row.length;
    const invT = scale[0];
    // Math.max/min without branches (8 % faster than comparisons); a NaN or an infinity carries
    // through them to the test below. (Math.max prefers +0 to −0 where the comparison keeps the
    // first: row[i] − max is then the same value, at most a zero of the other sign, whose exp is 1.)
    let max = -Infinity, min = Infinity;
    for (let i = 0; i < n; i++) {
      max = Math.max(max, row[i]);
      min = Math.min(min, row[i]);
    }
    if (!(min > -Infinity && max < Infinity)) return false;
    if (!((min - max) * invT >= EXP_USUAL_MIN)) return false;
    this.reserve(n);
    const probs = this.probs;
    for (let i = 0; i < n; i++) probs[i] = (row[i] - max) * invT;
    expUsualInPlace(probs, n);
    let sum = 0;
    for (let i = 0; i < n; i++) sum += probs[i];
    this.weightsInKernel = false;
    this.last[0] = max;
    this.last[1] = sum;
    this.finishWholeRow();
    return true;
  }

  /**
   * softmaxWholeRow() on the wasm kernel: the same three passes (range, exp + ordered sum), the
   * same tests between them, the weights kept in the kernel's memory for drawWholeRow().
   */
  private softmaxWholeRowKernel(kernel: WholeRowKernel, row: Float32Array, scale: Float64Array): boolean {
    const invT = scale[0];
    kernel.loadRow(row);
    const range = kernel.scalars;
    const max = range[0], min = range[1];
    if (!(min > -Infinity && max < Infinity)) return false;
    if (!((min - max) * invT >= EXP_USUAL_MIN)) return false;
    kernel.weigh(scale);
    this.weightsInKernel = true;
    this.last[0] = max;
    this.last[1] = kernel.scalars[2];
    this.finishWholeRow();
    return true;
  }

  /** With last = [max, sum] written (in an array: a double passed to a call may be boxed). */
  private finishWholeRow(): void {
    this.count = 0;
    this.wholeRow[0] = 1 / this.last[1]; // as softmax(): one division, then a multiplication per token
    logAt(this.last, 1);
  }

  /**
   * draw() after softmaxWholeRow(): the first token whose cumulative probability exceeds u, each
   * probability formed as softmax() forms it (weight × 1/sum), so the same token for the same u.
   */
  drawWholeRow(uniform: Float64Array, index: number): number {
    if (this.weightsInKernel && this.kernel !== null) return this.kernel.draw(this.wholeRow, uniform, index);
    const u = uniform[index];
    const inverse = this.wholeRow[0];
    const probs = this.probs;
    const n = probs.length; // the row's length: softmaxWholeRow sized the arrays for it
    let cumulative = 0;
    let lastNonZero = 0;
    for (let i = 0; i < n; i++) {
      const p = probs[i] * inverse;
      if (p === 0) continue;
      cumulative += p;
      lastNonZero = i;
      if (u < cumulative) return i;
    }
    return lastNonZero; // u landed in the rounding gap between the float sum and 1
  }

  /** Keep the candidates whose `kept` flag is set (order preserved); clears the flags. */
  compact(): void {
    const { ids, probs, kept } = this;
    let n = 0;
    for (let j = 0; j < this.count; j++) {
      if (kept[j] === 1) {
        ids[n] = ids[j];
        probs[n] = probs[j];
        n++;
      }
      kept[j] = 0;
    }
    this.count = n;
  }

  /** The candidate with the largest logit (the lowest id among equals). */
  argmax(row: Float32Array): number {
    const { ids, count } = this;
    let best = ids[0];
    for (let j = 1; j < count; j++) if (row[ids[j]] > row[best]) best = ids[j];
    return best;
  }

  /**
   * Inverse CDF over probs in id order: the first candidate whose cumulative probability
   * exceeds u ∈ [0, 1). u is read from an array so that no double crosses a call (see Rng.uniformInto).
   */
  draw(uniform: Float64Array, index: number): number {
    const u = uniform[index];
    const { ids, probs, count } = this;
    let cumulative = 0;
    let lastNonZero = ids[0];
    for (let j = 0; j < count; j++) {
      if (probs[j] === 0) continue;
      cumulative += probs[j];
      lastNonZero = ids[j];
      if (u < cumulative) return ids[j];
    }
    return lastNonZero; // u landed in the rounding gap between the float sum and 1
  }
}

/** The scale of a softmax at temperature 1. */
export const UNIT_SCALE = Float64Array.of(1);

export function badLogit(id: number, value: number): never {
  throw new SamplingError("SAMPLING_BAD_LOGITS", `logits: expected finite numbers or −Infinity, found ${value} at token ${id}`);
}

export function noCandidates(vocab: number): never {
  throw new SamplingError(
    "SAMPLING_NO_CANDIDATES",
    `logits: expected at least one token that is not masked or −Infinity, found all ${vocab} excluded`,
  );
}

/**
 * The most likely token of a row (lowest id among equal maxima), checking every logit as
 * fromRow does: greedy decoding's whole chain when no step can remove the most likely token.
 */
export function checkedArgmax(row: Float32Array): number {
  let best = -1;
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) {
    const v = row[i];
    if (!(v > -Infinity && v < Infinity)) {
      if (v !== -Infinity) badLogit(i, v);
      continue;
    }
    if (v > max || best < 0) {
      max = v;
      best = i;
    }
  }
  if (best < 0) noCandidates(row.length);
  return best;
}
