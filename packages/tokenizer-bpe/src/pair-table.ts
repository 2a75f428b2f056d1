import type { PairLookup } from "./bpe-merge";
import { bytesToBinary } from "./utf8";

/**
 * Merge table keyed on a pair of token ids: (left, right) -> (rank, merged id). Open addressing
 * with linear probing over parallel Int32Arrays, so a lookup is two multiplies and a few array
 * reads, with no strings and no boxing:
 *
 *   slot k: left[k] | right[k] | rank[k] | merged[k]      (left[k] = -1: empty)
 *
 * Capacity is a power of two kept at most half full.
 */
export class PairTable implements PairLookup {
  private left: Int32Array;
  private right: Int32Array;
  private ranks: Int32Array;
  private merged: Int32Array;
  private mask: number;
  size = 0;

  constructor(expected = 1024) {
    let capacity = 16;
    while (capacity < expected * 2) capacity <<= 1;
    this.left = new Int32Array(capacity).fill(-1);
    this.right = new Int32Array(capacity);
    this.ranks = new Int32Array(capacity);
    this.merged = new Int32Array(capacity);
    this.mask = capacity - 1;
  }

  private slot(a: number, b: number): number {
    return (Math.imul(a, 0x9e3779b1) ^ Math.imul(b + 0x7f4a7c15, 0x85ebca77)) >>> 0;
  }

  /** Adds (a, b) -> (rank, mergedId); keeps the lower rank if the pair is already present. */
  set(a: number, b: number, rank: number, mergedId: number): void {
    if ((this.size + 1) * 2 > this.mask + 1) this.grow();
    let k = this.slot(a, b) & this.mask;
    while (this.left[k] !== -1) {
      if (this.left[k] === a && this.right[k] === b) {
        if (rank < this.ranks[k]) {
          this.ranks[k] = rank;
          this.merged[k] = mergedId;
        }
        return;
      }
      k = (k + 1) & this.mask;
    }
    this.left[k] = a;
    this.right[k] = b;
    this.ranks[k] = rank;
    this.merged[k] = mergedId;
    this.size++;
  }

  /** Slot index of (a, b), or -1. Read the result with `rankAt` / `mergedAt`. */
  find(a: number, b: number): number {
    if (a < 0) return -1; // -1 marks empty slots; no pair has a negative id
    let k = this.slot(a, b) & this.mask;
    for (;;) {
      const l = this.left[k];
      if (l === -1) return -1;
      if (l === a && this.right[k] === b) return k;
      k = (k + 1) & this.mask;
    }
  }

  rankAt(slot: number): number {
    return this.ranks[slot];
  }

  mergedAt(slot: number): number {
    return this.merged[slot];
  }

  private grow(): void {
    const { left, right, ranks, merged } = this;
    const capacity = (this.mask + 1) * 2;
    this.left = new Int32Array(capacity).fill(-1);
    this.right = new Int32Array(capacity);
    this.ranks = new Int32Array(capacity);
    this.merged = new Int32Array(capacity);
    this.mask = capacity - 1;
    this.size = 0;
    for (let k = 0; k < left.length; k++) if (left[k] !== -1) this.set(left[k], right[k], ranks[k], merged[k]);
  }
}

/**
 * tiktoken ranks: a pair's rank is the id (= rank) of the token its bytes concatenate to. The
 * table is filled on first sight of a pair, because enumerating every split of every token up
 * front costs seconds for o200k; a pair that makes no token is stored too, with merged id -1.
 */
export class TiktokenPairs extends PairTable {
  private readonly binary: readonly string[];

  constructor(tokens: ReadonlyArray<Uint8Array | undefined>, private readonly bytesToId: ReadonlyMap<string, number>) {
    super(1 << 16);
    this.binary = tokens.map((bytes) => (bytes === undefined ? "" : bytesToBinary(bytes)));
  }

  override find(a: number, b: number): number {
    let slot = super.find(a, b);
    if (slot < 0) {
      if (a < 0 || b < 0) return -1; // a byte without a token
      const id = this.bytesToId.get(this.binary[a] + this.binary[b]);
      this.set(a, b, id ?? NO_SUCH_TOKEN_RANK, id ?? -1);
      slot = super.find(a, b);
    }
    return this.mergedAt(slot) < 0 ? -1 : slot;
  }
}

const NO_SUCH_TOKEN_RANK = 0x7fffffff;
