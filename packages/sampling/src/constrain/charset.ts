/**
 * Sets of Unicode code points, and how one code point from a set is spelled in UTF-8 bytes.
 *
 * A set is a sorted list of disjoint, non-adjacent inclusive ranges, flattened:
 * `[lo0, hi0, lo1, hi1, …]`. Surrogates (U+D800–U+DFFF) are never members: they have no UTF-8
 * form, so a constraint that allowed them would let invalid text through.
 */
export type CodePointRanges = readonly number[];

export const MAX_CODE_POINT = 0x10ffff;
const SURROGATE_LO = 0xd800;
const SURROGATE_HI = 0xdfff;

/** Every scalar value: U+0000–U+10FFFF without the surrogates. */
export const ANY_CHAR: CodePointRanges = [0, SURROGATE_LO - 1, SURROGATE_HI + 1, MAX_CODE_POINT];

/** Sorts and merges overlapping or adjacent ranges, and removes the surrogates. */
export function normalizeRanges(ranges: readonly number[]): number[] {
  const pairs: [number, number][] = [];
  for (let i = 0; i + 1 < ranges.length; i += 2) {
    const lo = ranges[i], hi = ranges[i + 1];
    if (lo > hi) continue;
    // split around the surrogate block
    if (lo < SURROGATE_LO) pairs.push([lo, Math.min(hi, SURROGATE_LO - 1)]);
    if (hi > SURROGATE_HI) pairs.push([Math.max(lo, SURROGATE_HI + 1), hi]);
  }
  pairs.sort((a, b) => a[0] - b[0]);
  const out: number[] = [];
  for (const [lo, hi] of pairs) {
    const last = out.length - 1;
    if (last > 0 && lo <= out[last] + 1) out[last] = Math.max(out[last], hi);
    else out.push(lo, hi);
  }
  return out;
}

/** The scalar values not in `set`. */
export function complementRanges(set: CodePointRanges): number[] {
  const out: number[] = [];
  let next = 0;
  for (let i = 0; i < set.length; i += 2) {
    if (set[i] > next) out.push(next, set[i] - 1);
    next = set[i + 1] + 1;
  }
  if (next <= MAX_CODE_POINT) out.push(next, MAX_CODE_POINT);
  return normalizeRanges(out);
}

export function unionRanges(a: CodePointRanges, b: CodePointRanges): number[] {
  return normalizeRanges([...a, ...b]);
}

export function subtractRanges(a: CodePointRanges, b: CodePointRanges): number[] {
  return intersectRanges(a, complementRanges(b));
}

export function intersectRanges(a: CodePointRanges, b: CodePointRanges): number[] {
  const out: number[] = [];
  let i = 0, j = 0;
  while (i < a.length && j < b.length) {
    const lo = Math.max(a[i], b[j]), hi = Math.min(a[i + 1], b[j + 1]);
    if (lo <= hi) out.push(lo, hi);
    if (a[i + 1] < b[j + 1]) i += 2;
    else j += 2;
  }
  return out;
}

export function rangesContain(set: CodePointRanges, cp: number): boolean {
  for (let i = 0; i < set.length; i += 2) {
    if (cp < set[i]) return false;
    if (cp <= set[i + 1]) return true;
  }
  return false;
}

/** Number of code points in the set. */
export function rangesSize(set: CodePointRanges): number {
  let n = 0;
  for (let i = 0; i < set.length; i += 2) n += set[i + 1] - set[i] + 1;
  return n;
}

// ---------------------------------------------------------------------------------------------
// UTF-8
//
//   bytes  code points          byte 1     byte 2     byte 3     byte 4
//   1      U+0000..U+007F       0xxxxxxx
//   2      U+0080..U+07FF       110xxxxx   10xxxxxx
//   3      U+0800..U+FFFF       1110xxxx   10xxxxxx   10xxxxxx
//   4      U+10000..U+10FFFF    11110xxx   10xxxxxx   10xxxxxx   10xxxxxx
// ---------------------------------------------------------------------------------------------

const LENGTH_LIMITS = [0x7f, 0x7ff, 0xffff, MAX_CODE_POINT] as const;

export function utf8Length(cp: number): number {
  return cp <= 0x7f ? 1 : cp <= 0x7ff ? 2 : cp <= 0xffff ? 3 : 4;
}

export function encodeCodePoint(cp: number, out: number[] = []): number[] {
  if (cp <= 0x7f) out.push(cp);
  else if (cp <= 0x7ff) out.push(0xc0 | (cp >> 6), 0x80 | (cp & 0x3f));
  else if (cp <= 0xffff) out.push(0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f));
  else out.push(0xf0 | (cp >> 18), 0x80 | ((cp >> 12) & 0x3f), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f));
  return out;
}

/** UTF-8 bytes of a string (a lone surrogate is an error of the caller: strings here come from parsers that reject them). */
export function encodeText(text: string): number[] {
  const out: number[] = [];
  for (const ch of text) encodeCodePoint(ch.codePointAt(0) ?? 0, out);
  return out;
}

/**
 * A byte-range sequence: `[lo1, hi1, lo2, hi2, …]`, one pair per byte; it matches exactly the
 * byte strings b1 b2 … with lo_k ≤ b_k ≤ hi_k.
 */
export type ByteRangeSequence = number[];

/**
 * The UTF-8 spellings of the code points in `set`, as byte-range sequences whose languages are
 * disjoint and together are exactly the set's encodings. A range is split where the encoded
 * length changes, then wherever its trailing bytes do not cover a full 10xxxxxx block, until each
 * piece is a product of independent byte ranges (U+0800..U+FFFF becomes E0 A0..BF 80..BF |
 * E1..EF 80..BF 80..BF, for example).
 */
export function utf8Sequences(set: CodePointRanges): ByteRangeSequence[] {
  const out: ByteRangeSequence[] = [];
  for (let i = 0; i < set.length; i += 2) {
    let lo = set[i];
    const hi = set[i + 1];
    for (let n = 0; n < LENGTH_LIMITS.length && lo <= hi; n++) {
      const limit = LENGTH_LIMITS[n];
      if (lo > limit) continue;
      splitSameLength(lo, Math.min(hi, limit), out);
      lo = limit + 1;
    }
  }
  return out;
}

function splitSameLength(lo: number, hi: number, out: ByteRangeSequence[]): void {
  const n = utf8Length(lo);
  for (let k = 1; k < n; k++) {
    const tail = (1 << (6 * k)) - 1; // the bits held by the last k bytes
    if ((lo & ~tail) === (hi & ~tail)) continue;
    // lo and hi differ above the last k bytes: the last k bytes must span their whole range
    if ((lo & tail) !== 0) {
      splitSameLength(lo, lo | tail, out);
      splitSameLength((lo | tail) + 1, hi, out);
      return;
    }
    if ((hi & tail) !== tail) {
      splitSameLength(lo, (hi & ~tail) - 1, out);
      splitSameLength(hi & ~tail, hi, out);
      return;
    }
  }
  const a = encodeCodePoint(lo), b = encodeCodePoint(hi);
  const seq: ByteRangeSequence = [];
  for (let k = 0; k < n; k++) seq.push(a[k], b[k]);
  out.push(seq);
}
