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
  const id = bytes.byteToId[byte];
  return id >= 0 ? id : bytes.unknownId;
}

const NO_RANK = 0x7fffffff;

/** The scan loop of tiktoken: `parts[k]` are token ids, `ranks[k]` the rank of (parts[k], parts[k+1]). */
export function mergeByScan(bytes: Uint8Array, tokens: ByteTokens, pairs: PairLookup): number[] {
  const parts: number[] = [];
  for (let k = 0; k < bytes.length; k++) parts.push(byteToken(tokens, bytes[k]));
  const ranks: number[] = [];
  const merged: number[] = [];
  const rankPair = (k: number): void => {
    const slot = pairs.find(parts[k], parts[k + 1]);
    ranks[k] = slot < 0 ? NO_RANK : pairs.rankAt(slot);
    merged[k] = slot < 0 ? -1 : pairs.mergedAt(slot);
  };
  for (let k = 0; k + 1 < parts.length; k++) rankPair(k);
  for (;;) {
    let best = NO_RANK;
    let at = -1;
    for (let k = 0; k < ranks.length; k++) {
      if (ranks[k] < best) {
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
 * The per-byte arrays of the heap and rank-pass loops, kept between calls so that a long piece,
 * merged window after window, allocates them once (allocating them per window was most of the
 * time, in the garbage collector).
 */
export class MergeScratch {
  id = new Int32Array(0);
  size = new Int32Array(0);
  next = new Int32Array(0);
  prev = new Int32Array(0);
  rankAt = new Int32Array(0);
  mergedAt = new Int32Array(0);

  /** Sets up parts for `bytes`: one per byte, linked in order, no pairs yet. */
  reset(bytes: Uint8Array, tokens: ByteTokens): void {
    const n = bytes.length;
    if (this.id.length < n) {
      const capacity = Math.max(n, 2 * this.id.length);
      this.id = new Int32Array(capacity);
      this.size = new Int32Array(capacity);
      this.next = new Int32Array(capacity);
      this.prev = new Int32Array(capacity);
      this.rankAt = new Int32Array(capacity);
      this.mergedAt = new Int32Array(capacity);
    }
    for (let p = 0; p < n; p++) {
      this.id[p] = byteToken(tokens, bytes[p]);
      this.size[p] = 1;
      this.next[p] = p + 1 < n ? p + 1 : -1;
      this.prev[p] = p - 1;
      this.rankAt[p] = NO_RANK;
    }
  }

  /** The parts left, from position 0 along `next`. */
  parts(n: number): SpanTokens {
    const out: SpanTokens = { ids: [], lengths: [] };
    for (let p = n > 0 ? 0 : -1; p >= 0; p = this.next[p]!) {
      out.ids.push(this.id[p]);
      out.lengths.push(this.size[p]);
    }
    return out;
  }
}

/** Ranks must stay below this for (rank, position) to pack into one exact double. */
export const MAX_RANK = 1 << 21;
const POSITIONS = 2 ** 32;

/**
 * Candidate merges in a binary min-heap, lowest rank first and then the leftmost pair: the order
 * the scan loop would merge them in. An entry is (rank, position of the pair's left part) packed
 * into one double, `rank * 2^32 + position`, so comparing entries is comparing numbers and a push
 * allocates nothing (a 64 KB window pushes ~200,000 of them). The token a candidate makes is kept
 * per position, beside the parts (`mergedAt` in mergeByHeap).
 */
class CandidateHeap {
  private keys = new Float64Array(1024);
  size = 0;

  push(rank: number, position: number): void {
    if (this.size === this.keys.length) {
      const grown = new Float64Array(this.keys.length * 2);
      grown.set(this.keys);
      this.keys = grown;
    }
    const h = this.keys;
    const key = rank * POSITIONS + position;
    let i = this.size++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (h[parent] <= key) break;
      h[i] = h[parent]!;
      i = parent;
    }
    h[i] = key;
  }

  /** Removes the lowest entry and returns it as [rank, position] in `out`. */
  pop(out: { rank: number; position: number }): void {
    const h = this.keys;
    const top = h[0];
    out.rank = Math.floor(top / POSITIONS);
    out.position = top - out.rank * POSITIONS;
    const n = --this.size;
    const last = h[n];
    let i = 0;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      if (child + 1 < n && h[child + 1] < h[child]) child++;
      if (last <= h[child]) break;
      h[i] = h[child]!;
      i = child;
    }
    h[i] = last;
  }
}

/**
 * The heap loop. Parts are a linked list over byte positions: a part starting at byte p has
 * token `id[p]`, `size[p]` bytes (0 once merged into its left neighbour) and neighbours
 * `prev[p]` / `next[p]` (-1 at the ends). `rankAt[p]` / `mergedAt[p]` describe the pair that
 * part p starts now (NO_RANK when it has none). A heap entry whose rank is no longer `rankAt` of
 * its position is stale: a part only grows, so the pair at p can never again have a rank it had
 * before. Gives `mergeByScan`'s result in O(n log n).
 */
export function mergeByHeap(bytes: Uint8Array, tokens: ByteTokens, pairs: PairLookup, scratch = new MergeScratch()): SpanTokens {
  const n = bytes.length;
  scratch.reset(bytes, tokens);
  const { id, size, next, prev, rankAt, mergedAt } = scratch;
  const heap = new CandidateHeap();
  const consider = (left: number): void => {
    if (left < 0) return;
    const right = next[left];
    const slot = right < 0 ? -1 : pairs.find(id[left], id[right]);
    if (slot < 0) {
      rankAt[left] = NO_RANK;
      return;
    }
    rankAt[left] = pairs.rankAt(slot);
    mergedAt[left] = pairs.mergedAt(slot);
    heap.push(rankAt[left], left);
  };
  for (let p = 0; p + 1 < n; p++) consider(p);
  const top = { rank: 0, position: 0 };
  while (heap.size > 0) {
    heap.pop(top);
    const left = top.position;
    if (rankAt[left] !== top.rank) continue; // stale
    const right = next[left];
    id[left] = mergedAt[left]!;
    size[left] = size[left] + size[right];
    size[right] = 0;
    rankAt[right] = NO_RANK;
    next[left] = next[right]!;
    if (next[right] >= 0) prev[next[right]] = left;
    consider(prev[left]);
    consider(left);
  }
  return scratch.parts(n);
}

/**
 * The same result without a heap of candidates, for vocabularies made by BPE training, where a
 * merge can only create pairs of a higher rank than its own (the merged token did not exist
 * before that merge was learnt, so no earlier merge uses it). Then the heap loop takes the ranks
 * in increasing order, and within one rank the pairs from left to right, all of them known when
 * that rank's turn comes. So: one list of positions per rank, the ranks in a small heap of their
 * own, each list sorted once. About three times faster than `mergeByHeap` on long runs. Returns
 * undefined as soon as a merge makes a pair whose rank is not higher (a vocabulary not made by
 * training); the caller then uses `mergeByHeap`.
 */
export function mergeByRankPasses(bytes: Uint8Array, tokens: ByteTokens, pairs: PairLookup, scratch = new MergeScratch()): SpanTokens | undefined {
  const n = bytes.length;
  scratch.reset(bytes, tokens);
  const { id, size, next, prev, rankAt, mergedAt } = scratch;
  const positions = new Map<number, number[]>(); // rank -> positions of pairs with that rank
  const ranks: number[] = []; // min-heap of the ranks in `positions`
  let current = -1; // the rank being merged
  /** Records the pair that starts at `left` now; false if its rank breaks the training order. */
  const consider = (left: number): boolean => {
    if (left < 0) return true;
    const right = next[left];
    const slot = right < 0 ? -1 : pairs.find(id[left], id[right]);
    if (slot < 0) {
      rankAt[left] = NO_RANK;
      return true;
    }
    const rank = pairs.rankAt(slot);
    if (rank <= current) return false;
    rankAt[left] = rank;
    mergedAt[left] = pairs.mergedAt(slot);
    let list = positions.get(rank);
    if (list === undefined) {
      positions.set(rank, (list = []));
      pushRank(ranks, rank);
    }
    list.push(left);
    return true;
  };
  for (let p = 0; p + 1 < n; p++) consider(p);
  while (ranks.length > 0) {
    current = popRank(ranks);
    const list = positions.get(current)!;
    positions.delete(current);
    // Positions come in increasing order within one pass; lists fed by several passes need a sort.
    for (let k = 1; k < list.length; k++) {
      if (list[k] < list[k - 1]) {
        list.sort((a, b) => a - b);
        break;
      }
    }
    for (const left of list) {
      if (rankAt[left] !== current) continue; // stale: the pair changed since
      const right = next[left];
      id[left] = mergedAt[left]!;
      size[left] = size[left] + size[right];
      size[right] = 0;
      rankAt[right] = NO_RANK;
      next[left] = next[right]!;
      if (next[right] >= 0) prev[next[right]] = left;
      if (!consider(prev[left]) || !consider(left)) return undefined;
    }
  }
  return scratch.parts(n);
}

function pushRank(heap: number[], rank: number): void {
  let i = heap.length;
  heap.push(rank);
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (heap[parent] <= rank) break;
    heap[i] = heap[parent]!;
    i = parent;
  }
  heap[i] = rank;
}

function popRank(heap: number[]): number {
  const top = heap[0];
  const last = heap.pop()!;
  const n = heap.length;
  if (n === 0) return top;
  let i = 0;
  for (;;) {
    let child = 2 * i + 1;
    if (child >= n) break;
    if (child + 1 < n && heap[child + 1] < heap[child]) child++;
    if (last <= heap[child]) break;
    heap[i] = heap[child]!;
    i = child;
  }
  heap[i] = last;
  return top;
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
 * check each seam with (1)/(2). A seam that is not compatible (a merge chain reaches across the
 * margin, as in a run of spaces whose tokens are longer than the margin) is undone by stepping
 * back, and the windows double from there on; at worst one window holds the whole input, which
 * is the plain loop.
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
  options: { window: number; canCut?: (p: number) => boolean },
): SpanTokens {
  const ids: number[] = [];
  const lengths: number[] = [];
  const canCut = options.canCut ?? ((): boolean => true);
  let window = options.window;
  let pos = 0; // where the kept tokens end
  while (pos < n) {
    // Tokens that end in the last quarter of a window that cuts the input are encoded again with
    // the next one: near a cut, merges miss what lies beyond it.
    const margin = window >> 2;
    let end = Math.min(n, pos + window);
    while (end < n && !canCut(end)) end++;
    const span = encodeSpan(pos, end);
    let keep = span.ids.length;
    if (end < n) {
      let at = pos;
      keep = 0;
      while (keep < span.ids.length && (keep === 0 || at + span.lengths[keep] <= end - margin)) at += span.lengths[keep++];
    }
    if (ids.length > 0 && !compatibleSeam(ids, lengths, pos, span, encodeSpan)) {
      // A merge chain reaches across the margin: step back and use larger windows from here on
      // (tokens in this input are longer than the margin; at worst one window holds it all).
      let back = 0;
      while (ids.length > 0 && back < margin) {
        ids.pop();
        back += lengths.pop()!;
      }
      pos -= back;
      window *= 2;
      continue;
    }
    for (let k = 0; k < keep; k++) {
      ids.push(span.ids[k]);
      lengths.push(span.lengths[k]);
      pos += span.lengths[k];
    }
  }
  return { ids, lengths };
}

/** Is the last kept token compatible with the first token of `span` (which starts at `pos`)? */
function compatibleSeam(ids: number[], lengths: number[], pos: number, span: SpanTokens, encodeSpan: (start: number, end: number) => SpanTokens): boolean {
  const leftId = ids[ids.length - 1];
  const leftLength = lengths[lengths.length - 1];
  const pair = encodeSpan(pos - leftLength, pos + span.lengths[0]);
  return pair.ids.length === 2 && pair.ids[0] === leftId && pair.ids[1] === span.ids[0] && pair.lengths[0] === leftLength && pair.lengths[1] === span.lengths[0];
}
