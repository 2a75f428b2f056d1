import { TokenizerError, type TokenizerErrorCode } from "./errors";
import { byteTokenValue } from "./byte-token";
import { decodeUtf8, writeUtf8 } from "./utf8";

/**
 * Pieces as their UTF-8 bytes end to end and count + 1 offsets into them, piece i being
 * bytes[offsets[i], offsets[i + 1]): the form a GGUF reader holds a string array in
 * (@zero-llm/tensor's GgufStringArray has exactly these two fields), so a vocabulary reaches the
 * tokenizer without one JS string per piece.
 */
export interface SpmPieceBytes {
  readonly bytes: Uint8Array;
  readonly offsets: Uint32Array;
}

/** "No piece" in the hash table. */
const EMPTY = -1;
/** Bytes of the text looked up at a time before the scratch buffer grows (`idOfText`). */
const SCRATCH_BYTES = 64;

/** Replaces invalid UTF-8 by U+FFFD, as the GGUF reader's and llama2.c loader's string decoding does. */
const lenientDecoder = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });

/**
 * Throws `code` (naming `field`) unless `pieces` is a Uint8Array with count + 1 Uint32Array
 * offsets into it, from 0, in increasing order, within the bytes: the one check of this form
 * wherever pieces arrive as bytes (SpmVocabulary.fromBytes, GGUF metadata).
 */
export function checkPieceBytes(pieces: SpmPieceBytes, field: string, code: TokenizerErrorCode): void {
  const { bytes, offsets } = pieces;
  if (!(bytes instanceof Uint8Array) || !(offsets instanceof Uint32Array)) {
    throw new TokenizerError(code, `${field}: expected { bytes: Uint8Array, offsets: Uint32Array }, found { bytes: ${describe(bytes)}, offsets: ${describe(offsets)} }`);
  }
  if (offsets.length === 0) throw new TokenizerError(code, `${field}: expected count + 1 offsets, found none`);
  for (let i = 0; i + 1 < offsets.length; i++) {
    if (offsets[i + 1] < offsets[i]) throw new TokenizerError(code, `${field}: expected offsets in increasing order, found offset ${i + 1} = ${offsets[i + 1]} below ${offsets[i]}`);
  }
  const last = offsets[offsets.length - 1];
  if (offsets[0] !== 0 || last > bytes.length) throw new TokenizerError(code, `${field}: expected offsets from 0 to at most ${bytes.length} (the bytes' length), found ${offsets[0]}..${last}`);
}

/**
 * A SentencePiece vocabulary held compactly: every piece's bytes in one buffer, a hash table from
 * bytes to id, and no JS string per piece (32,000 strings and a Map of them cost ~5 MB of heap
 * for ~0.4 MB of text).
 *
 *   bytes   = | "<unk>" | "<s>" | ... | "▁the" | ...     UTF-8 (WTF-8 for a lone surrogate, as encodeUtf8)
 *   offsets = | 0 | 5 | 8 | ... |                          count + 1 × u32
 *   slots   = | id | -1 | id | ... |                       open addressing, linear probing, ≤ half full
 *
 * A slot holds the first id of a piece (a vocabulary may repeat a piece; the first one is the one
 * text encodes to, as a Map filled in id order keeps it). Keys are compared by bytes, so every
 * piece is stored as the bytes of its decoded text: a string piece as `encodeUtf8` writes it,
 * a byte piece as is when it is valid UTF-8, else as the bytes of what decoding makes of it
 * (U+FFFD for each invalid part) — the text the same piece had as a string.
 */
export class SpmVocabulary {
  readonly size: number;
  /** Pieces that are distinct (the pair table's size hint). */
  readonly distinct: number;
  private readonly bytes: Uint8Array;
  private readonly offsets: Uint32Array;
  private readonly slots: Int32Array;
  private readonly mask: number;
  private scratch = new Uint8Array(SCRATCH_BYTES);

  private constructor(bytes: Uint8Array, offsets: Uint32Array) {
    this.bytes = bytes;
    this.offsets = offsets;
    this.size = offsets.length - 1;
    let capacity = 16;
    while (capacity < this.size * 2) capacity <<= 1;
    this.slots = new Int32Array(capacity).fill(EMPTY);
    this.mask = capacity - 1;
    let distinct = 0;
    for (let id = 0; id < this.size; id++) if (this.insert(id)) distinct++;
    this.distinct = distinct;
  }

  /** From strings: each piece's bytes as `encodeUtf8` writes them. */
  static fromStrings(pieces: readonly string[]): SpmVocabulary {
    let total = 0;
    for (const piece of pieces) total += piece.length * 3; // an upper bound: 3 bytes per UTF-16 unit at most
    const bytes = new Uint8Array(total);
    const offsets = new Uint32Array(pieces.length + 1);
    let at = 0;
    for (let id = 0; id < pieces.length; id++) {
      at = writeUtf8(pieces[id], 0, pieces[id].length, bytes, at);
      offsets[id + 1] = at;
    }
    return new SpmVocabulary(bytes.slice(0, at), offsets);
  }

  /**
   * From bytes and offsets (checked: monotone, within the buffer). The buffer is shared, not
   * copied, when it is a whole buffer of valid UTF-8 pieces (a GGUF reader's own copy); otherwise
   * the pieces are copied, invalid ones replaced as the string decoding would.
   */
  static fromBytes(pieces: SpmPieceBytes, field = "pieces", code: TokenizerErrorCode = "TOKENIZER_BAD_ARGUMENT"): SpmVocabulary {
    checkPieceBytes(pieces, field, code);
    const { bytes, offsets } = pieces;
    const last = offsets[offsets.length - 1];
    const whole = bytes.byteOffset === 0 && bytes.buffer.byteLength === last && bytes.length === last;
    let valid = true;
    for (let i = 0; i + 1 < offsets.length && valid; i++) valid = isValidUtf8(bytes, offsets[i], offsets[i + 1]);
    if (valid && whole) return new SpmVocabulary(bytes, offsets);
    if (valid) return new SpmVocabulary(bytes.slice(0, last), offsets.slice());
    // Rare: some piece is not UTF-8. Store what its decoded text encodes to.
    const chunks: Uint8Array[] = [];
    let total = 0;
    for (let i = 0; i + 1 < offsets.length; i++) {
      let piece = bytes.subarray(offsets[i], offsets[i + 1]);
      if (!isValidUtf8(bytes, offsets[i], offsets[i + 1])) piece = new TextEncoder().encode(lenientDecoder.decode(piece));
      chunks.push(piece);
      total += piece.length;
    }
    const out = new Uint8Array(total);
    const outOffsets = new Uint32Array(offsets.length);
    let at = 0;
    chunks.forEach((piece, i) => {
      out.set(piece, at);
      at += piece.length;
      outOffsets[i + 1] = at;
    });
    return new SpmVocabulary(out, outOffsets);
  }

  /** Piece `id`'s bytes (a view, no copy). */
  pieceBytes(id: number): Uint8Array {
    return this.bytes.subarray(this.offsets[id], this.offsets[id + 1]);
  }

  /** Piece `id` as a string, made on demand. */
  piece(id: number): string {
    return decodeUtf8(this.pieceBytes(id));
  }

  /** Where piece `id`'s bytes start in `bytes` and its length (for walking its characters). */
  start(id: number): number {
    return this.offsets[id];
  }

  byteLength(id: number): number {
    return this.offsets[id + 1] - this.offsets[id];
  }

  byteAt(at: number): number {
    return this.bytes[at];
  }

  /** The byte piece `id` stands for when it is "<0xHH>" (hex digits in either case), else -1. */
  byteTokenValue(id: number): number {
    return byteTokenValue(this.bytes, this.offsets[id], this.offsets[id + 1]);
  }

  /** The id of the piece whose bytes are source[from, to) (the first such id), or -1. */
  idOfBytes(source: Uint8Array, from: number, to: number): number {
    const { slots, mask, bytes, offsets } = this;
    const n = to - from;
    for (let k = hashBytes(source, from, to) & mask; ; k = (k + 1) & mask) {
      const id = slots[k];
      if (id === EMPTY) return -1;
      const start = offsets[id];
      if (offsets[id + 1] - start !== n) continue;
      let same = true;
      for (let i = 0; i < n; i++) {
        if (bytes[start + i] !== source[from + i]) {
          same = false;
          break;
        }
      }
      if (same) return id;
    }
  }

  /** Bytes of piece `id` between two of its own offsets, looked up as a piece (its splits). */
  idOfOwnBytes(from: number, to: number): number {
    return this.idOfBytes(this.bytes, from, to);
  }

  /** The id of the piece whose text is text[from, to), or -1. No string is made. */
  idOfText(text: string, from: number, to: number): number {
    if (this.scratch.length < (to - from) * 3) this.scratch = new Uint8Array((to - from) * 3);
    const n = writeUtf8(text, from, to, this.scratch, 0);
    return this.idOfBytes(this.scratch, 0, n);
  }

  /** Adds `id` unless its piece is there already; true when added. */
  private insert(id: number): boolean {
    const { slots, mask, bytes, offsets } = this;
    const from = offsets[id];
    const to = offsets[id + 1];
    for (let k = hashBytes(bytes, from, to) & mask; ; k = (k + 1) & mask) {
      const other = slots[k];
      if (other === EMPTY) {
        slots[k] = id;
        return true;
      }
      const start = offsets[other];
      if (offsets[other + 1] - start !== to - from) continue;
      let same = true;
      for (let i = 0; i < to - from; i++) {
        if (bytes[start + i] !== bytes[from + i]) {
          same = false;
          break;
        }
      }
      if (same) return false;
    }
  }
}

/** FNV-1a over bytes, then a final mix so that the low bits (the slot) depend on every byte. */
function hashBytes(bytes: Uint8Array, from: number, to: number): number {
  let h = 0x811c9dc5;
  for (let i = from; i < to; i++) h = Math.imul(h ^ bytes[i], 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  return (h ^ (h >>> 13)) >>> 0;
}

/**
 * Whether bytes[from, to) is well-formed UTF-8 (what a fatal TextDecoder accepts: no overlong
 * forms, no surrogates, nothing past U+10FFFF, no truncated sequence). By hand: a vocabulary
 * is 32,000 short pieces, and a TextDecoder call each cost more than the check.
 */
export function isValidUtf8(bytes: Uint8Array, from: number, to: number): boolean {
  for (let i = from; i < to; ) {
    const lead = bytes[i];
    if (lead < 0x80) {
      i++;
      continue;
    }
    let more: number;
    let low = 0x80;
    let high = 0xbf; // the allowed range of the second byte
    if (lead >= 0xc2 && lead <= 0xdf) more = 1;
    else if (lead >= 0xe0 && lead <= 0xef) {
      more = 2;
      if (lead === 0xe0) low = 0xa0; // overlong below U+0800
      if (lead === 0xed) high = 0x9f; // U+D800..DFFF: surrogates
    } else if (lead >= 0xf0 && lead <= 0xf4) {
      more = 3;
      if (lead === 0xf0) low = 0x90; // overlong below U+10000
      if (lead === 0xf4) high = 0x8f; // past U+10FFFF
    } else return false;
    if (i + more >= to) return false;
    if (bytes[i + 1] < low || bytes[i + 1] > high) return false;
    for (let k = 2; k <= more; k++) if ((bytes[i + k] & 0xc0) !== 0x80) return false;
    i += more + 1;
  }
  return true;
}

function describe(value: unknown): string {
  if (value === undefined || value === null) return String(value);
  return typeof value === "object" ? (value.constructor?.name ?? "object") : typeof value;
}
