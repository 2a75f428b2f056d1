/**
 * Merge table keyed on a pair of token ids: (left, right) -> (rank, merged id). Open addressing
 * with linear probing over parallel Int32Arrays, so a lookup is two multiplies and a few array
 * reads, with no strings and no boxing:
 *
 *   slot k: left[k] | right[k] | rank[k] | merged[k]      (left[k] = -1: empty)
 *
 * Capacity is a power of two kept at most half full.
 */
export class PairTable {
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
        if (rank < this.ranks[k]!) {
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
      const l = this.left[k]!;
      if (l === -1) return -1;
      if (l === a && this.right[k] === b) return k;
      k = (k + 1) & this.mask;
    }
  }

  rankAt(slot: number): number {
    return this.ranks[slot]!;
  }

  mergedAt(slot: number): number {
    return this.merged[slot]!;
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
    for (let k = 0; k < left.length; k++) if (left[k] !== -1) this.set(left[k]!, right[k]!, ranks[k]!, merged[k]!);
  }
}
