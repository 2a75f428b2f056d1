/**
 * The byte-pair merge loop, three ways with one result.
 *
 * A piece's bytes start as one part each; repeatedly, the adjacent pair of parts with the lowest
 * merge rank becomes one part (ties: the leftmost pair), until no adjacent pair has a rank. That
 * is tiktoken's `byte_pair_merge`, Hugging Face's BPE model and llama.cpp's `llm_tokenizer_bpe`.
 *
 * - `mergeByScan`: each step scans every pair for the lowest rank, as tiktoken does. Quadratic,
 *   and the fastest for the short pieces text is made of.
 * - `mergeByHeap`: candidate pairs in a min-heap of (rank, position), so a piece of n bytes
 *   takes O(n log n). Memory is O(n): fine up to a window, not for a 50 MB run of one letter.
 * - `mergeInWindows`: long pieces, in windows of bounded size, stitched together exactly (see
 *   there). Memory O(window) besides the output; time O(n log window).
 */

/** The merge table as the loop sees it. */
export interface PairLookup {
  /** Slot of the pair (left, right) in the table, or -1 when those two parts never merge. */
  find(left: number, right: number): number;
  /** Rank of the pair in a slot: lower merges first. */
  rankAt(slot: number): number;
  /** Token id the pair in a slot merges into. */
  mergedAt(slot: number): number;
}

/** Tokens per byte before merging: a byte's own token, else the vocabulary's unknown token. */
export interface ByteTokens {
  byteToId: Int32Array;
  /** Id for bytes without a token, or -1: then such a byte is dropped (`NO_TOKEN`). */
  unknownId: number;
}

/**
 * A part that stands for a byte without a token and no unknown token to put instead. It merges
 * with nothing and is dropped from the output, as llama.cpp and Hugging Face drop such bytes
 * (falcon's vocabulary has no token for 0x0B, say).
 */
export const NO_TOKEN = -1;

/** The one rule for a byte's starting token. */
export function byteToken(bytes: ByteTokens, byte: number): number {
  const id = bytes.byteToId[byte]!;
  return id >= 0 ? id : bytes.unknownId;
}

const NO_RANK = 0x7fffffff;

/** The scan loop of tiktoken: `parts[k]` are token ids, `ranks[k]` the rank of (parts[k], parts[k+1]). */
export function mergeByScan(bytes: Uint8Array, tokens: ByteTokens, pairs: PairLookup): number[] {
  const parts: number[] = [];
  for (let k = 0; k < bytes.length; k++) parts.push(byteToken(tokens, bytes[k]!));
  const ranks: number[] = [];
  const merged: number[] = [];
  const rankPair = (k: number): void => {
    const slot = pairs.find(parts[k]!, parts[k + 1]!);
    ranks[k] = slot < 0 ? NO_RANK : pairs.rankAt(slot);
    merged[k] = slot < 0 ? -1 : pairs.mergedAt(slot);
  };
  for (let k = 0; k + 1 < parts.length; k++) rankPair(k);
  for (;;) {
    let best = NO_RANK;
    let at = -1;
    for (let k = 0; k < ranks.length; k++) {
      if (ranks[k]! < best) {
        best = ranks[k]!;
        at = k;
      }
    }
    if (at < 0) return parts;
    parts[at] = merged[at]!;
    parts.splice(at + 1, 1);
    ranks.splice(at, 1);
    merged.splice(at, 1);
    if (at > 0) rankPair(at - 1);
    if (at < parts.length - 1) rankPair(at);
  }
}

/**
 * A candidate merge: the parts starting at byte positions `left` and `right` (neighbours when it
 * was pushed), the pair's rank and the token it makes, and `size`, the bytes the two parts held
 * then. A part only ever grows, so the entry is stale exactly when `left` no longer starts a
 * part, `right` is no longer its neighbour, or their sizes no longer add up to `size`.
 */
interface Candidate {
  rank: number;
  left: number;
  right: number;
  size: number;
  merged: number;
}

/** Lowest rank first, then the leftmost pair: the order the scan loop would merge them in. */
function before(a: Candidate, b: Candidate): boolean {
  return a.rank < b.rank || (a.rank === b.rank && a.left < b.left);
}

class CandidateHeap {
  private readonly items: Candidate[] = [];

  get size(): number {
    return this.items.length;
  }

  push(c: Candidate): void {
    const h = this.items;
    h.push(c);
    for (let i = h.length - 1; i > 0; ) {
      const parent = (i - 1) >> 1;
      if (!before(h[i]!, h[parent]!)) break;
      [h[i], h[parent]] = [h[parent]!, h[i]!];
      i = parent;
    }
  }

  pop(): Candidate {
    const h = this.items;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length === 0) return top;
    h[0] = last;
    for (let i = 0; ; ) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && before(h[l]!, h[m]!)) m = l;
      if (r < h.length && before(h[r]!, h[m]!)) m = r;
      if (m === i) return top;
      [h[i], h[m]] = [h[m]!, h[i]!];
      i = m;
    }
  }
}

/**
 * The heap loop. Parts are a linked list over byte positions: a part starting at byte p has
 * token `id[p]`, `size[p]` bytes (0 once merged into its left neighbour) and neighbours
 * `prev[p]` / `next[p]` (-1 at the ends). Gives `mergeByScan`'s result in O(n log n).
 */
export function mergeByHeap(bytes: Uint8Array, tokens: ByteTokens, pairs: PairLookup): SpanTokens {
  const n = bytes.length;
  const id = new Int32Array(n);
  const size = new Int32Array(n).fill(1);
  const next = new Int32Array(n);
  const prev = new Int32Array(n);
  for (let p = 0; p < n; p++) {
    id[p] = byteToken(tokens, bytes[p]!);
    next[p] = p + 1 < n ? p + 1 : -1;
    prev[p] = p - 1;
  }
  const heap = new CandidateHeap();
  const consider = (left: number): void => {
    const right = left < 0 ? -1 : next[left]!;
    if (right < 0) return;
    const slot = pairs.find(id[left]!, id[right]!);
    if (slot >= 0) heap.push({ rank: pairs.rankAt(slot), left, right, size: size[left]! + size[right]!, merged: pairs.mergedAt(slot) });
  };
  for (let p = 0; p + 1 < n; p++) consider(p);
  while (heap.size > 0) {
    const c = heap.pop();
    if (size[c.left] === 0 || next[c.left] !== c.right || size[c.left]! + size[c.right]! !== c.size) continue; // stale
    id[c.left] = c.merged;
    size[c.left] = c.size;
    size[c.right] = 0;
    next[c.left] = next[c.right]!;
    if (next[c.right]! >= 0) prev[next[c.right]!] = c.left;
    consider(prev[c.left]!);
    consider(c.left);
  }
  const out: SpanTokens = { ids: [], lengths: [] };
  for (let p = n > 0 ? 0 : -1; p >= 0; p = next[p]!) {
    out.ids.push(id[p]!);
    out.lengths.push(size[p]!);
  }
  return out;
}

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
 * check each seam with (1)/(2). A seam that is not compatible (rare: it needs a merge chain
 * reaching across the margin) is undone by stepping back and re-encoding a larger window; at
 * worst the window grows to the whole input, which is the plain loop.
 *
 * `encodeSpan(start, end)` runs the plain loop on input units [start, end) and returns each
 * token with its length in units; `canCut(p)` says whether a window may end at p (SentencePiece
 * must not cut inside a surrogate pair). Units are bytes for byte-level BPE, UTF-16 code units
 * for SentencePiece.
 */
export interface SpanTokens {
  ids: number[];
  lengths: number[];
}

export function mergeInWindows(
  n: number,
  encodeSpan: (start: number, end: number) => SpanTokens,
  options: { window: number; margin: number; canCut?: (p: number) => boolean },
): number[] {
  const ids: number[] = [];
  const lengths: number[] = [];
  const canCut = options.canCut ?? ((): boolean => true);
  let pos = 0; // where the kept tokens end
  let grow = 0; // extra window after failed seams; reset after a good one
  while (pos < n) {
    let end = Math.min(n, pos + options.window + grow);
    while (end < n && !canCut(end)) end++;
    const span = encodeSpan(pos, end);
    // Keep the tokens that end at least `margin` units before a cut end (always at least one).
    let keep = span.ids.length;
    if (end < n) {
      let at = pos;
      keep = 0;
      while (keep < span.ids.length && (keep === 0 || at + span.lengths[keep]! <= end - options.margin)) at += span.lengths[keep++]!;
    }
    if (ids.length > 0 && !compatibleSeam(ids, lengths, pos, span, encodeSpan)) {
      // Step back over at least `margin + grow` units of kept tokens and retry with a larger window.
      let back = 0;
      while (ids.length > 0 && back < options.margin + grow) {
        ids.pop();
        back += lengths.pop()!;
      }
      pos -= back;
      grow = Math.max(options.margin, grow * 2);
      continue;
    }
    for (let k = 0; k < keep; k++) {
      ids.push(span.ids[k]!);
      lengths.push(span.lengths[k]!);
      pos += span.lengths[k]!;
    }
    grow = 0;
  }
  return ids;
}

/** Is the last kept token compatible with the first token of `span` (which starts at `pos`)? */
function compatibleSeam(ids: number[], lengths: number[], pos: number, span: SpanTokens, encodeSpan: (start: number, end: number) => SpanTokens): boolean {
  const leftId = ids[ids.length - 1]!;
  const leftLength = lengths[lengths.length - 1]!;
  const pair = encodeSpan(pos - leftLength, pos + span.lengths[0]!);
  return pair.ids.length === 2 && pair.ids[0] === leftId && pair.ids[1] === span.ids[0] && pair.lengths[0] === leftLength;
}
