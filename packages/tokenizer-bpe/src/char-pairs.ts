import { PairTable } from "./pair-table";

/** Code points below this are looked up in the bitmap: ASCII, which text is mostly made of. */
const BITMAP_CHARS = 128;

/**
 * A set of pairs of code points, for SentencePiece's segments (spm.ts, `segmentEnd`): which two
 * characters some piece holds side by side. Asked once per character of the input, so no strings
 * and no numbers past 2^31 (a `Set` of `left * 0x110000 + right` hashed a heap number per ask):
 *
 *   both ASCII:  bit (left * 128 + right) of a 2 KB bitmap
 *   otherwise:   a PairTable keyed on the two code points
 */
export class CharPairs {
  private readonly bitmap = new Uint32Array((BITMAP_CHARS * BITMAP_CHARS) / 32);
  private readonly table = new PairTable(1 << 12);

  add(left: number, right: number): void {
    if (left < BITMAP_CHARS && right < BITMAP_CHARS) {
      const bit = left * BITMAP_CHARS + right;
      this.bitmap[bit >>> 5] |= 1 << (bit & 31);
    } else {
      this.table.set(left, right, 0, 0);
    }
  }

  has(left: number, right: number): boolean {
    if (left < BITMAP_CHARS && right < BITMAP_CHARS) {
      const bit = left * BITMAP_CHARS + right;
      return (this.bitmap[bit >>> 5] & (1 << (bit & 31))) !== 0;
    }
    return this.table.find(left, right) >= 0;
  }
}
