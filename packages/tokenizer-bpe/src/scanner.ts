import { classOf, LETTER, LOWERISH, NUMBER, SPACE, UPPERISH } from "./char-class";

/**
 * Hand-written pre-tokenizers: `next(text, i)` returns the end of the piece that the split
 * pattern's leftmost match starting at `i` would give. Each function follows its pattern's
 * alternatives in order, with the backtracking worked out by hand (commented at each step). The
 * tests run every scanner against the RegExp it replaces on fuzzed text and real text.
 *
 * Code points: `cpAt` decodes a surrogate pair; `widthAt` is its length in UTF-16 units.
 */
export type Scanner = (text: string, i: number) => number;

const OTHER = LETTER | NUMBER | SPACE; // a code point with none of these bits is "other": [^\s\p{L}\p{N}]

export function cpAt(text: string, i: number): number {
  const c = text.charCodeAt(i);
  if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
    const d = text.charCodeAt(i + 1);
    if (d >= 0xdc00 && d <= 0xdfff) return 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
  }
  return c;
}

/** Class bits at i, or 0 past the end. */
export function clsAt(text: string, i: number): number {
  return i < text.length ? classOf(cpAt(text, i)) : 0;
}

/** Index of the code point after the one at i. */
export function step(text: string, i: number): number {
  return cpAt(text, i) > 0xffff ? i + 2 : i + 1;
}

/** End of the run of code points from i whose class has any of `bits`. */
function runOf(text: string, i: number, bits: number): number {
  const n = text.length;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c < 0x80) {
      if ((classOf(c) & bits) === 0) return i;
      i++;
    } else {
      if ((classOf(cpAt(text, i)) & bits) === 0) return i;
      i = step(text, i);
    }
  }
  return i;
}

/** End of the run of "other" code points ([^\s\p{L}\p{N}]) from i. */
function otherRun(text: string, i: number): number {
  const n = text.length;
  while (i < n && (clsAt(text, i) & OTHER) === 0) i = step(text, i);
  return i;
}

/** `\s+(?!\S)|\s+` at a whitespace code point: the run, minus its last code point when a non-space follows. */
function spaceTail(text: string, i: number, runEnd: number): number {
  // \s+(?!\S): at the end of text the whole run; before a non-space, backtrack one (all spaces are BMP).
  if (runEnd === text.length || runEnd - i < 2) return runEnd;
  return runEnd - 1;
}

// ---------------------------------------------------------------------------------------------
// GPT-2 (r50k, p50k): 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+

export const gpt2Scanner: Scanner = (text, i) => {
  const c = text.charCodeAt(i);
  if (c === 0x27 /* ' */) {
    const d = text.charCodeAt(i + 1);
    if (d === 0x73 || d === 0x74 || d === 0x6d || d === 0x64) return i + 2; // 's 't 'm 'd
    const e = text.charCodeAt(i + 2);
    if ((d === 0x72 && e === 0x65) || (d === 0x76 && e === 0x65) || (d === 0x6c && e === 0x6c)) return i + 3; // 're 've 'll
  }
  // ` ?X+`: a leading space joins the run of the class that follows it.
  const start = c === 0x20 && i + 1 < text.length ? i + 1 : i;
  const first = clsAt(text, start);
  if (first & LETTER) return runOf(text, start, LETTER);
  if (first & NUMBER) return runOf(text, start, NUMBER);
  if ((first & OTHER) === 0) return otherRun(text, start);
  // A space followed by a space (or the end): no ` ?` alternative matched; fall to \s+.
  return spaceTail(text, i, runOf(text, i, SPACE));
};

// ---------------------------------------------------------------------------------------------
// cl100k: '(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]++[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+

function isCrLf(c: number): boolean {
  return c === 0x0a || c === 0x0d;
}

/** Contraction after an apostrophe at i, case-insensitive (ſ folds to s): end, or -1. */
function contraction(text: string, i: number): number {
  const d = text.charCodeAt(i + 1) | 0x20; // ASCII lower-case; U+017F handled below
  const raw = text.charCodeAt(i + 1);
  if (d === 0x73 || d === 0x74 || d === 0x6d || d === 0x64 || raw === 0x17f) return i + 2;
  const e = text.charCodeAt(i + 2) | 0x20;
  if ((d === 0x72 && e === 0x65) || (d === 0x76 && e === 0x65) || (d === 0x6c && e === 0x6c)) {
    // `| 0x20` maps some non-letters onto letters (e.g. "R" ok, but also "\x12"? no: only A-Z map onto a-z among these)
    return i + 3;
  }
  return -1;
}

/** `\s*[\r\n]+`, `\s+(?!\S)`, `\s+` at a whitespace code point. */
function newlineOrSpaceTail(text: string, i: number): number {
  const runEnd = runOf(text, i, SPACE);
  // \s*[\r\n]+: \s* backtracks to the last \r or \n in the run; [\r\n]+ then takes just that one.
  for (let k = runEnd - 1; k >= i; k--) if (isCrLf(text.charCodeAt(k))) return k + 1;
  return spaceTail(text, i, runEnd);
}

export const cl100kScanner: Scanner = (text, i) => {
  const c = text.charCodeAt(i);
  if (c === 0x27) {
    const end = contraction(text, i);
    if (end > 0) return end;
  }
  const cls = clsAt(text, i);
  // [^\r\n\p{L}\p{N}]?\p{L}+
  if (cls & LETTER) return runOf(text, i, LETTER);
  const next = step(text, i);
  if ((cls & NUMBER) === 0 && !isCrLf(c) && clsAt(text, next) & LETTER) return runOf(text, next, LETTER);
  // \p{N}{1,3}
  if (cls & NUMBER) {
    let end = next;
    for (let k = 1; k < 3 && clsAt(text, end) & NUMBER; k++) end = step(text, end);
    return end;
  }
  //  ?[^\s\p{L}\p{N}]+[\r\n]*
  const start = c === 0x20 && i + 1 < text.length && (clsAt(text, i + 1) & OTHER) === 0 ? i + 1 : i;
  if ((clsAt(text, start) & OTHER) === 0) {
    let end = otherRun(text, start);
    while (end < text.length && isCrLf(text.charCodeAt(end))) end++;
    return end;
  }
  return newlineOrSpaceTail(text, i);
};

// Qwen 2: (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
// cl100k's alternatives with \p{N} for \p{N}{1,3}: a number code point is always reached by that
// alternative (the ones before it need an apostrophe, a letter, or a non-number first).
export const qwen2Scanner: Scanner = (text, i) => (clsAt(text, i) & NUMBER ? step(text, i) : cl100kScanner(text, i));

// ---------------------------------------------------------------------------------------------
// o200k:
//   A [^\r\n\p{L}\p{N}]?[UP]*[LO]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?
//   B [^\r\n\p{L}\p{N}]?[UP]+[LO]*(?i:...)?
//   C \p{N}{1,3}    D  ?[^\s\p{L}\p{N}]+[\r\n/]*    E \s*[\r\n]+    F \s+(?!\S)    G \s+
// with UP = [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}] and LO = [\p{Ll}\p{Lm}\p{Lo}\p{M}] (they overlap).

/** `[UP]*[LO]+` from s: end, or -1. */
function upperStarLowerPlus(text: string, s: number): number {
  const upEnd = runOf(text, s, UPPERISH);
  if (clsAt(text, upEnd) & LOWERISH) return runOf(text, upEnd, LOWERISH);
  // [UP]* gives back code points until one of them is also LO; [LO]+ then ends right after it,
  // because what followed it was not LO (else the run would have continued).
  let last = -1;
  for (let k = s; k < upEnd; k = step(text, k)) if (clsAt(text, k) & LOWERISH) last = k;
  return last < 0 ? -1 : step(text, last);
}

/** `[UP]+[LO]*` from s: end, or -1. */
function upperPlusLowerStar(text: string, s: number): number {
  const upEnd = runOf(text, s, UPPERISH);
  if (upEnd === s) return -1;
  return runOf(text, upEnd, LOWERISH);
}

/** Optional contraction suffix of A and B. */
function withContraction(text: string, end: number): number {
  if (text.charCodeAt(end) !== 0x27) return end;
  const c = contraction(text, end);
  return c > 0 ? c : end;
}

export const o200kScanner: Scanner = (text, i) => {
  const c = text.charCodeAt(i);
  const cls = clsAt(text, i);
  const canPrefix = (cls & (LETTER | NUMBER)) === 0 && !isCrLf(c);
  const next = step(text, i);
  // A, with then without the optional prefix.
  let end = canPrefix ? upperStarLowerPlus(text, next) : -1;
  if (end < 0) end = upperStarLowerPlus(text, i);
  if (end >= 0) return withContraction(text, end);
  // B, likewise.
  end = canPrefix ? upperPlusLowerStar(text, next) : -1;
  if (end < 0) end = upperPlusLowerStar(text, i);
  if (end >= 0) return withContraction(text, end);
  // C
  if (cls & NUMBER) {
    end = next;
    for (let k = 1; k < 3 && clsAt(text, end) & NUMBER; k++) end = step(text, end);
    return end;
  }
  // D
  const start = c === 0x20 && i + 1 < text.length && (clsAt(text, i + 1) & OTHER) === 0 ? i + 1 : i;
  if ((clsAt(text, start) & OTHER) === 0) {
    end = otherRun(text, start);
    while (end < text.length && (isCrLf(text.charCodeAt(end)) || text.charCodeAt(end) === 0x2f)) end++;
    return end;
  }
  // E, F, G
  return newlineOrSpaceTail(text, i);
};

/** A scanner for any pattern: the compiled RegExp, matched sticky at i. Unmatched text is its own piece. */
export function regexScanner(re: RegExp): Scanner {
  const sticky = new RegExp(re.source, "yu");
  const search = new RegExp(re.source, "gu");
  return (text, i) => {
    sticky.lastIndex = i;
    const m = sticky.exec(text);
    if (m !== null && m[0].length > 0) return i + m[0].length;
    // No match here: the piece runs to where the next match starts (llama.cpp keeps such gaps as pieces).
    search.lastIndex = i + 1;
    const nextMatch = search.exec(text);
    return nextMatch === null ? text.length : nextMatch.index;
  };
}
