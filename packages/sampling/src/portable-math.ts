/**
 * exp and ln computed with IEEE-754 double additions, multiplications and divisions only, so
 * every JavaScript engine gives the same bits.
 *
 * Why not Math.exp / Math.log: ECMAScript leaves them "implementation-approximated". V8 (Node,
 * Chrome) ships one fdlibm port on every platform, but other engines call the system's libm, and
 * two libms may differ in the last bit. A token draw compares a uniform number with a running sum
 * of probabilities, so one different bit can, at a boundary, pick a different token. Basic
 * arithmetic is correctly rounded everywhere (and JavaScript never fuses a multiply-add), so
 * these two functions make "same seed, logits and settings → same token" hold on every engine.
 *
 * Accuracy: within 2 ulp of the true value (test/portable-math.test.ts compares with Math.exp and
 * Math.log over the range a sampler uses, and pins exact bits for a table of inputs).
 */

/** ln 2 split so that k · LN2_HI is exact for |k| < 2^11 (its low 32 bits are zero): Cody & Waite's reduction. */
const LN2_HI = 6.93147180369123816490e-1;
const LN2_LO = 1.90821492927058770002e-10;
const LOG2E = 1.4426950408889634;
const LN2 = 0.6931471805599453;
/** Above this exp overflows to Infinity; below EXP_UNDERFLOW it is 0 (even as a subnormal). */
const EXP_OVERFLOW = 709.782712893384;
const EXP_UNDERFLOW = -745.1332191019412;
const SQRT2 = 1.4142135623730951;

/** 2^k for k in [-1074, 1023], built by exact doubling and halving (each a power of two, so no rounding). */
const POW2_MIN = -1074;
const POW2 = (() => {
  const table = new Float64Array(1023 - POW2_MIN + 1);
  let up = 1, down = 1;
  for (let k = 0; k <= 1023; k++, up *= 2) table[k - POW2_MIN] = up;
  for (let k = 0; k >= POW2_MIN; k--, down /= 2) table[k - POW2_MIN] = down;
  return table;
})();

/** 1/n!: the Taylor coefficients of e^r. */
const C2 = 1 / 2, C3 = 1 / 6, C4 = 1 / 24, C5 = 1 / 120, C6 = 1 / 720, C7 = 1 / 5040, C8 = 1 / 40320;
const C9 = 1 / 362880, C10 = 1 / 3628800, C11 = 1 / 39916800, C12 = 1 / 479001600, C13 = 1 / 6227020800;

/**
 * e^r for |r| ≤ ln2/2 by its Taylor series to r^13 (the remainder r^14/14! is below 2^-60
 * relative). Used once, to build the table below.
 */
function expReduced(r: number): number {
  const tail = C2 + r * (C3 + r * (C4 + r * (C5 + r * (C6 + r * (C7 + r * (C8 + r * (C9 + r * (C10 + r * (C11 + r * (C12 + r * C13))))))))));
  return 1 + (r + r * r * tail);
}

/**
 * 2^(j/64) for j = 0…63, computed here (by the same arithmetic on every engine), not copied in;
 * from j = 32 on as 2 · 2^((j − 64)/64), so that every argument of the series stays within ln2/2.
 */
const TABLE_BITS = 6;
const TABLE_SIZE = 1 << TABLE_BITS;
/** Exported for the wasm whole-row kernel (src/whole-row-wasm.ts), which copies it into its memory. */
export const POW2_FRACTION = Float64Array.from({ length: TABLE_SIZE }, (_, j) =>
  j < TABLE_SIZE / 2 ? expReduced((j / TABLE_SIZE) * LN2) : 2 * expReduced(((j - TABLE_SIZE) / TABLE_SIZE) * LN2));
/** ln2/64, split as LN2_HI / LN2_LO (dividing by 64 is exact). */
const STEP_HI = LN2_HI / TABLE_SIZE;
const STEP_LO = LN2_LO / TABLE_SIZE;
const STEPS_PER_UNIT = TABLE_SIZE * LOG2E;

/**
 * Arguments whose result is a normal double: 2^k below is then one entry of POW2 (the first n
 * past the lower bound has k = −1022). Outside, a rarer path scales in two steps or saturates.
 */
const NORMAL_MIN = -708.3964185322641; // ln(2^-1022)
const NORMAL_MAX = 709; // n ≤ 65 463, k ≤ 1022
/** The range of arguments expUsualInPlace accepts. */
export const EXP_USUAL_MIN = NORMAL_MIN;
export const EXP_USUAL_MAX = NORMAL_MAX;

/**
 * values[j] = e^values[j] for j < count, in place, within 2 ulp.
 *
 *   x = n·ln2/64 + r, |r| ≤ ln2/128   →   e^x = 2^(n >> 6) · 2^((n & 63)/64) · e^r
 *
 * with the middle factor from a 64-entry table and e^r from five Taylor terms (r^6/6! < 2^-54).
 * The batch form is the one to use in a loop: a double returned from (or passed to) a call that
 * V8 does not inline is boxed, 16 bytes a number, and the sampler must not allocate per token.
 *
 * The loop is the sampler's hottest (every logit of every token at temperature > 0). When every
 * argument of a block (EXP_BLOCK values) is usual (a normal result: a softmax's are in
 * [−700, 0]) it runs as straight-line code; a block holding any other (underflow, a subnormal
 * result, overflow, NaN) goes through expReferenceAt, the form that tests every case. Both compute the same products in the same
 * order, so the bits do not depend on the path (test/portable-math.test.ts compares the two on
 * millions of inputs, edge cases included, and pins a digest of the results).
 */
export function expInPlace(values: Float64Array, count: number): void {
  for (let start = 0; start < count; start += EXP_BLOCK) expBlock(values, start, Math.min(count, start + EXP_BLOCK));
}

/**
 * How many values one call of the exp loops takes. A loop over a whole 32,000-token row, called
 * once per token, never gets V8's optimized code for a call: its tier-up check fires inside the
 * loop every time, so V8 only ever compiles an on-stack-replacement entry, and each call ran its
 * first ~20 iterations in baseline code, boxing every double (340 bytes per token). Short loops
 * called many times per token are optimized as functions, like every other loop here.
 */
const EXP_BLOCK = 1024;

/** expInPlace on values[start..end). */
function expBlock(values: Float64Array, start: number, end: number): void {
  // the bounds as locals: a bundler (tsup's esbuild) turns module-level consts into `var`s, which
  // V8 then reloads (and unboxes) from the module's context at every use (expUsualRange does the
  // same with its constants: it halves the loop's time)
  const lo = NORMAL_MIN, hi = NORMAL_MAX;
  // a range test inside the arithmetic loop costs V8 a third of its time: test the whole
  // block first (a cheap pass), then run straight-line code, or the reference when any is rare
  let usual = true;
  for (let j = start; j < end && usual; j++) usual = values[j] >= lo && values[j] <= hi;
  if (!usual) {
    for (let j = start; j < end; j++) expReferenceAt(values, j);
    return;
  }
  expUsualRange(values, start, end);
}

/**
 * expInPlace's straight-line loop alone, for a caller that already knows every argument is
 * usual (in [EXP_USUAL_MIN, EXP_USUAL_MAX]: a softmax whose largest and smallest shifted logits
 * are in range), so the check pass would be wasted. Outside that range the result is wrong, not
 * merely slow: call expInPlace when unsure.
 */
export function expUsualInPlace(values: Float64Array, count: number): void {
  for (let start = 0; start < count; start += EXP_BLOCK) expUsualRange(values, start, Math.min(count, start + EXP_BLOCK));
}

/** The straight-line loop on values[start..end), every argument usual. */
function expUsualRange(values: Float64Array, start: number, end: number): void {
  const mask = TABLE_SIZE - 1, bits = TABLE_BITS, bias = -POW2_MIN;
  const fraction = POW2_FRACTION, pow2 = POW2, stepsPerUnit = STEPS_PER_UNIT, stepHi = STEP_HI, stepLo = STEP_LO;
  for (let j = start; j < end; j++) {
    const x = values[j];
    // n = round(x / (ln2/64)) as floor(· + ½), an exact integer (|n| < 2^17): kept as the double
    // for the reduction (an int32 would be converted back twice: 15 % of the loop) and as an
    // int32 for the table indices; both hold the same integer, so the bits do not change
    const nd = Math.floor(x * stepsPerUnit + 0.5);
    const n = nd | 0;
    const r = x - nd * stepHi - nd * stepLo;
    // the Taylor coefficients written out (C2…C5): literals become immediates in V8's code
    const er = 1 + (r + r * r * (1 / 2 + r * (1 / 6 + r * (1 / 24 + r * (1 / 120)))));
    // × 2^k: exact (a power of two and a normal result)
    values[j] = fraction[n & mask] * er * pow2[(n >> bits) + bias];
  }
}

/**
 * values[j] = e^values[j], the reference form: every case tested in turn (NaN, underflow to 0,
 * overflow, a subnormal result scaled in two steps). expInPlace's fast path must match it bit for
 * bit; it also serves expInPlace's rare arguments.
 */
export function expReferenceAt(values: Float64Array, j: number): void {
  const x = values[j];
  if (!(x >= EXP_UNDERFLOW)) {
    values[j] = x !== x ? NaN : 0;
    return;
  }
  if (x > EXP_OVERFLOW) {
    values[j] = Infinity;
    return;
  }
  const n = Math.floor(x * STEPS_PER_UNIT + 0.5);
  const r = x - n * STEP_HI - n * STEP_LO;
  const er = 1 + (r + r * r * (C2 + r * (C3 + r * (C4 + r * C5))));
  const y = POW2_FRACTION[n & (TABLE_SIZE - 1)] * er;
  // × 2^k: exact, except for one rounding when the result is subnormal
  const k = n >> TABLE_BITS;
  if (k > 1023) values[j] = y * 2 * POW2[1023 - POW2_MIN];
  else if (k < -1022) values[j] = y * POW2[k + 64 - POW2_MIN] * POW2[-64 - POW2_MIN];
  else values[j] = y * POW2[k - POW2_MIN];
}

/** values[index] = e^values[index], in place (see expInPlace for why not a return value). */
export function expAt(values: Float64Array, index: number): void {
  const x = values[index];
  scratch[0] = x;
  expInPlace(scratch, 1);
  values[index] = scratch[0];
}

const scratch = new Float64Array(1);

/** e^x, the same bits on every engine. */
export function portableExp(x: number): number {
  scratch[0] = x;
  expInPlace(scratch, 1);
  return scratch[0];
}

/** values[index] = ln values[index], in place (see expInPlace for why not a return value). */
export function logAt(values: Float64Array, index: number): void {
  const x = values[index];
  if (x !== x || x < 0) {
    values[index] = NaN;
    return;
  }
  if (x === 0 || x === Infinity) {
    values[index] = x === 0 ? -Infinity : Infinity;
    return;
  }
  // x = m · 2^e with m in [√½, √2): found by exact scaling by powers of two, no bit tricks
  let e = 0;
  let m = x;
  if (m < POW2[-1000 - POW2_MIN]) {
    m *= POW2[64 - POW2_MIN];
    e -= 64;
  }
  // m travels to exponentOfAt in a typed array: a double passed to a call V8 does not inline is
  // boxed (16 bytes), and whether it inlines this one depends on how much was inlined around it
  // (Mirostat's sample allocated a number per token in some runs and not others)
  mantissa[0] = m;
  const exponent = exponentOfAt(mantissa, 0);
  e += exponent;
  m *= POW2[-exponent - POW2_MIN];
  if (m > SQRT2) {
    m /= 2;
    e += 1;
  }
  // ln m = 2·atanh(s) = 2(s + s³/3 + s⁵/5 + …) with s = (m − 1)/(m + 1), |s| ≤ 0.172
  const s = (m - 1) / (m + 1);
  const s2 = s * s;
  let series = 1 / 23;
  for (let n = 21; n >= 3; n -= 2) series = series * s2 + 1 / n;
  const lnM = 2 * s + 2 * s * s2 * series;
  values[index] = e * LN2_HI + (e * LN2_LO + lnM);
}

/** ln x, the same bits on every engine. */
export function portableLog(x: number): number {
  scratch[0] = x;
  logAt(scratch, 0);
  return scratch[0];
}

const mantissa = new Float64Array(1);

/** floor(log2(m)) for m = values[index], a normal positive double, by binary search over the table of powers of two. */
function exponentOfAt(values: Float64Array, index: number): number {
  const m = values[index];
  let lo = -1022, hi = 1023;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (POW2[mid - POW2_MIN] <= m) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

