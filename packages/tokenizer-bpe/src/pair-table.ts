import type { PairLookup } from "./bpe-merge";

/**
 * Merge table keyed on a pair of token ids: (left, right) -> (rank, merged id). Open addressing
 * with linear probing over one Int32Array, four ints a slot, so a lookup is two multiplies and
 * one cache line, with no strings and no boxing:
 *
 *   slot k at 4k: left | right | rank | merged      (left = -1: empty)
 *
 * Capacity is a power of two kept at most half full.
 */
export class PairTable implements PairLookup {
  private slots: Int32Array;
  private mask: number;
  size = 0;

  constructor(expected = 1024) {
    let capacity = 16;
    while (capacity < expected * 2) capacity <<= 1;
    this.slots = emptySlots(capacity);
    this.mask = capacity - 1;
  }

  private slot(a: number, b: number): number {
    return (Math.imul(a, 0x9e3779b1) ^ Math.imul(b + 0x7f4a7c15, 0x85ebca77)) >>> 0;
  }

  /** Adds (a, b) -> (rank, mergedId); keeps the lower rank if the pair is already present. */
  set(a: number, b: number, rank: number, mergedId: number): void {
    if ((this.size + 1) * 2 > this.mask + 1) this.grow();
    const slots = this.slots;
    let k = this.slot(a, b) & this.mask;
    while (slots[4 * k] !== -1) {
      if (slots[4 * k] === a && slots[4 * k + 1] === b) {
        if (rank < slots[4 * k + 2]) {
          slots[4 * k + 2] = rank;
          slots[4 * k + 3] = mergedId;
        }
        return;
      }
      k = (k + 1) & this.mask;
    }
    slots[4 * k] = a;
    slots[4 * k + 1] = b;
    slots[4 * k + 2] = rank;
    slots[4 * k + 3] = mergedId;
    this.size++;
  }

  /** Slot of (a, b), or -1. Read the result with `rankAt` / `mergedAt`. */
  find(a: number, b: number): number {
    if (a < 0) return -1; // -1 marks empty slots; no pair has a negative id
    const slots = this.slots;
    for (let k = this.slot(a, b) & this.mask; ; k = (k + 1) & this.mask) {
      const left = slots[4 * k];
      if (left === -1) return -1;
      if (left === a && slots[4 * k + 1] === b) return k;
    }
  }

  rankAt(slot: number): number {
    return this.slots[4 * slot + 2];
  }

  mergedAt(slot: number): number {
    return this.slots[4 * slot + 3];
  }

  private grow(): void {
    const old = this.slots;
    const capacity = (this.mask + 1) * 2;
    this.slots = emptySlots(capacity);
    this.mask = capacity - 1;
    this.size = 0;
    for (let k = 0; k < old.length; k += 4) if (old[k] !== -1) this.set(old[k], old[k + 1], old[k + 2], old[k + 3]);
  }
}

function emptySlots(capacity: number): Int32Array {
  const slots = new Int32Array(4 * capacity);
  for (let k = 0; k < slots.length; k += 4) slots[k] = -1;
  return slots;
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
  private completeTable: PairTable | undefined;

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
    for (let k = 1; k <= longest; k++) this.power[k] = Math.imul(this.power[k - 1], HASH_MULTIPLIER);
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
      for (let i = 0; i < bytes.length; i++) h = (Math.imul(h, HASH_MULTIPLIER) + bytes[i] + 1) | 0;
      this.hash[id] = h;
      this.length[id] = bytes.length;
      this.start[id] = at;
      this.flat.set(bytes, at);
      at += bytes.length;
      // The same bytes under two ranks: the first (lowest) one is the token, as in bytesToId.
      if (this.lookupBytes(h, this.start[id], bytes.length) < 0) this.insert(h, id);
    }
  }

  find(a: number, b: number): number {
    if (a < 0 || b < 0) return -1; // a byte without a token
    const la = this.length[a];
    const lb = this.length[b];
    if (la === 0 || lb === 0) return -1; // an id without bytes (an unknown token standing for a byte)
    const h = (Math.imul(this.hash[a], this.power[lb]) + this.hash[b]) | 0;
    return this.lookup(h, la + lb, a, b);
  }

  /**
   * Every pair that makes a token, in a PairTable: for each token, each split of its bytes into
   * two tokens (prefix and suffix hashes come from the token's own: h(suffix) = h(t) - h(prefix)
   * * M^|suffix|). Built once, on the first long piece (about half a million splits for cl100k,
   * tens of milliseconds): a long run of merges then finds every pair, and every pair that makes
   * nothing, in one probe of one cache line instead of a hash, a probe and a comparison of bytes.
   */
  complete(): PairTable {
    if (this.completeTable !== undefined) return this.completeTable;
    const table = new PairTable(1 << 18); // 233,378 pairs for cl100k: 8 MB; o200k grows it to 16 MB
    for (let t = 0; t < this.length.length; t++) {
      const n = this.length[t];
      if (n < 2 || this.canonical(t) !== t) continue;
      const whole = this.hash[t];
      const from = this.start[t];
      let prefix = 0;
      for (let k = 1; k < n; k++) {
        prefix = (Math.imul(prefix, HASH_MULTIPLIER) + this.flat[from + k - 1] + 1) | 0;
        const left = this.lookupBytes(prefix, from, k);
        if (left < 0) continue;
        const suffix = (whole - Math.imul(prefix, this.power[n - k])) | 0;
        const right = this.lookupBytes(suffix, from + k, n - k);
        if (right >= 0) table.set(left, right, t, t);
      }
    }
    return (this.completeTable = table);
  }

  /** The id that token `t`'s bytes are indexed under (the lowest rank with those bytes). */
  private canonical(t: number): number {
    return this.lookupBytes(this.hash[t], this.start[t], this.length[t]);
  }

  /** Id of the token whose bytes are flat[from, from + length), or -1. */
  private lookupBytes(h: number, from: number, length: number): number {
    if (length >= this.power.length) return -1;
    const flat = this.flat;
    for (let k = mix(h) & this.mask; ; k = (k + 1) & this.mask) {
      const id = this.idOf[k];
      if (id < 0) return -1;
      if (this.hashOf[k] !== h || this.length[id] !== length) continue;
      let i = 0;
      for (const at = this.start[id]; i < length && flat[at + i] === flat[from + i]; i++);
      if (i === length) return id;
    }
  }

  /** The token's id is its rank. */
  rankAt(slot: number): number {
    return slot;
  }

  mergedAt(slot: number): number {
    return slot;
  }

  /** Id of the token whose bytes are those of `a` followed by those of `b`, or -1. */
  private lookup(h: number, length: number, a: number, b: number): number {
    if (length >= this.power.length) return -1; // longer than any token
    for (let k = mix(h) & this.mask; ; k = (k + 1) & this.mask) {
      const id = this.idOf[k];
      if (id < 0) return -1;
      if (this.hashOf[k] === h && this.length[id] === length && this.sameBytes(id, a, b)) return id;
    }
  }

  /** Are the bytes of token `id` those of `a` then `b`? */
  private sameBytes(id: number, a: number, b: number): boolean {
    const flat = this.flat;
    let at = this.start[id];
    const la = this.length[a];
    for (let i = this.start[a], end = i + la; i < end; i++) if (flat[at++] !== flat[i]) return false;
    for (let i = this.start[b], end = i + this.length[b]; i < end; i++) if (flat[at++] !== flat[i]) return false;
    return true;
  }

  private insert(h: number, id: number): void {
    let k = mix(h) & this.mask;
    while (this.idOf[k] >= 0) k = (k + 1) & this.mask;
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

