import { GgufError } from "./errors";
import { joinParts, type FileParts } from "./file-parts";
import { ggmlTensorBytes, requireGgmlType } from "./ggml-types";
import { alignUp, GGUF_DEFAULT_ALIGNMENT, GGUF_MAGIC, GGUF_MAX_DIMS } from "./gguf-read";
import { ggufStringArrayOf } from "./gguf-strings";
import { GGUF_VALUE_TYPE_ID, type GgufArray, type GgufValue } from "./gguf-values";

/**
 * GGUF v3 writer, laid out the way ggml's own writer does it (gguf_write_to_buf) so that
 * llama.cpp accepts the result: header, kvs, tensor infos, zero padding to the alignment, then
 * each tensor's bytes followed by zero padding to the alignment (the last one included). Tensor
 * offsets are assigned in input order, each the running sum of the padded sizes before it.
 */

export interface GgufTensorInput {
  /** At most 63 UTF-8 bytes (ggml's GGML_MAX_NAME is 64 including the terminator). */
  readonly name: string;
  /** ggml type id (GgmlType.Q8_0) or name ("Q8_0"). */
  readonly type: number | string;
  /** ggml order (ne[0] first). Give exactly one of `dims` and `shape`. */
  readonly dims?: readonly number[];
  /** Row-major order (PyTorch): stored reversed as dims. */
  readonly shape?: readonly number[];
  /** The bytes exactly as stored (little-endian elements or ggml blocks). */
  readonly data: ArrayBufferView;
}

export interface GgufWriteInput {
  /** Written in iteration order. */
  readonly metadata?: ReadonlyMap<string, GgufValue> | Iterable<readonly [string, GgufValue]>;
  readonly tensors?: readonly GgufTensorInput[];
  /**
   * Data alignment. When it is not the default 32, `general.alignment` (u32) is appended to the
   * metadata unless the metadata already holds it (then the two must agree).
   */
  readonly alignment?: number;
}

/** The file as a list of byte ranges to write in order (header first), plus its total size. */
export type GgufParts = FileParts;

const encoder = new TextEncoder();

/** Grows as the header is written; every field little-endian. */
class ByteWriter {
  private buffer = new Uint8Array(1024);
  private view = new DataView(this.buffer.buffer);
  length = 0;

  private reserve(n: number): void {
    if (this.length + n <= this.buffer.length) return;
    let capacity = this.buffer.length * 2;
    while (capacity < this.length + n) capacity *= 2;
    const grown = new Uint8Array(capacity);
    grown.set(this.buffer.subarray(0, this.length));
    this.buffer = grown;
    this.view = new DataView(grown.buffer);
  }

  u8(v: number): void { this.reserve(1); this.view.setUint8(this.length, v); this.length += 1; }
  i8(v: number): void { this.reserve(1); this.view.setInt8(this.length, v); this.length += 1; }
  u16(v: number): void { this.reserve(2); this.view.setUint16(this.length, v, true); this.length += 2; }
  i16(v: number): void { this.reserve(2); this.view.setInt16(this.length, v, true); this.length += 2; }
  u32(v: number): void { this.reserve(4); this.view.setUint32(this.length, v, true); this.length += 4; }
  i32(v: number): void { this.reserve(4); this.view.setInt32(this.length, v, true); this.length += 4; }
  f32(v: number): void { this.reserve(4); this.view.setFloat32(this.length, v, true); this.length += 4; }
  f64(v: number): void { this.reserve(8); this.view.setFloat64(this.length, v, true); this.length += 8; }
  u64(v: bigint): void { this.reserve(8); this.view.setBigUint64(this.length, v, true); this.length += 8; }
  i64(v: bigint): void { this.reserve(8); this.view.setBigInt64(this.length, v, true); this.length += 8; }

  bytes(b: Uint8Array): void {
    this.reserve(b.length);
    this.buffer.set(b, this.length);
    this.length += b.length;
  }

  /** | length: u64 | UTF-8 bytes |, encoded straight into the buffer (a UTF-16 unit is at most 3 UTF-8 bytes). */
  string(s: string): void {
    this.reserve(8 + s.length * 3);
    const { written } = encoder.encodeInto(s, this.buffer.subarray(this.length + 8));
    this.view.setUint32(this.length, written, true); // u64 little-endian: low word, then a zero high word
    this.view.setUint32(this.length + 4, 0, true);
    this.length += 8 + written;
  }

  zeros(n: number): void {
    this.reserve(n);
    this.buffer.fill(0, this.length, this.length + n);
    this.length += n;
  }

  finish(): Uint8Array {
    return this.buffer.slice(0, this.length);
  }
}

const INTEGER_RANGE: Record<string, readonly [number, number]> = {
  u8: [0, 0xff], i8: [-0x80, 0x7f], u16: [0, 0xffff], i16: [-0x8000, 0x7fff], u32: [0, 0xffffffff], i32: [-0x80000000, 0x7fffffff],
};

function badValue(key: string, expected: string, found: unknown): GgufError {
  const shown = typeof found === "object" && found !== null ? found.constructor.name : `${typeof found} ${String(found)}`;
  return new GgufError("GGUF_BAD_INPUT", `expected ${expected} for "${key}", found ${shown}`);
}

function writeValue(w: ByteWriter, key: string, entry: GgufValue): void {
  // A string array read from a file and never decoded is written from its bytes (writeArray):
  // reading `value` here would decode it.
  if (entry.type === "array" && ggufStringArrayOf(entry)?.materialized === false) {
    writeArray(w, key, entry);
    return;
  }
  // Values come from callers' code, maybe untyped JS: check each against its tag before encoding.
  const value: unknown = entry.value;
  switch (entry.type) {
    case "u8": case "i8": case "u16": case "i16": case "u32": case "i32": {
      const [lo, hi] = INTEGER_RANGE[entry.type];
      if (typeof value !== "number" || !Number.isInteger(value) || value < lo || value > hi) throw badValue(key, `an integer in [${lo}, ${hi}] (${entry.type})`, value);
      w[entry.type](value);
      return;
    }
    case "f32": case "f64":
      if (typeof value !== "number") throw badValue(key, `a number (${entry.type})`, value);
      w[entry.type](value);
      return;
    case "u64":
      if (typeof value !== "bigint" || value < 0n || value > 0xffffffffffffffffn) throw badValue(key, "a bigint in [0, 2^64) (u64)", value);
      w.u64(value);
      return;
    case "i64":
      if (typeof value !== "bigint" || value < -(2n ** 63n) || value >= 2n ** 63n) throw badValue(key, "a bigint in [-2^63, 2^63) (i64)", value);
      w.i64(value);
      return;
    case "bool":
      if (typeof value !== "boolean") throw badValue(key, "a boolean", value);
      w.u8(value ? 1 : 0);
      return;
    case "string":
      if (typeof value !== "string") throw badValue(key, "a string", value);
      w.string(value);
      return;
    case "array":
      if (!Array.isArray(value) && !ArrayBuffer.isView(value)) throw badValue(key, "an array or typed array", value);
      writeArray(w, key, entry);
      return;
    default:
      throw badValue(key, "a value type u8..f64, bool, string or array", (entry as { type: unknown }).type);
  }
}

// Typed-array item types: the constructor the value must be, and its element size.
const TYPED_ITEMS = {
  u8: [Uint8Array, 1], i8: [Int8Array, 1], u16: [Uint16Array, 2], i16: [Int16Array, 2], u32: [Uint32Array, 4], i32: [Int32Array, 4],
  f32: [Float32Array, 4], f64: [Float64Array, 8], u64: [BigUint64Array, 8], i64: [BigInt64Array, 8],
} as const;

function writeArray(w: ByteWriter, key: string, entry: GgufArray): void {
  const strings = ggufStringArrayOf(entry);
  w.u32(GGUF_VALUE_TYPE_ID[entry.itemType]);
  if (strings !== undefined && !strings.materialized) {
    // a string array read from a file and never decoded: its bytes as they were, undecoded
    // (once decoded, the string[] is what a caller may have edited, and is written below)
    w.u64(BigInt(strings.length));
    for (let i = 0; i < strings.length; i++) {
      const item = strings.bytesOf(i);
      w.u64(BigInt(item.length));
      w.bytes(item);
    }
    return;
  }
  w.u64(BigInt(entry.value.length));
  switch (entry.itemType) {
    case "bool":
      for (const b of entry.value) {
        if (typeof b !== "boolean") throw badValue(key, "boolean array items", b);
        w.u8(b ? 1 : 0);
      }
      return;
    case "string":
      for (const s of entry.value) {
        if (typeof s !== "string") throw badValue(key, "string array items", s);
        w.string(s);
      }
      return;
    case "array":
      for (const inner of entry.value) {
        if (inner?.type !== "array") throw badValue(key, "nested array items tagged { type: \"array\" }", inner);
        writeArray(w, key, inner);
      }
      return;
    default: {
      const [constructor, size] = TYPED_ITEMS[entry.itemType];
      if (!(entry.value instanceof constructor)) throw badValue(key, `a ${constructor.name} for ${entry.itemType} items`, entry.value);
      const bytes = new Uint8Array(entry.value.buffer, entry.value.byteOffset, entry.value.byteLength);
      if (new Uint8Array(new Uint16Array([1]).buffer)[0] === 1) {
        w.bytes(bytes);
      } else {
        for (let i = 0; i < bytes.length; i += size) w.bytes(bytes.slice(i, i + size).reverse());
      }
    }
  }
}

/** Lay the file out as chunks (header, then tensor data and padding) without concatenating them. */
export function ggufParts(input: GgufWriteInput): GgufParts {
  const entries: [string, GgufValue][] = [...(input.metadata ?? [])].map(([k, v]) => [k, v]);
  const keys = new Set<string>();
  for (const [key] of entries) {
    if (keys.has(key)) throw new GgufError("GGUF_BAD_INPUT", `expected unique metadata keys, found "${key}" twice`);
    keys.add(key);
  }

  const declared = entries.find(([key]) => key === "general.alignment")?.[1];
  let alignment = input.alignment ?? GGUF_DEFAULT_ALIGNMENT;
  if (declared !== undefined) {
    if (declared.type !== "u32") throw badValue("general.alignment", "a u32 value", declared.type);
    if (input.alignment !== undefined && input.alignment !== declared.value) {
      throw new GgufError("GGUF_BAD_INPUT", `expected the alignment option and general.alignment to agree, found ${input.alignment} and ${declared.value}`);
    }
    alignment = declared.value;
  } else if (alignment !== GGUF_DEFAULT_ALIGNMENT) {
    entries.push(["general.alignment", { type: "u32", value: alignment }]);
  }
  if (!Number.isInteger(alignment) || alignment <= 0 || alignment > 0xffffffff || (alignment & (alignment - 1)) !== 0) {
    throw new GgufError("GGUF_BAD_ALIGNMENT", `expected the alignment to be a power of two, found ${alignment}`);
  }

  const tensors = (input.tensors ?? []).map((t) => prepareTensor(t));
  const names = new Set<string>();
  for (const t of tensors) {
    if (names.has(t.name)) throw new GgufError("GGUF_BAD_INPUT", `expected unique tensor names, found "${t.name}" twice`);
    names.add(t.name);
  }

  const w = new ByteWriter();
  w.u32(GGUF_MAGIC);
  w.u32(3);
  w.u64(BigInt(tensors.length));
  w.u64(BigInt(entries.length));
  for (const [key, value] of entries) {
    w.string(key);
    if (value === null || typeof value !== "object" || !(value.type in GGUF_VALUE_TYPE_ID)) {
      throw badValue(key, "a tagged value such as ggufValue.u32(1)", value);
    }
    w.u32(GGUF_VALUE_TYPE_ID[value.type]);
    writeValue(w, key, value);
  }

  let offset = 0;
  for (const t of tensors) {
    w.string(t.name);
    w.u32(t.dims.length);
    for (const d of t.dims) w.u64(BigInt(d));
    w.u32(t.typeId);
    w.u64(BigInt(offset));
    offset += alignUp(t.bytes.length, alignment);
  }
  w.zeros(alignUp(w.length, alignment) - w.length);

  const chunks: Uint8Array[] = [w.finish()];
  let byteLength = chunks[0].length;
  const padding = new Uint8Array(alignment);
  for (const t of tensors) {
    chunks.push(t.bytes);
    const pad = alignUp(t.bytes.length, alignment) - t.bytes.length;
    if (pad > 0) chunks.push(padding.subarray(0, pad));
    byteLength += t.bytes.length + pad;
  }
  return { chunks, byteLength };
}

/** The whole file as one buffer. For large models prefer writeGgufFile, which streams the chunks. */
export function serializeGguf(input: GgufWriteInput): Uint8Array {
  return joinParts(ggufParts(input));
}

function prepareTensor(t: GgufTensorInput): { name: string; dims: number[]; typeId: number; bytes: Uint8Array } {
  if (typeof t.name !== "string" || encoder.encode(t.name).length >= 64) {
    throw new GgufError("GGUF_BAD_INPUT", `expected a tensor name of at most 63 UTF-8 bytes, found ${JSON.stringify(t.name)}`);
  }
  if ((t.dims === undefined) === (t.shape === undefined)) {
    throw new GgufError("GGUF_BAD_INPUT", `expected exactly one of dims and shape for "${t.name}", found ${t.dims === undefined ? "neither" : "both"}`);
  }
  const dims = t.dims !== undefined ? [...t.dims] : [...t.shape!].reverse();
  if (dims.length < 1 || dims.length > GGUF_MAX_DIMS || dims.some((d) => !Number.isSafeInteger(d) || d < 0)) {
    throw new GgufError("GGUF_BAD_INPUT", `expected 1 to ${GGUF_MAX_DIMS} non-negative integer dims for "${t.name}", found [${dims.join(",")}]`);
  }
  const type = requireGgmlType(t.type);
  const expected = ggmlTensorBytes(type, dims);
  if (!ArrayBuffer.isView(t.data)) throw new GgufError("GGUF_BAD_INPUT", `expected an ArrayBufferView as data of "${t.name}", found ${typeof t.data}`);
  const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  if (bytes.length !== expected) {
    throw new GgufError("GGUF_BAD_INPUT", `expected ${expected} bytes of ${type.name} data for "${t.name}" with dims [${dims.join(",")}], found ${bytes.length}`);
  }
  return { name: t.name, dims, typeId: type.id, bytes };
}
