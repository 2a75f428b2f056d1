/**
 * SentencePiece's merge loop over typed arrays, for the encoder's hot path: the same merges as
 * the plain queue in spm.ts (`mergeSymbols`, llama.cpp's `llm_tokenizer_spm`), without strings,
 * objects or a heap of floats.
 *
 * The plain queue takes the pair whose piece has the highest score, the leftmost among equal
 * scores. Scores only matter through that order, so each piece gets a rank instead: 0 for the
 * highest score, equal scores the same rank (`scoreRanks`). Then "highest score, then leftmost"
 * is "lowest rank, then leftmost", the byte-pair rule, and the byte-pair loops apply as they are:
 *
 * - segments of up to SCAN_SYMBOLS characters (random letters cut into segments of seven on
 *   average; prose into words): a scan for the best pair after each merge, in place over four
 *   small arrays that live as long as the tokenizer;
 * - longer ones: `mergePartsByRankPasses` (bpe-merge.ts), buckets of positions per rank.
 *
 * A pair is looked up by its two piece ids in the table of every piece's splits (pair-table.ts),
 * which holds (left id, right id) -> (rank of the piece they make, its id).
 */
import { MAX_RANK, MergeScratch, mergePartsByRankPasses, type SpanTokens } from "./bpe-merge";
import type { PairTable } from "./pair-table";

/** Segments up to this many symbols merge by scanning; longer ones in rank passes. */
const SCAN_SYMBOLS = 48;
/** "No pair here" in the scan's rank array: above every rank. */
const NO_RANK = 0x7fffffff;

/**
 * Rank of each piece's score: 0 for the highest, the next lower score 1, and so on; equal scores
 * share a rank, so that among them position decides, as in the queue. A NaN score (no order at
 * all) ranks after every number. Undefined when the vocabulary has more pieces than the rank-pass
 * heap can pack (MAX_RANK): the encoder then keeps the plain queue.
 */
export function scoreRanks(scores: ArrayLike<number>): Int32Array | undefined {
  const n = scores.length;
  if (n > MAX_RANK) return undefined;
  const order = Array.from({ length: n }, (_, id) => id);
  const key = (id: number): number => (Number.isNaN(scores[id]) ? -Infinity : scores[id]);
  order.sort((a, b) => key(b) - key(a) || (Number.isNaN(scores[a]) ? 1 : 0) - (Number.isNaN(scores[b]) ? 1 : 0));
  const ranks = new Int32Array(n);
  let rank = 0;
  for (let k = 0; k < n; k++) {
    const id = order[k];
    if (k > 0) {
      const before = order[k - 1];
      if (!(scores[id] === scores[before] || (Number.isNaN(scores[id]) && Number.isNaN(scores[before])))) rank++;
    }
    ranks[id] = rank;
  }
  return ranks;
}

/**
 * A segment's symbols in, its merged symbols out. The caller writes the segment's characters to
 * `ids` / `lengths` (piece id, or -1 for a character that is no piece: it merges with nothing;
 * length in UTF-16 units) after `reserve(count)`, then calls `merge(count)` and reads the merged
 * symbols from `out.ids` / `out.lengths` (no view is made per segment: random letters make
 * millions of segments, and a typed-array view each cost more than their merges).
 *
 *   before: ids | c0 | c1 | c2 | ... |      ranks[k]: the pair (k, k+1)'s rank (NO_RANK: none),
 *        lengths |  1 |  1 |  2 | ... |      merged[k]: the piece it makes
 */
export class SpmMerger {
  ids = new Int32Array(SCAN_SYMBOLS);
  lengths = new Int32Array(SCAN_SYMBOLS);
  private ranks = new Int32Array(SCAN_SYMBOLS);
  private merged = new Int32Array(SCAN_SYMBOLS);
  private readonly scratch = new MergeScratch();
  /** Where `merge` left the merged symbols: these arrays, or the rank-pass loop's. */
  out: SpanTokens = this;

  constructor(private readonly pairs: PairTable) {}

  /** Room for `count` symbols in `ids` / `lengths` (their contents are kept). */
  reserve(count: number): void {
    if (count <= this.ids.length) return;
    const capacity = Math.max(count, 2 * this.ids.length);
    const grow = (a: Int32Array) => {
      const b = new Int32Array(capacity);
      b.set(a);
      return b;
    };
    this.ids = grow(this.ids);
    this.lengths = grow(this.lengths);
  }

  /**
   * Merges the `count` symbols in `ids` / `lengths` and returns how many are left; they are the
   * first ones of `out.ids` / `out.lengths`, valid until the next call.
   */
  merge(count: number): number {
    if (count <= SCAN_SYMBOLS) {
      this.out = this;
      return this.mergeByScan(count);
    }
    this.out = this.mergeByRankPasses(count);
    return this.out.ids.length;
  }

  /** Each step merges the lowest-ranked pair, the leftmost among equals; the arrays close up behind it. */
  private mergeByScan(count: number): number {
    const { ids, lengths, ranks, merged } = this;
    let n = count;
    for (let k = 0; k + 1 < n; k++) this.rankPair(k);
    for (;;) {
      let best = NO_RANK;
      let at = -1;
      for (let k = 0; k + 1 < n; k++) {
        if (ranks[k] < best) {
          best = ranks[k];
          at = k;
        }
      }
      if (at < 0) break;
      ids[at] = merged[at];
      lengths[at] += lengths[at + 1];
      // Symbol at+1 and pair at+1 leave: everything after them moves one place left.
      for (let k = at + 1; k + 1 < n; k++) {
        ids[k] = ids[k + 1];
        lengths[k] = lengths[k + 1];
        ranks[k] = ranks[k + 1];
        merged[k] = merged[k + 1];
      }
      n--;
      if (at > 0) this.rankPair(at - 1);
      if (at + 1 < n) this.rankPair(at);
    }
    return n;
  }

  private rankPair(k: number): void {
    const slot = this.pairs.find(this.ids[k], this.ids[k + 1]);
    this.ranks[k] = slot < 0 ? NO_RANK : this.pairs.rankAt(slot);
    this.merged[k] = slot < 0 ? -1 : this.pairs.mergedAt(slot);
  }

  private mergeByRankPasses(count: number): SpanTokens {
    const scratch = this.scratch;
    scratch.link(count);
    scratch.id.set(this.ids.subarray(0, count));
    scratch.size.set(this.lengths.subarray(0, count));
    return mergePartsByRankPasses(count, this.pairs, scratch);
  }
}
