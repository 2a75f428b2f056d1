import type { PairLookup } from "./bpe-merge";

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

/**
 * tiktoken ranks: a pair's rank is the id (= rank) of the token its bytes concatenate to, if
 * there is one. Nothing is enumerated up front (every split of every token costs seconds for
 * o200k) and nothing is remembered per pair (a long run of random letters meets millions of
 * distinct pairs that make no token). Instead each token's bytes are hashed so that the hash of a
 * concatenation comes from the two parts' hashes alone (Horner's rule, mod 2^32):
 *
 *   h(x) = sum_i (x_i + 1) * M^(|x|-1-i)      h(a ++ b) = h(a) * M^|b| + h(b)
 *
 * and the tokens are indexed by that hash. A lookup computes h(a ++ b) from the two ids, probes
 * the index, and confirms a candidate by its length and bytes (a collision costs a comparison,
 * never a wrong answer). No strings, no allocation, no growth.
 *
 *   index slot k: hashOf[k] | idOf[k]              (idOf[k] = -1: empty)
 *   per token id: hash[id] | length[id] | start[id] -> its bytes in `flat`
 */
export class TiktokenPairs implements PairLookup {
  private readonly hash: Int32Array;
  private readonly length: Int32Array;
  private readonly start: Int32Array;
  private readonly flat: Uint8Array;
  /** M^k mod 2^32 for every token length k. */
  private readonly power: Int32Array;
  private readonly hashOf: Int32Array;
  private readonly idOf: Int32Array;
  private readonly mask: number;

  /** `tokens[id]` are the bytes of rank `id`; holes (undefined) are ids with no bytes (special tokens). */
  constructor(tokens: ReadonlyArray<Uint8Array | undefined>) {
    const n = tokens.length;
    this.hash = new Int32Array(n);
    this.length = new Int32Array(n);
    this.start = new Int32Array(n);
    let total = 0;
    let longest = 0;
    for (const bytes of tokens) {
      total += bytes?.length ?? 0;
      longest = Math.max(longest, bytes?.length ?? 0);
    }
    this.flat = new Uint8Array(total);
    this.power = new Int32Array(longest + 1);
    this.power[0] = 1;
    for (let k = 1; k <= longest; k++) this.power[k] = Math.imul(this.power[k - 1]!, HASH_MULTIPLIER);
    let capacity = 16;
    while (capacity < n * 2) capacity <<= 1;
    this.hashOf = new Int32Array(capacity);
    this.idOf = new Int32Array(capacity).fill(-1);
    this.mask = capacity - 1;
    let at = 0;
    for (let id = 0; id < n; id++) {
      const bytes = tokens[id];
      if (bytes === undefined || bytes.length === 0) continue;
      let h = 0;
      for (let i = 0; i < bytes.length; i++) h = (Math.imul(h, HASH_MULTIPLIER) + bytes[i]! + 1) | 0;
      this.hash[id] = h;
      this.length[id] = bytes.length;
      this.start[id] = at;
      this.flat.set(bytes, at);
      at += bytes.length;
      // The same bytes under two ranks: the first (lowest) one is the token, as in bytesToId.
      if (this.lookup(h, bytes.length, id, -1) < 0) this.insert(h, id);
    }
  }

  find(a: number, b: number): number {
    if (a < 0 || b < 0) return -1; // a byte without a token
    const la = this.length[a]!;
    const lb = this.length[b]!;
    if (la === 0 || lb === 0) return -1; // an id without bytes (an unknown token standing for a byte)
    const h = (Math.imul(this.hash[a]!, this.power[lb]!) + this.hash[b]!) | 0;
    return this.lookup(h, la + lb, a, b);
  }

  /** The token's id is its rank. */
  rankAt(slot: number): number {
    return slot;
  }

  mergedAt(slot: number): number {
    return slot;
  }

  /** Id of the token whose bytes are those of `a` followed by those of `b` (b = -1: of `a` alone), or -1. */
  private lookup(h: number, length: number, a: number, b: number): number {
    if (length >= this.power.length) return -1; // longer than any token
    for (let k = mix(h) & this.mask; ; k = (k + 1) & this.mask) {
      const id = this.idOf[k]!;
      if (id < 0) return -1;
      if (this.hashOf[k] === h && this.length[id] === length && this.sameBytes(id, a, b)) return id;
    }
  }

  /** Are the bytes of token `id` those of `a` then `b` (b = -1: none)? */
  private sameBytes(id: number, a: number, b: number): boolean {
    const flat = this.flat;
    let at = this.start[id]!;
    const la = this.length[a]!;
    for (let i = this.start[a]!, end = i + la; i < end; i++) if (flat[at++] !== flat[i]) return false;
    if (b < 0) return true;
    for (let i = this.start[b]!, end = i + this.length[b]!; i < end; i++) if (flat[at++] !== flat[i]) return false;
    return true;
  }

  private insert(h: number, id: number): void {
    let k = mix(h) & this.mask;
    while (this.idOf[k]! >= 0) k = (k + 1) & this.mask;
    this.hashOf[k] = h;
    this.idOf[k] = id;
  }
}

/** An odd multiplier (FNV's prime): multiplying by it mod 2^32 loses no information. */
const HASH_MULTIPLIER = 0x01000193;

/** Spreads the hash's high bits into the low ones the index is addressed by. */
function mix(h: number): number {
  const x = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  return (x ^ (x >>> 13)) >>> 0;
}
