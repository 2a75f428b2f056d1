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
 * - `mergeByRankPasses`: the heap loop's merge order from buckets of positions per rank, for
 *   long pieces (a window of one, merge-windows.ts).
 */
import { RankBuckets } from "./rank-buckets";

/** Tokens of a span of the input, each with its length in input units (bytes here). */
export interface SpanTokens {
  ids: ArrayLike<number>;
  lengths: ArrayLike<number>;
}

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
  private outIds = new Int32Array(0);
  private outLengths = new Int32Array(0);
  /** The rank-pass loop's queue and the heap for what it cannot queue (see mergeByRankPasses). */
  readonly buckets = new RankBuckets();
  readonly heap = new CandidateHeap();

  /**
   * Merges the part at `left` with the one after it: `left` takes the pair's merged id and both
   * sizes, the right part leaves the list. The caller then looks again at the two pairs that
   * changed (the one ending at `left` and the one starting there).
   */
  join(left: number): void {
    const { id, size, next, prev, rankAt, mergedAt } = this;
    const right = next[left];
    id[left] = mergedAt[left];
    size[left] = size[left] + size[right];
    size[right] = 0;
    rankAt[right] = NO_RANK;
    next[left] = next[right];
    if (next[right] >= 0) prev[next[right]] = left;
  }

  /** Sets up parts for `bytes`: one per byte, linked in order, no pairs yet. */
  reset(bytes: Uint8Array, tokens: ByteTokens): void {
    const n = bytes.length;
    this.link(n);
    for (let p = 0; p < n; p++) {
      this.id[p] = byteToken(tokens, bytes[p]);
      this.size[p] = 1;
    }
  }

  /**
   * Room for n parts, linked in order, no pairs yet; the caller fills `id` and `size` (SentencePiece:
   * a part per character, of one or two UTF-16 units).
   */
  link(n: number): void {
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
      this.next[p] = p + 1 < n ? p + 1 : -1;
      this.prev[p] = p - 1;
      this.rankAt[p] = NO_RANK;
    }
  }

  /**
   * The parts left, from position 0 along `next`: views of two arrays kept here, valid until the
   * next call (the window loop copies what it keeps before it merges again).
   */
  parts(n: number): SpanTokens {
    if (this.outIds.length < n) {
      this.outIds = new Int32Array(this.id.length);
      this.outLengths = new Int32Array(this.id.length);
    }
    let count = 0;
    for (let p = n > 0 ? 0 : -1; p >= 0; p = this.next[p]!) {
      this.outIds[count] = this.id[p]!;
      this.outLengths[count++] = this.size[p]!;
    }
    return { ids: this.outIds.subarray(0, count), lengths: this.outLengths.subarray(0, count) };
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
export class CandidateHeap {
  private keys = new Float64Array(1024);
  size = 0;

  /** The lowest entry's packed key, `rank * 2^32 + position` (Infinity when empty). */
  peek(): number {
    return this.size > 0 ? this.keys[0] : Infinity;
  }

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
  const { id, next, prev, rankAt, mergedAt } = scratch;
  const heap = scratch.heap;
  heap.size = 0;
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
    scratch.join(left);
    consider(prev[left]);
    consider(left);
  }
  return scratch.parts(n);
}

/**
 * The same result, mostly without a heap, for vocabularies made by BPE training, where a merge
 * usually creates pairs of a higher rank than its own (the merged token did not exist before
 * that merge was learnt, so no earlier merge uses it). Then the heap loop takes the ranks in
 * increasing order, and within one rank the pairs from left to right, all of them known when
 * that rank's turn comes. So: one bucket of positions per rank (rank-buckets.ts), taken in rank
 * order, each sorted once; a pass over a bucket is a walk from left to right.
 *
 * A merge can still make a pair of the current rank or a lower one (tiktoken's ranks: "abc" may
 * be an older token than "bc", so merging "b" "c" lets "a" "bc" merge at a lower rank). Such a
 * pair goes to a heap of its own, and the loop always takes the lower of the heap's top and the
 * bucket's next position, comparing (rank, position) as the heap loop does; the heap is drained
 * before the next rank starts. So the merge order is the heap loop's, exactly; the heap just
 * stays small (usually empty). Three to four times faster than `mergeByHeap` on long runs.
 */
export function mergeByRankPasses(bytes: Uint8Array, tokens: ByteTokens, pairs: PairLookup, scratch = new MergeScratch()): SpanTokens {
  scratch.reset(bytes, tokens);
  return mergePartsByRankPasses(bytes.length, pairs, scratch);
}

/** The rank-pass loop on n parts already in `scratch` (`reset`, or `link` and the caller's ids and sizes). */
export function mergePartsByRankPasses(n: number, pairs: PairLookup, scratch: MergeScratch): SpanTokens {
  const { id, next, prev, rankAt, mergedAt, buckets, heap } = scratch;
  buckets.reset();
  heap.size = 0;
  let current = -1; // the rank whose bucket is being walked
  const consider = (left: number): void => {
    if (left < 0) return;
    const right = next[left];
    const slot = right < 0 ? -1 : pairs.find(id[left], id[right]);
    if (slot < 0) {
      rankAt[left] = NO_RANK;
      return;
    }
    const rank = pairs.rankAt(slot);
    rankAt[left] = rank;
    mergedAt[left] = pairs.mergedAt(slot);
    if (rank > current) buckets.add(rank, left);
    else heap.push(rank, left); // its turn has come already (or is now)
  };
  const merge = (left: number): void => {
    scratch.join(left);
    consider(prev[left]);
    consider(left);
  };
  for (let p = 0; p + 1 < n; p++) consider(p);
  const top = { rank: 0, position: 0 };
  for (current = buckets.nextRank(-1); current >= 0; current = buckets.nextRank(current)) {
    const count = buckets.take(current);
    const taken = buckets.taken;
    const base = current * POSITIONS;
    for (let k = 0; k < count; ) {
      if (heap.peek() < base + taken[k]) {
        heap.pop(top);
        if (rankAt[top.position] === top.rank) merge(top.position);
        continue;
      }
      const left = taken[k++];
      if (rankAt[left] === current) merge(left); // else stale: the pair changed since
    }
    while (heap.size > 0) {
      heap.pop(top);
      if (rankAt[top.position] === top.rank) merge(top.position);
    }
  }
  return scratch.parts(n);
}
