/**
 * A long input encoded window by window, with the same result as one merge loop over all of it.
 *
 * Why stitching works. Call tokens a, b "compatible" when merging just the bytes of a followed
 * by the bytes of b gives back [a, b]. (1) In any merge result, neighbours are compatible: the
 * merges inside two neighbouring tokens happen in the same order with or without the rest of the
 * text around them (each step takes the lowest-ranked pair, and the pair across their boundary
 * never wins). (2) Conversely, if every pair of neighbours in a sequence of merge results is
 * compatible, no merge can ever cross a boundary of the sequence (the first one to do so would
 * win in the two-token text too), so the sequence is the merge result of its whole text.
 *
 * So: encode a window, keep its tokens except those near its cut end, continue from there, and
 * check each seam with (1)/(2). A seam that is not compatible (a merge chain reaches across the
 * margin, as in a run of spaces whose tokens are longer than the margin) is undone by stepping
 * back, and the windows double from there on; at worst one window holds the whole input, which
 * is the plain loop.
 *
 *   input    |-------- kept --------|- margin -|
 *   window 1 [======================|~~~~~~~~~~]           ~ encoded, dropped, encoded again
 *   window 2                        [======================|~~~~~~~~~~]
 *                                   ^ seam: last kept token of 1 + first of 2, merged alone
 *
 * The margin is a sixteenth of the window: each byte is encoded about 1.07 times. Merges reach
 * far only in runs whose tokens are long, and a sixteenth of 64 KB is 4 KB, 32 times the longest
 * token of the tiktoken encodings.
 *
 * `encodeSpan(start, end)` runs the plain loop on input units [start, end) and returns each
 * token with its length in units (it may reuse its arrays from call to call: what is kept is
 * copied first); `canCut(p)` says whether a window may end at p (SentencePiece must not cut
 * inside a surrogate pair). Units are bytes for byte-level BPE, UTF-16 code units for
 * SentencePiece.
 */
import type { SpanTokens } from "./bpe-merge";

/**
 * Token lengths, one byte each (a length of 255 or more goes to a map): the step back after a
 * seam that fails needs the lengths of the tokens kept so far, and 27 M tokens of 50 MB of random
 * letters would take 108 MB as an Int32Array, 27 MB this way.
 */
export class TokenLengths {
  private small = new Uint8Array(1024);
  private readonly large = new Map<number, number>();
  length = 0;

  at(k: number): number {
    const v = this.small[k];
    return v < LARGE ? v : this.large.get(k)!;
  }

  push(value: number): void {
    if (this.length === this.small.length) {
      const bigger = new Uint8Array(Math.floor(this.small.length * 1.5));
      bigger.set(this.small);
      this.small = bigger;
    }
    if (value >= LARGE) this.large.set(this.length, value);
    this.small[this.length++] = Math.min(value, LARGE);
  }

  pop(): number {
    const v = this.at(--this.length);
    this.large.delete(this.length);
    return v;
  }

  truncate(length: number): void {
    while (this.length > length) this.pop();
  }
}

const LARGE = 255;

/**
 * Runs `encodeSpan` window by window over units [0, n), appends the ids to `ids` and returns the
 * length of each appended token. Memory: one window, the output, and a byte a token for the
 * lengths.
 */
export function mergeInWindows(
  n: number,
  encodeSpan: (start: number, end: number) => SpanTokens,
  options: { window: number; canCut?: (p: number) => boolean },
  ids: number[] = [],
): { ids: number[]; lengths: TokenLengths } {
  const base = ids.length; // tokens before this input stay untouched
  const lengths = new TokenLengths(); // of ids[base..]
  const canCut = options.canCut ?? ((): boolean => true);
  let window = options.window;
  let pos = 0; // where the kept tokens end
  while (pos < n) {
    const margin = window >> 4;
    let end = Math.min(n, pos + window);
    while (end < n && !canCut(end)) end++;
    const span = encodeSpan(pos, end);
    // Keep the tokens that end before the margin (at least one); at the input's end, all.
    let keep = span.ids.length;
    if (end < n) {
      let at = pos;
      keep = 0;
      while (keep < span.ids.length && (keep === 0 || at + span.lengths[keep] <= end - margin)) at += span.lengths[keep++];
    }
    const seam = ids.length; // index of the first token of this window, which starts at `start`
    const start = pos;
    for (let k = 0; k < keep; k++) {
      ids.push(span.ids[k]);
      lengths.push(span.lengths[k]);
      pos += span.lengths[k];
    }
    if (seam > base && !compatible(ids[seam - 1], lengths.at(seam - 1 - base), ids[seam], lengths.at(seam - base), start, encodeSpan)) {
      // A merge chain reaches across the margin: undo this window, step back a margin more and
      // use larger windows from here on (at worst one window holds the whole input).
      ids.length = seam;
      lengths.truncate(seam - base);
      pos = start;
      let back = 0;
      while (ids.length > base && back < margin) {
        ids.pop();
        back += lengths.pop();
      }
      pos -= back;
      window *= 2;
    }
  }
  return { ids, lengths };
}

/** Do tokens `left` (ending at `at`) and `right` (starting there), merged alone, give back themselves? */
function compatible(left: number, leftLength: number, right: number, rightLength: number, at: number, encodeSpan: (start: number, end: number) => SpanTokens): boolean {
  const pair = encodeSpan(at - leftLength, at + rightLength);
  return pair.ids.length === 2 && pair.ids[0] === left && pair.ids[1] === right && pair.lengths[0] === leftLength && pair.lengths[1] === rightLength;
}
