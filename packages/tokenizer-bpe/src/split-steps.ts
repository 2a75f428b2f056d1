import { classOf, LETTER, NUMBER, PUNCTUATION, SPACE } from "./char-class";
import { cpAt, step, type Scanner } from "./scanner";

/**
 * Scanners for the small split regexes that pre-tokenizers chain in sequence (falcon, deepseek,
 * starcoder, llama.cpp's "default"): a class of code points taken one at a time (`[X]`) or in
 * runs (`[X]+`), a run with one optional leading whitespace (`\s?[X]+`), three ASCII digits, and
 * trailing whitespace (`\s+$`).
 *
 * Each is a Split step with Hugging Face's "Isolated" behaviour (llama.cpp does the same): the
 * matches are pieces, and so is the text between two matches. So a scanner at i returns the end
 * of the match starting at i, or, when none starts there, the start of the next match (the gap
 * is a piece). A step sees only the piece the step before made, so `$` is the end of that piece.
 * The tests hold each scanner to the RegExp of its published pattern.
 */

/** A test on one code point. */
export type CodePointTest = (cp: number) => boolean;

/** A closed code point range [first, last]. */
export type CodePointRange = readonly [first: number, last: number];

const isSpace: CodePointTest = (cp) => (classOf(cp) & SPACE) !== 0;

export const isLetter: CodePointTest = (cp) => (classOf(cp) & LETTER) !== 0;
export const isNumber: CodePointTest = (cp) => (classOf(cp) & NUMBER) !== 0;
export const isPunctuation: CodePointTest = (cp) => (classOf(cp) & PUNCTUATION) !== 0;
export const isLineBreak: CodePointTest = (cp) => cp === 0x0a || cp === 0x0d;

/** `\p{P}` or one of the given ASCII characters (symbols that some pre-tokenizers treat as punctuation). */
export function punctuationOr(ascii: string): CodePointTest {
  const extra = new Uint8Array(128);
  for (const c of ascii) extra[c.charCodeAt(0)] = 1;
  return (cp) => (cp < 128 && extra[cp] === 1) || (classOf(cp) & PUNCTUATION) !== 0;
}

/**
 * Membership in a list of ranges. BMP code points use a 64K bitmap built on first use; the
 * few astral ranges are searched in order.
 */
export function inRanges(ranges: readonly CodePointRange[]): CodePointTest {
  let bmp: Uint8Array | undefined;
  const astral = ranges.filter(([, last]) => last > 0xffff);
  return (cp) => {
    if (cp <= 0xffff) {
      if (bmp === undefined) {
        bmp = new Uint8Array(0x10000);
        for (const [first, last] of ranges) for (let c = first; c <= Math.min(last, 0xffff); c++) bmp[c] = 1;
      }
      return bmp[cp] === 1;
    }
    for (const [first, last] of astral) if (cp >= first && cp <= last) return true;
    return false;
  };
}

/** The ranges as the body of a character class with literal characters (`A-Za-zµ`), as published. */
export function classSource(ranges: readonly CodePointRange[]): string {
  return ranges.map(([first, last]) => (first === last ? String.fromCodePoint(first) : `${String.fromCodePoint(first)}-${String.fromCodePoint(last)}`)).join("");
}

/** First index from i whose code point passes `test` (text.length if none). */
function nextWhere(text: string, i: number, test: CodePointTest): number {
  const n = text.length;
  while (i < n && !test(cpAt(text, i))) i = step(text, i);
  return i;
}

/** First index from i whose code point fails `test`. */
function endOfRun(text: string, i: number, test: CodePointTest): number {
  const n = text.length;
  while (i < n && test(cpAt(text, i))) i = step(text, i);
  return i;
}

/** `[X]`: each code point of X is a piece; so is each run of other code points. */
export function eachOf(test: CodePointTest): Scanner {
  return (text, i) => (test(cpAt(text, i)) ? step(text, i) : nextWhere(text, i, test));
}

/** `[X]+`: runs of X, and the runs between them. */
export function runsOf(test: CodePointTest): Scanner {
  return (text, i) => (test(cpAt(text, i)) ? endOfRun(text, i, test) : nextWhere(text, i, test));
}

/**
 * `\s?[X]+`. A match starts at j when X holds there, or when j is whitespace and X holds at the
 * next code point. `\s?` is greedy: it takes the whitespace whenever X follows it, even when
 * that whitespace is itself in X (deepseek's class holds U+3000).
 */
export function spacedRunsOf(test: CodePointTest): Scanner {
  const matchAt = (text: string, j: number): number => {
    const cp = cpAt(text, j);
    const next = step(text, j);
    if (isSpace(cp) && next < text.length && test(cpAt(text, next))) return endOfRun(text, next, test);
    return test(cp) ? endOfRun(text, next, test) : -1;
  };
  return (text, i) => {
    const end = matchAt(text, i);
    if (end >= 0) return end;
    let j = step(text, i);
    while (j < text.length && matchAt(text, j) < 0) j = step(text, j);
    return j;
  };
}

function isAsciiDigit(text: string, j: number): boolean {
  const c = text.charCodeAt(j);
  return c >= 0x30 && c <= 0x39;
}

/** `[0-9][0-9][0-9]`: each three ASCII digits in a row are a piece (a run of five gives 3 + the rest). */
export const digitTriples: Scanner = (text, i) => {
  const at = (j: number): boolean => isAsciiDigit(text, j) && isAsciiDigit(text, j + 1) && isAsciiDigit(text, j + 2);
  if (at(i)) return i + 3;
  let j = step(text, i);
  while (j < text.length && !at(j)) j = step(text, j);
  return j;
};

/** `\s+$`: the whitespace at the end of the piece is a piece of its own. */
export const trailingSpace: Scanner = (text, i) => {
  let tail = text.length;
  while (tail > i && isSpace(text.charCodeAt(tail - 1))) tail--; // all White_Space code points are BMP
  return tail > i ? tail : text.length;
};
