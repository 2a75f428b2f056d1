import { EMPTY, NOTHING, alt, chars, literal, repeat, seq, type Expr } from "./grammar";

/**
 * Digit automata for JSON numbers within bounds: exact by construction (no post-check), as
 * llama.cpp's `_build_min_max_int` does for integers, extended to decimals.
 *
 * Bounds come from JSON Schema as doubles; the languages here are sets of decimal strings whose
 * exact value lies within them. Two precautions keep "exact value within" equal to "the parsed
 * double within", which is what a validator checks:
 * - bounded integers stay within ±(2^53 − 1), where every integer is a double;
 * - bounded decimals are written with at most 15 digits, a lone leading "0" aside, and no
 *   exponent, so at most 15 significant digits (DBL_DIG): two different such decimals are two
 *   different doubles in the same order, and none rounds onto a bound unless it is that bound's
 *   shortest form, so strict bounds stay strict after parsing. (Bounds that need more digits,
 *   below 1e-15 or above 1e15, are refused as unsatisfiable.)
 */

const DIGIT = chars([0x30, 0x39]);
const NONZERO = chars([0x31, 0x39]);
export const MAX_SAFE = 9007199254740991n;
/** Significant digits of a bounded decimal. */
const DECIMAL_DIGITS = 15;

function digits(min: number, max: number): Expr {
  return repeat(DIGIT, min, max);
}

function digitRange(lo: number, hi: number): Expr {
  return lo === hi ? literal(String(lo)) : chars([0x30 + lo, 0x30 + hi]);
}

/**
 * Digit strings of exactly a.length digits (leading zeros allowed) between a and b inclusive
 * (same length): fix the common prefix, then lower edge | middle digits | upper edge.
 */
function fixedLengthRange(a: string, b: string): Expr {
  if (a.length === 0) return EMPTY;
  if (a[0] === b[0]) return seq(literal(a[0]), fixedLengthRange(a.slice(1), b.slice(1)));
  const rest = a.length - 1;
  const lowFull = /^0*$/.test(a.slice(1)), highFull = /^9*$/.test(b.slice(1));
  const lo = Number(a[0]) + (lowFull ? 0 : 1), hi = Number(b[0]) - (highFull ? 0 : 1);
  return alt(
    ...(lowFull ? [] : [seq(literal(a[0]), fixedLengthRange(a.slice(1), "9".repeat(rest)))]),
    ...(lo <= hi ? [seq(digitRange(lo, hi), digits(rest, rest))] : []),
    ...(highFull ? [] : [seq(literal(b[0]), fixedLengthRange("0".repeat(rest), b.slice(1)))]),
  );
}

/**
 * Canonical (no leading zero) decimal integers in [lo, hi], lo ≥ 0, split by digit count. Each
 * piece comes with its digit count so that a fraction can be sized after it.
 */
function naturalRangeByLength(lo: bigint, hi: bigint): { length: number; expr: Expr }[] {
  const out: { length: number; expr: Expr }[] = [];
  if (lo > hi) return out;
  const from = lo.toString().length, to = hi.toString().length;
  for (let n = from; n <= to; n++) {
    const floor = n === 1 ? 0n : 10n ** BigInt(n - 1);
    const ceil = 10n ** BigInt(n) - 1n;
    const a = lo > floor ? lo : floor, b = hi < ceil ? hi : ceil;
    if (a <= b) out.push({ length: n, expr: fixedLengthRange(a.toString(), b.toString()) });
  }
  return out;
}

function naturalRange(lo: bigint, hi: bigint): Expr {
  return alt(...naturalRangeByLength(lo, hi).map((p) => p.expr));
}

/**
 * JSON integers in [lo, hi]; null means unbounded on that side. Unbounded integers have up to 16
 * digits (llama.cpp's limit); bounded ones stay within ±(2^53 − 1).
 */
export function integerRange(lo: bigint | null, hi: bigint | null): Expr {
  const bounded = lo !== null || hi !== null;
  const limit = bounded ? MAX_SAFE : 10n ** 16n - 1n;
  const min = lo === null ? -limit : lo < -limit ? -limit : lo;
  const max = hi === null ? limit : hi > limit ? limit : hi;
  if (min > max) return NOTHING;
  const parts: Expr[] = [];
  if (min < 0n) {
    // negative part: magnitudes in [max(1, -max), -min]; no "-0"
    const magLo = max < 0n ? -max : 1n;
    parts.push(seq(literal("-"), naturalRange(magLo, -min)));
  }
  if (max >= 0n) parts.push(naturalRange(min > 0n ? min : 0n, max));
  return alt(...parts);
}

/** An exact decimal: value = int + 0.frac, frac without trailing zeros. */
interface Decimal {
  readonly int: bigint;
  readonly frac: string;
}

/** The exact decimal of a finite double's shortest round-trip form (1e-7 → 0.0000001). */
export function decimalOf(x: number): { negative: boolean; value: Decimal } {
  const negative = x < 0 || Object.is(x, -0);
  const s = Math.abs(x).toString();
  const m = /^(\d+)(?:\.(\d+))?(?:e([+-]\d+))?$/.exec(s);
  if (m === null) throw new Error(`not a finite number: ${s}`);
  let digitsText = m[1] + (m[2] ?? "");
  let point = m[1].length + Number(m[3] ?? 0);
  if (point < 0) {
    digitsText = "0".repeat(-point) + digitsText;
    point = 0;
  }
  if (point > digitsText.length) digitsText += "0".repeat(point - digitsText.length);
  const int = BigInt(digitsText.slice(0, point) || "0");
  const frac = digitsText.slice(point).replace(/0+$/, "");
  return { negative: negative && (int !== 0n || frac !== ""), value: { int, frac } };
}

interface Bound {
  readonly value: Decimal;
  readonly inclusive: boolean;
}

/**
 * Fraction digit strings φ (positions i.. of at most `budget` digits) with lo ≤ 0.φ ≤ hi
 * (strict where the bound is exclusive), while `loTight` / `hiTight` say the digits so far equal
 * the bound's. `canStop` allows φ to end here (false at the first digit after the point).
 */
function fraction(i: number, budget: number, lo: Bound | null, hi: Bound | null, loTight: boolean, hiTight: boolean, canStop: boolean): Expr {
  const loDigits = loTight && lo !== null ? lo.value.frac : "";
  const hiDigits = hiTight && hi !== null ? hi.value.frac : "";
  // ending here makes the remaining digits zeros
  const stopOk =
    (!loTight || lo === null || (i >= loDigits.length ? lo.inclusive : false)) &&
    (!hiTight || hi === null || (i >= hiDigits.length ? hi.inclusive : true));
  const options: Expr[] = [];
  if (canStop && stopOk) options.push(EMPTY);
  if (i < budget) {
    const loD = loTight && lo !== null ? digitAt(loDigits, i) : 0;
    const hiD = hiTight && hi !== null ? digitAt(hiDigits, i) : 9;
    for (let d = loD; d <= hiD; d++) {
      const stillLo = loTight && lo !== null && d === loD;
      const stillHi = hiTight && hi !== null && d === hiD;
      if (!stillLo && !stillHi) {
        // strictly inside on both sides from here: any digits; merge the run of such digits
        let e = d;
        while (e + 1 <= hiD && !(hiTight && hi !== null && e + 1 === hiD)) e++;
        options.push(seq(digitRange(d, e), digits(0, budget - i - 1)));
        d = e;
        continue;
      }
      options.push(seq(literal(String(d)), fraction(i + 1, budget, lo, hi, stillLo, stillHi, true)));
    }
  }
  return alt(...options);
}

function digitAt(s: string, i: number): number {
  return i < s.length ? s.charCodeAt(i) - 48 : 0;
}

/** Optional fraction part ("" or "." φ) after an integer part, with the bounds that still bind. */
function fractionPart(budget: number, lo: Bound | null, hi: Bound | null): Expr {
  const none = fraction(0, 0, lo, hi, lo !== null, hi !== null, true); // "" if the integer itself is within bounds
  const some = budget > 0 ? seq(literal("."), fraction(0, budget, lo, hi, lo !== null, hi !== null, false)) : NOTHING;
  return alt(none, some);
}

/**
 * Non-negative decimals (no exponent) in the bounds, int part and fraction together at most 15
 * digits (a lone "0" int part not counted). `lo` null means ≥ 0 inclusive.
 */
function nonNegativeDecimal(lo: Bound | null, hi: Bound | null): Expr {
  const cap = 10n ** BigInt(DECIMAL_DIGITS) - 1n;
  const a = lo === null ? 0n : lo.value.int;
  let b = hi === null ? cap : hi.value.int;
  let upper = hi;
  if (b > cap) {
    b = cap;
    upper = null; // the whole capped range is below the bound
  }
  if (a > b) return NOTHING;
  const budgetAfter = (length: number, intIsZero: boolean): number => DECIMAL_DIGITS - (intIsZero ? 0 : length);
  const options: Expr[] = [];
  if (a === b) {
    const len = a.toString().length;
    options.push(seq(literal(a.toString()), fractionPart(budgetAfter(len, a === 0n), lo, upper)));
  } else {
    options.push(seq(literal(a.toString()), fractionPart(budgetAfter(a.toString().length, a === 0n), lo, null)));
    for (const piece of naturalRangeByLength(a + 1n, b - 1n)) {
      options.push(seq(piece.expr, fractionPart(budgetAfter(piece.length, false), null, null)));
    }
    options.push(seq(literal(b.toString()), fractionPart(budgetAfter(b.toString().length, false), null, upper)));
  }
  return alt(...options);
}

/**
 * JSON numbers (no exponent) whose value is within [minimum, maximum], each side optional and
 * inclusive or exclusive.
 */
export function decimalRange(min: { value: number; inclusive: boolean } | null, max: { value: number; inclusive: boolean } | null): Expr {
  const parts: Expr[] = [];
  const lo = min === null ? null : decimalOf(min.value);
  const hi = max === null ? null : decimalOf(max.value);
  // x ≥ 0 part: lower bound max(lo, 0)
  const hiNonNegative = hi === null || !hi.negative;
  if (hiNonNegative) {
    const lower: Bound | null = lo === null || lo.negative ? null : { value: lo.value, inclusive: min?.inclusive ?? true };
    const upper: Bound | null = hi === null ? null : { value: hi.value, inclusive: max?.inclusive ?? true };
    if (!(upper !== null && isZero(upper.value) && !upper.inclusive)) parts.push(nonNegativeDecimal(lower, upper));
  }
  // x < 0 part: x = -y with y > 0, y ≤ -lo, y ≥ -hi
  const loNegative = lo === null || lo.negative;
  if (loNegative) {
    const yUpper: Bound | null = lo === null ? null : { value: lo.value, inclusive: min?.inclusive ?? true };
    const yLower: Bound = hi !== null && hi.negative ? { value: hi.value, inclusive: max?.inclusive ?? true } : { value: { int: 0n, frac: "" }, inclusive: false };
    parts.push(seq(literal("-"), nonNegativeDecimal(yLower, yUpper)));
  }
  return alt(...parts);
}

function isZero(d: Decimal): boolean {
  return d.int === 0n && d.frac === "";
}

/** Any JSON integer of up to 16 digits. */
export const ANY_INTEGER: Expr = seq(repeat(literal("-"), 0, 1), alt(literal("0"), seq(NONZERO, digits(0, 15))));

/** Any JSON number: up to 16 integer and 16 fraction digits, exponent of 1–2 digits (so the value stays finite). */
export const ANY_NUMBER: Expr = seq(
  ANY_INTEGER,
  repeat(seq(literal("."), digits(1, 16)), 0, 1),
  repeat(seq(chars([0x45, 0x45, 0x65, 0x65]), repeat(chars([0x2b, 0x2b, 0x2d, 0x2d]), 0, 1), digits(1, 2)), 0, 1),
);
