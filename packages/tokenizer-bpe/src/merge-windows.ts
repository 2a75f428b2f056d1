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
 * back, and the windows double from there on.
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
 * Streaming. A kept token is final once no step back can reach it, and then goes to `emit` at
 * once: the loop holds only the tokens of the last HOLD_WINDOWS windows, so a 50 MB run that
 * makes 50 M tokens needs memory for a few windows of them, not for all (the caller decides what
 * to do with the final ones: append them to an array, or pass them on in chunks). A step back
 * goes at most a sixteenth of each window it doubles from, so it reaches past HOLD_WINDOWS (16)
 * windows only after 9 seams in a row fail at one place, a merge chain reaching across 256 KB
 * or more; it never has (the tests' runs fail a seam rarely, never twice in a row). Should it
 * happen, the loop keeps doubling the window from the last final token (still a correct result
 * if that token is one of the plain loop's), and if the whole rest of the input in one window
 * still does not fit that token, it stops with `TOKENIZER_LONG_MERGE` rather than give ids the
 * plain loop would not.
 *
 * `encodeSpan(start, end)` runs the plain loop on input units [start, end) and returns each
 * token with its length in units (it may reuse its arrays from call to call: what is kept is
 * copied first); `canCut(p)` says whether a window may end at p (SentencePiece must not cut
 * inside a surrogate pair). Units are bytes for byte-level BPE, UTF-16 code units for
 * SentencePiece.
 */
import type { SpanTokens } from "./bpe-merge";
import { TokenizerError } from "./errors";

/** Tokens within this many windows of the end of the kept ones wait: a step back may undo them. */
const HOLD_WINDOWS = 16;

/**
 * Kept tokens that are not final yet, oldest first: ids and lengths in [head, tail) of two typed
 * arrays. Emitting moves `head` on; when `tail` reaches the end, the live part moves to the front
 * (or the arrays double, if it fills more than half of them).
 *
 *   ids      | emitted ... | pending: head ... tail | free |
 */
class PendingTokens {
  ids = new Int32Array(1024);
  lengths = new Int32Array(1024);
  head = 0;
  tail = 0;

  get count(): number {
    return this.tail - this.head;
  }

  push(id: number, length: number): void {
    if (this.tail === this.ids.length) this.makeRoom();
    this.ids[this.tail] = id;
    this.lengths[this.tail++] = length;
  }

  /** Removes the newest token and returns its length. */
  pop(): number {
    return this.lengths[--this.tail];
  }

  truncate(count: number): void {
    this.tail = this.head + count;
  }

  private makeRoom(): void {
    const live = this.tail - this.head;
    if (live * 2 > this.ids.length) {
      const ids = new Int32Array(this.ids.length * 2);
      const lengths = new Int32Array(this.ids.length * 2);
      ids.set(this.ids.subarray(this.head, this.tail));
      lengths.set(this.lengths.subarray(this.head, this.tail));
      this.ids = ids;
      this.lengths = lengths;
    } else {
      this.ids.copyWithin(0, this.head, this.tail);
      this.lengths.copyWithin(0, this.head, this.tail);
    }
    this.head = 0;
    this.tail = live;
  }
}

/**
 * Runs `encodeSpan` window by window over units [0, n) and gives each token, with its length in
 * units, to `emit` once it is final, in order. Yields after each window, so that a caller can
 * pass on what it has been given (`encodeChunks`); a caller that wants everything at once runs
 * it to the end. Memory: a few windows, whatever the length of the input.
 */
export function* mergeInWindows(
  n: number,
  encodeSpan: (start: number, end: number) => SpanTokens,
  options: { window: number; canCut?: (p: number) => boolean },
  emit: (id: number, length: number) => void,
): Generator<void, void, undefined> {
  const pending = new PendingTokens();
  const canCut = options.canCut ?? ((): boolean => true);
  let window = options.window;
  let pos = 0; // where the kept tokens end
  let pendingStart = 0; // where the oldest pending token starts
  // The last emitted token (none: -1): the seam's left side when nothing is pending.
  let lastFinalId = -1;
  let lastFinalLength = 0;
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
    const seam = pending.count; // index of this window's first token among the pending ones
    const start = pos;
    for (let k = 0; k < keep; k++) {
      pending.push(span.ids[k], span.lengths[k]);
      pos += span.lengths[k];
    }
    const right = pending.head + seam;
    const leftId = seam > 0 ? pending.ids[right - 1] : lastFinalId;
    const leftLength = seam > 0 ? pending.lengths[right - 1] : lastFinalLength;
    if (leftId >= 0 && !compatible(leftId, leftLength, pending.ids[right], pending.lengths[right], start, encodeSpan)) {
      // A merge chain reaches across the margin: undo this window, step back a margin more and
      // use larger windows from here on.
      pending.truncate(seam);
      pos = start;
      let back = 0;
      while (pending.count > 0 && back < margin) back += pending.pop();
      if (back === 0 && end === n) {
        throw new TokenizerError(
          "TOKENIZER_LONG_MERGE",
          `long piece: expected merges to reach less than ${HOLD_WINDOWS} windows (${window * HOLD_WINDOWS} units) back, found one that reaches before unit ${pos}, whose tokens were already final`,
        );
      }
      pos -= back;
      window *= 2;
      continue;
    }
    // Final: tokens that end HOLD_WINDOWS windows or more before the kept ones do.
    while (pending.count > 0 && pendingStart + pending.lengths[pending.head] <= pos - HOLD_WINDOWS * window) {
      lastFinalId = pending.ids[pending.head];
      lastFinalLength = pending.lengths[pending.head];
      emit(lastFinalId, lastFinalLength);
      pending.head++;
      pendingStart += lastFinalLength;
    }
    yield;
  }
  for (let k = pending.head; k < pending.tail; k++) emit(pending.ids[k], pending.lengths[k]);
}

/** Do tokens `left` (ending at `at`) and `right` (starting there), merged alone, give back themselves? */
function compatible(left: number, leftLength: number, right: number, rightLength: number, at: number, encodeSpan: (start: number, end: number) => SpanTokens): boolean {
  const pair = encodeSpan(at - leftLength, at + rightLength);
  return pair.ids.length === 2 && pair.ids[0] === left && pair.ids[1] === right && pair.lengths[0] === leftLength && pair.lengths[1] === rightLength;
}
