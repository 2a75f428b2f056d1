/**
 * Pair positions grouped by merge rank, for the rank-pass merge loop (bpe-merge.ts,
 * mergeByRankPasses): one bucket per rank, taken in increasing rank order, each bucket's positions
 * in increasing order. Everything lives in typed arrays that are reused from window to window
 * of a long piece, so a 50 MB run allocates nothing per pair (a Map of arrays per rank spent a
 * tenth of the time in the garbage collector).
 *
 *   per rank r:   head[r] -> first entry, tail[r] -> last entry (head[r] = -1: empty)
 *   per entry e:  position[e], link[e] -> next entry of the same rank (-1: last)
 *   ranks in use: a bitset, one bit per rank, and a summary bit per 32-bit word of it, so the
 *                 next rank in use is found in a few word reads
 *
 * A position may sit in several buckets at once (the pair that starts there changed after it
 * was queued): the loop skips such stale entries, as the heap loop does.
 */
export class RankBuckets {
  private head = new Int32Array(0);
  private tail = new Int32Array(0);
  private position = new Int32Array(1024);
  private link = new Int32Array(1024);
  private entries = 0;
  private used = new Uint32Array(0);
  private summary = new Uint32Array(0);
  /** Positions of the bucket last taken (`take`), sorted. */
  taken = new Int32Array(1024);

  /** Queues position `at` under `rank`. */
  add(rank: number, at: number): void {
    if (rank >= this.head.length) this.growRanks(rank + 1);
    if (this.entries === this.position.length) this.growEntries();
    const e = this.entries++;
    this.position[e] = at;
    this.link[e] = -1;
    const last = this.tail[rank];
    if (this.head[rank] === -1) {
      this.head[rank] = e;
      this.used[rank >>> 5] |= 1 << (rank & 31);
      this.summary[rank >>> 10] |= 1 << ((rank >>> 5) & 31);
    } else {
      this.link[last] = e;
    }
    this.tail[rank] = e;
  }

  /** The lowest rank above `after` with queued positions, or -1. */
  nextRank(after: number): number {
    const from = after + 1;
    let word = from >>> 5;
    if (word >= this.used.length) return -1;
    // The rest of the word `from` is in, then whole words found through the summary.
    const rest = this.used[word] & (~0 << (from & 31));
    if (rest !== 0) return (word << 5) + lowestBit(rest);
    word++;
    let group = word >>> 5;
    let bits = group < this.summary.length ? this.summary[group] & (~0 << (word & 31)) : 0;
    while (bits === 0) {
      if (++group >= this.summary.length) return -1;
      bits = this.summary[group]!;
    }
    word = (group << 5) + lowestBit(bits);
    return (word << 5) + lowestBit(this.used[word]);
  }

  /** Empties the bucket of `rank` into `taken` (sorted) and returns how many positions it held. */
  take(rank: number): number {
    let count = 0;
    for (let e = this.head[rank]; e !== -1; e = this.link[e]!) {
      if (count === this.taken.length) this.growTaken();
      this.taken[count++] = this.position[e]!;
    }
    this.head[rank] = -1;
    this.clearBit(rank);
    // Positions queued in one pass come in increasing order; a bucket fed by several needs a sort.
    const taken = this.taken;
    for (let k = 1; k < count; k++) {
      if (taken[k] < taken[k - 1]) {
        taken.subarray(0, count).sort();
        break;
      }
    }
    return count;
  }

  /** Forgets every queued position (after a loop that stopped early; a finished loop leaves none). */
  clear(): void {
    for (let rank = this.nextRank(-1); rank >= 0; rank = this.nextRank(rank)) {
      this.head[rank] = -1;
      this.clearBit(rank);
    }
    this.entries = 0;
  }

  /** Starts a new merge loop: entries are reused (every bucket is empty by then). */
  reset(): void {
    this.entries = 0;
  }

  private clearBit(rank: number): void {
    const word = rank >>> 5;
    this.used[word] &= ~(1 << (rank & 31));
    if (this.used[word] === 0) this.summary[word >>> 5] &= ~(1 << (word & 31));
  }

  private growRanks(needed: number): void {
    const size = Math.max(needed, 2 * this.head.length, 1024);
    const head = new Int32Array(size).fill(-1);
    head.set(this.head);
    const tail = new Int32Array(size);
    tail.set(this.tail);
    const used = new Uint32Array(Math.ceil(size / 32));
    used.set(this.used);
    const summary = new Uint32Array(Math.ceil(used.length / 32));
    summary.set(this.summary);
    this.head = head;
    this.tail = tail;
    this.used = used;
    this.summary = summary;
  }

  private growEntries(): void {
    const position = new Int32Array(this.position.length * 2);
    position.set(this.position);
    const link = new Int32Array(this.link.length * 2);
    link.set(this.link);
    this.position = position;
    this.link = link;
  }

  private growTaken(): void {
    const taken = new Int32Array(this.taken.length * 2);
    taken.set(this.taken);
    this.taken = taken;
  }
}

/** Index of the lowest set bit of a nonzero 32-bit word. */
function lowestBit(word: number): number {
  return 31 - Math.clz32(word & -word);
}
