import { GgufError } from "./errors";

// ignoreBOM: a string that starts with U+FEFF keeps it (Llama's vocabulary has a token that is
// just U+FEFF; the default decoder would turn it into "").
const utf8 = new TextDecoder("utf-8", { ignoreBOM: true });

/**
 * A little-endian cursor over the bytes of a file, checking every read before it happens.
 *
 * `bytes` may be a prefix of the file; `fileLength` is the length of the whole file. Counts read
 * from a header are checked against `fileLength - offset` before anything is allocated, so a
 * corrupt length of 2^60 is a GGUF_TRUNCATED error, not an allocation attempt.
 */
export class ByteReader {
  offset = 0;
  private readonly view: DataView;

  constructor(
    readonly bytes: Uint8Array,
    readonly fileLength: number = bytes.length,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** Bytes left in the file after the cursor. */
  get remaining(): number {
    return this.fileLength - this.offset;
  }

  /** Throws unless `n` more bytes can be read; `what` names the field for the message. */
  require(n: number, what: string): void {
    if (n > this.fileLength - this.offset) {
      throw new GgufError(
        "GGUF_TRUNCATED",
        `expected ${n} bytes for ${what} at offset ${this.offset}, found ${this.fileLength - this.offset} before the end of the file`,
      );
    }
    if (this.offset + n > this.bytes.length) {
      // Inside the file but past the prefix held in memory: the caller reads more and parses again.
      throw new GgufError("GGUF_NEED_MORE_BYTES", `expected ${n} bytes for ${what} at offset ${this.offset}, found the end of the ${this.bytes.length}-byte prefix`, this.offset + n);
    }
  }

  u8(what: string): number {
    this.require(1, what);
    return this.view.getUint8(this.offset++);
  }

  i8(what: string): number {
    this.require(1, what);
    return this.view.getInt8(this.offset++);
  }

  u16(what: string): number {
    this.require(2, what);
    const value = this.view.getUint16(this.offset, true);
    this.offset += 2;
    return value;
  }

  i16(what: string): number {
    this.require(2, what);
    const value = this.view.getInt16(this.offset, true);
    this.offset += 2;
    return value;
  }

  u32(what: string): number {
    this.require(4, what);
    const value = this.view.getUint32(this.offset, true);
    this.offset += 4;
    return value;
  }

  i32(what: string): number {
    this.require(4, what);
    const value = this.view.getInt32(this.offset, true);
    this.offset += 4;
    return value;
  }

  f32(what: string): number {
    this.require(4, what);
    const value = this.view.getFloat32(this.offset, true);
    this.offset += 4;
    return value;
  }

  f64(what: string): number {
    this.require(8, what);
    const value = this.view.getFloat64(this.offset, true);
    this.offset += 8;
    return value;
  }

  u64(what: string): bigint {
    this.require(8, what);
    const value = this.view.getBigUint64(this.offset, true);
    this.offset += 8;
    return value;
  }

  i64(what: string): bigint {
    this.require(8, what);
    const value = this.view.getBigInt64(this.offset, true);
    this.offset += 8;
    return value;
  }

  /**
   * A u64 byte length or item count. Every item takes at least one byte, so a value beyond the
   * bytes left in the file is corruption, reported as truncation before anything is allocated.
   */
  u64Length(what: string): number {
    const value = this.u64(what);
    if (value > BigInt(this.fileLength - this.offset)) {
      throw new GgufError("GGUF_TRUNCATED", `expected ${what} of at most the ${this.fileLength - this.offset} bytes left, found ${value} at offset ${this.offset - 8}`);
    }
    return Number(value);
  }

  /** A u64 used as a size or offset: must fit a JS number. */
  u64Number(what: string): number {
    const value = this.u64(what);
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new GgufError("GGUF_VALUE_TOO_LARGE", `expected ${what} below 2^53, found ${value} at offset ${this.offset - 8}`);
    }
    return Number(value);
  }

  /** `n` bytes as a view into the underlying buffer (no copy). */
  slice(n: number, what: string): Uint8Array {
    this.require(n, what);
    const view = this.bytes.subarray(this.offset, this.offset + n);
    this.offset += n;
    return view;
  }

  /**
   * A GGUF string: u64 byte length, then that many UTF-8 bytes (no terminator). `what` is only
   * formatted into a message on error, so callers in hot loops pass a constant.
   */
  string(what: string): string {
    const n = this.stringLength(what);
    const start = this.offset;
    this.offset += n;
    return decodeUtf8(this.bytes.subarray(start, start + n));
  }

  /**
   * A GGUF string's u64 byte length, checked against the bytes left in the file and in the
   * prefix; the cursor is left on the string's first byte. Read as two u32 halves, not a
   * bigint: a vocabulary's 32,000 lengths would otherwise be 32,000 heap objects of garbage.
   */
  stringLength(what: string): number {
    this.require(8, what);
    const low = this.view.getUint32(this.offset, true);
    const high = this.view.getUint32(this.offset + 4, true);
    const left = this.fileLength - this.offset - 8;
    if (high !== 0 || low > left) {
      throw new GgufError("GGUF_TRUNCATED", `expected the length of ${what} to be at most the ${left} bytes left, found ${BigInt(high) * 2n ** 32n + BigInt(low)} at offset ${this.offset}`);
    }
    this.offset += 8;
    this.require(low, what);
    return low;
  }
}

/**
 * UTF-8 -> string. Tokens are short and mostly ASCII, so an ASCII run skips the TextDecoder call
 * (which costs more than the decoding itself for a 4-byte token). Invalid UTF-8 becomes U+FFFD.
 */
export function decodeUtf8(bytes: Uint8Array): string {
  if (bytes.length <= 32) {
    let ascii = true;
    for (let i = 0; i < bytes.length; i++) {
      if (bytes[i] >= 0x80) {
        ascii = false;
        break;
      }
    }
    if (ascii) return String.fromCharCode.apply(null, bytes as unknown as number[]);
  }
  return utf8.decode(bytes);
}
