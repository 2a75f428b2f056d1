import { readFileSync } from "node:fs";

/**
 * A test-only GGUF metadata reader, so these tests need not wait for @zero-llm/tensor's reader.
 * It reads the header and the key/value section (GGUF v2/v3, little-endian) and stops before the
 * tensor infos:
 *
 *   | magic "GGUF" | version: u32 | n_tensors: u64 | n_kv: u64 |
 *   n_kv × | key: string | type: u32 | value |        string = | len: u64 | utf8 bytes |
 *   array value = | element type: u32 | count: u64 | elements |
 *
 * Values come out in the shape `fromGgufMetadata` takes: strings, string[], typed arrays for
 * numeric arrays, number for 32-bit and smaller scalars, bigint for 64-bit integers.
 *
 * Salvage mode exists because the ggml-vocab fixtures in ../shared were once passed through a
 * UTF-8 text filter: every byte that was not part of valid UTF-8 became EF BF BD (U+FFFD). Text
 * survived; binary numbers with a byte >= 0x80 did not. With `salvage`, a scalar whose bytes
 * were replaced is reported in `damaged` and skipped, and an array whose count was replaced is
 * read up to the next key. Arrays of floats (SentencePiece scores) cannot be recovered and are
 * reported as damaged.
 */
export type GgufValue = string | number | bigint | boolean | string[] | Float32Array | Float64Array | Int32Array | Uint32Array | Uint8Array | Int8Array | Uint16Array | Int16Array | BigInt64Array | BigUint64Array | boolean[];

export interface GgufMetadata {
  version: number;
  metadata: Map<string, GgufValue>;
  /** Keys whose values were lost to the U+FFFD damage (salvage mode only). */
  damaged: string[];
}

const SIZES: Record<number, number> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };
const REPLACEMENT = [0xef, 0xbf, 0xbd];

export function readGgufFile(file: string, options: { salvage?: boolean } = {}): GgufMetadata {
  return readGgufMetadata(new Uint8Array(readFileSync(file)), options);
}

export function readGgufMetadata(bytes: Uint8Array, options: { salvage?: boolean } = {}): GgufMetadata {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const text = new TextDecoder("utf-8");
  const salvage = options.salvage === true;
  let at = 0;
  const metadata = new Map<string, GgufValue>();
  const need = (n: number, what: string): void => {
    if (at + n > bytes.length) throw new Error(`gguf: expected ${n} bytes of ${what} at ${at}, found ${bytes.length - at}`);
  };
  const damagedAt = (n: number): boolean => {
    for (let k = at; k < Math.min(at + n, bytes.length - 2); k++) if (bytes[k] === 0xef && bytes[k + 1] === 0xbf && bytes[k + 2] === 0xbd) return true;
    return false;
  };
  const u32 = (): number => (need(4, "u32"), (at += 4), view.getUint32(at - 4, true));
  const u64 = (): bigint => (need(8, "u64"), (at += 8), view.getBigUint64(at - 8, true));
  const string = (): string => {
    if (salvage && damagedAt(8)) return damagedLengthString();
    const n = Number(u64());
    need(n, "string");
    at += n;
    return text.decode(bytes.subarray(at - n, at));
  };
  /**
   * A string whose u64 length had a byte >= 0x80 (lengths 128..255). The text itself is intact
   * and holds no NUL byte, so it runs up to the next length field, `LL 00 00 00 00 00 00 00`
   * (or `EF BF BD 00 ...` when that length was damaged too).
   */
  const damagedLengthString = (): string => {
    const start = nextReplacementEnd(bytes, at, 8);
    let z = start;
    while (z + 7 <= bytes.length && !(bytes[z] === 0 && bytes[z + 1] === 0 && bytes[z + 2] === 0 && bytes[z + 3] === 0 && bytes[z + 4] === 0 && bytes[z + 5] === 0 && bytes[z + 6] === 0)) z++;
    const end = bytes[z - 3] === 0xef && bytes[z - 2] === 0xbf && bytes[z - 1] === 0xbd ? z - 3 : z - 1;
    at = end;
    return text.decode(bytes.subarray(start, end));
  };
  /**
   * Does a key start at p? A small u64 length, then a dotted lower-case name under "general.",
   * "tokenizer." or the architecture's prefix, then a type <= 12.
   */
  const keyStartsAt = (p: number): boolean => {
    if (p + 12 > bytes.length) return false;
    const n = view.getUint32(p, true);
    if (n < 4 || n > 200 || view.getUint32(p + 4, true) !== 0 || p + 12 + n > bytes.length) return false;
    for (let k = p + 8; k < p + 8 + n; k++) if (bytes[k]! < 0x21 || bytes[k]! > 0x7e) return false;
    const key = String.fromCharCode(...bytes.subarray(p + 8, p + 8 + n));
    const arch = metadata.get("general.architecture");
    const prefixes = ["general.", "tokenizer.", ...(typeof arch === "string" ? [arch + "."] : [])];
    return /^[a-z0-9_]+(\.[a-z0-9_]+)+$/.test(key) && prefixes.some((x) => key.startsWith(x)) && view.getUint32(p + 8 + n, true) <= 12;
  };
  const nextKey = (): number => {
    let p = at;
    while (p < bytes.length && !keyStartsAt(p)) p++;
    return p;
  };

  need(4, "magic");
  const magic = String.fromCharCode(...bytes.subarray(0, 4));
  if (magic !== "GGUF") throw new Error(`gguf: expected magic "GGUF", found ${JSON.stringify(magic)}`);
  at = 4;
  const version = u32();
  if (version < 2 || version > 3) throw new Error(`gguf: expected version 2 or 3, found ${version}`);
  u64(); // n_tensors
  const nKv = Number(u64());
  const damaged: string[] = [];

  const scalar = (type: number): number | bigint | boolean => {
    const size = SIZES[type];
    if (size === undefined) throw new Error(`gguf: expected a value type 0..12, found ${type} at ${at - 4}`);
    need(size, "scalar");
    const p = at;
    at += size;
    switch (type) {
      case 0: return view.getUint8(p);
      case 1: return view.getInt8(p);
      case 2: return view.getUint16(p, true);
      case 3: return view.getInt16(p, true);
      case 4: return view.getUint32(p, true);
      case 5: return view.getInt32(p, true);
      case 6: return view.getFloat32(p, true);
      case 7: return view.getUint8(p) !== 0;
      case 10: return view.getBigUint64(p, true);
      case 11: return view.getBigInt64(p, true);
      default: return view.getFloat64(p, true);
    }
  };

  for (let k = 0; k < nKv && at < bytes.length; k++) {
    const key = string();
    const type = u32();
    if (type === 8) {
      metadata.set(key, string());
    } else if (type === 9) {
      const elementType = u32();
      const countDamaged = salvage && damagedAt(8);
      let count = countDamaged ? -1 : Number(u64());
      if (countDamaged) at = nextReplacementEnd(bytes, at, 8);
      if (elementType === 8) {
        const items: string[] = [];
        if (count >= 0) for (let i = 0; i < count; i++) items.push(string());
        else while (at < bytes.length && !keyStartsAt(at)) items.push(string());
        metadata.set(key, items);
      } else {
        const size = SIZES[elementType];
        if (size === undefined) throw new Error(`gguf: ${key}: expected an element type 0..12, found ${elementType}`);
        const end = count >= 0 ? at + count * size : nextKey();
        if (count < 0) count = (end - at) / size;
        if (salvage && (!Number.isInteger(count) || damagedAt(end - at))) {
          damaged.push(key);
          at = nextKey();
          continue;
        }
        need(count * size, `${key} elements`);
        const slice = bytes.slice(at, at + count * size).buffer;
        at += count * size;
        metadata.set(key, typedArray(elementType, slice));
      }
    } else {
      const size = SIZES[type] ?? 0;
      if (salvage && damagedAt(size)) {
        damaged.push(key);
        at = nextKey();
        continue;
      }
      metadata.set(key, scalar(type));
    }
  }
  return { version, metadata, damaged };
}

/** Skips an 8-byte field in which some bytes became EF BF BD: each replacement stands for one byte. */
function nextReplacementEnd(bytes: Uint8Array, at: number, size: number): number {
  let p = at;
  for (let consumed = 0; consumed < size; consumed++) {
    p += bytes[p] === REPLACEMENT[0] && bytes[p + 1] === REPLACEMENT[1] && bytes[p + 2] === REPLACEMENT[2] ? 3 : 1;
  }
  return p;
}

function typedArray(type: number, buffer: ArrayBuffer): GgufValue {
  switch (type) {
    case 0: return new Uint8Array(buffer);
    case 1: return new Int8Array(buffer);
    case 2: return new Uint16Array(buffer);
    case 3: return new Int16Array(buffer);
    case 4: return new Uint32Array(buffer);
    case 5: return new Int32Array(buffer);
    case 6: return new Float32Array(buffer);
    case 7: return Array.from(new Uint8Array(buffer), (b) => b !== 0);
    case 10: return new BigUint64Array(buffer);
    case 11: return new BigInt64Array(buffer);
    default: return new Float64Array(buffer);
  }
}
