import { ByteReader } from "./byte-reader";
import { copyLittleEndian, ggmlToFloat32 } from "./ggml-dequant";
import { GgufError } from "./errors";
import { GgufStringArray, ggufStringArrayOf, lazyStringArray } from "./gguf-strings";
import { ggmlTensorBytes, ggmlTypeInfo, type GgmlTypeInfo } from "./ggml-types";
import { GGUF_FIXED_SIZE, GGUF_VALUE_TYPES, type GgufArray, type GgufPlainValue, type GgufValue, type GgufValueType } from "./gguf-values";

/**
 * GGUF, the container of ggml / llama.cpp. Little-endian throughout; layout of versions 2 and 3
 * (version 1 used u32 counts and is rejected):
 *
 *   | magic "GGUF": 4 B | version: u32 | tensor_count: u64 | kv_count: u64 |
 *   | kv_count × (key: gguf_string | value_type: u32 | value) |            see gguf-values.ts
 *   | tensor_count × (name: gguf_string | n_dims: u32 | dims: n_dims × u64 | type: u32 | offset: u64) |
 *   | zero padding up to a multiple of `general.alignment` (default 32) |
 *   | data section: each tensor at `offset` (relative to the section start, a multiple of the alignment) |
 *
 * dims are ggml's ne[]: dims[0] is the fastest-varying (innermost) dimension, so a PyTorch
 * weight of shape [out, in] is stored with dims [in, out]. `shape` below is the reverse (row-major).
 */

export const GGUF_MAGIC = 0x46554747; // "GGUF" read as a little-endian u32
export const GGUF_DEFAULT_ALIGNMENT = 32;
/** GGML_MAX_DIMS: ggml tensors have at most 4 dimensions. */
export const GGUF_MAX_DIMS = 4;
// A nesting depth no real file approaches; it keeps a corrupt file from exhausting the stack.
const MAX_ARRAY_NESTING = 64;

export interface GgufTensorInfo {
  readonly name: string;
  /** ggml order: dims[0] = ne[0], the fastest-varying dimension. */
  readonly dims: readonly number[];
  /** Row-major order (PyTorch, safetensors): dims reversed. */
  readonly shape: readonly number[];
  readonly type: GgmlTypeInfo;
  /** Offset of the tensor's bytes from the start of the data section. */
  readonly offset: number;
  /** Offset of the tensor's bytes from the start of the file. */
  readonly fileOffset: number;
  readonly byteLength: number;
  readonly elementCount: number;
}

export interface GgufHeader {
  readonly version: number;
  readonly alignment: number;
  /** Key -> typed value, in file order. */
  readonly metadata: ReadonlyMap<string, GgufValue>;
  /** Tensor infos in file order. */
  readonly tensors: readonly GgufTensorInfo[];
  /** Absolute offset of the data section. */
  readonly dataOffset: number;
}

/** What parseGgufHeader keeps of the metadata. */
export interface GgufHeaderOptions {
  /**
   * Whether to keep the value of `key` (default: every key). A key it refuses is still read and
   * checked as every other (type, lengths against the file, duplicates) but not stored: nothing
   * is copied or decoded for it. A caller that builds only a model passes
   * `(key) => !key.startsWith("tokenizer.")`: a vocabulary's arrays are most of a header (0.7 MB
   * of copies for 32,000 tokens) and a model never reads them.
   */
  keepKey?: (key: string) => boolean;
}

/**
 * Parse everything up to the data section. `bytes` may be a prefix of a file of `fileLength`
 * bytes (lazy readers: Node's openGgufFile, or HTTP range requests in a browser); tensor ranges
 * are checked against `fileLength`. When the header runs past the prefix, a GgufError with code
 * GGUF_NEED_MORE_BYTES carries in `needed` the prefix length to read before calling again.
 */
export function parseGgufHeader(bytes: Uint8Array, fileLength = bytes.length, options: GgufHeaderOptions = {}): GgufHeader {
  const reader = new ByteReader(bytes, fileLength);

  const magic = reader.u32("magic");
  if (magic !== GGUF_MAGIC) {
    const found = Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, "0")).join(" ");
    throw new GgufError("GGUF_BAD_MAGIC", `expected magic "GGUF" (47 47 55 46), found ${found}`);
  }
  const version = reader.u32("version");
  if (version === 0x02000000 || version === 0x03000000) {
    throw new GgufError("GGUF_BIG_ENDIAN", `expected a little-endian GGUF file, found a big-endian one (version ${version >>> 24} byte-swapped)`);
  }
  if (version !== 2 && version !== 3) {
    throw new GgufError(
      "GGUF_UNSUPPORTED_VERSION",
      version === 1
        ? "expected GGUF version 2 or 3, found version 1 (32-bit counts; convert it with a newer llama.cpp)"
        : `expected GGUF version 2 or 3, found ${version}`,
    );
  }

  const tensorCount = reader.u64Length("tensor_count");
  const kvCount = reader.u64Length("kv_count");
  // Smallest possible entries: a kv is 8 (key length) + 4 (type) + 1 (u8 value) bytes,
  // a tensor info 8 (name length) + 4 (n_dims) + 4 (type) + 8 (offset) bytes.
  reader.require(Math.min(kvCount * 13 + tensorCount * 24, Number.MAX_SAFE_INTEGER), `${kvCount} key-value pairs and ${tensorCount} tensor infos`);

  const metadata = new Map<string, GgufValue>();
  const keys = new Set<string>();
  for (let i = 0; i < kvCount; i++) {
    const keyOffset = reader.offset;
    const key = reader.string(`key of kv ${i}`);
    if (keys.has(key)) throw new GgufError("GGUF_DUPLICATE_KEY", `expected unique metadata keys, found "${key}" twice (second at offset ${keyOffset})`);
    keys.add(key);
    const typeId = reader.u32(`value type of "${key}"`);
    const type = valueType(typeId, key, reader.offset - 4);
    if (options.keepKey === undefined || options.keepKey(key)) metadata.set(key, readValue(reader, type, key, 0));
    else if (type === "array") skipArray(reader, key, 0);
    else readValue(reader, type, key, 0); // a scalar: checked, a few bytes
  }

  const alignment = readAlignment(metadata);

  const tensors: GgufTensorInfo[] = [];
  const names = new Set<string>();
  const rawTensors: { name: string; dims: number[]; type: GgmlTypeInfo; offset: number }[] = [];
  for (let i = 0; i < tensorCount; i++) {
    const name = reader.string(`name of tensor ${i}`);
    if (names.has(name)) throw new GgufError("GGUF_DUPLICATE_TENSOR", `expected unique tensor names, found "${name}" twice`);
    names.add(name);
    const nDims = reader.u32(`n_dims of "${name}"`);
    if (nDims > GGUF_MAX_DIMS) throw new GgufError("GGUF_BAD_TENSOR_INFO", `expected at most ${GGUF_MAX_DIMS} dims for "${name}", found ${nDims}`);
    const dims: number[] = [];
    for (let d = 0; d < nDims; d++) dims.push(reader.u64Number(`dim ${d} of "${name}"`));
    const typeId = reader.u32(`type of "${name}"`);
    const type = ggmlTypeInfo(typeId);
    if (type === undefined) throw new GgufError("GGUF_UNKNOWN_GGML_TYPE", `expected a known ggml type id for "${name}", found ${typeId}`);
    const offset = reader.u64Number(`offset of "${name}"`);
    rawTensors.push({ name, dims, type, offset });
  }

  const dataOffset = alignUp(reader.offset, alignment);
  for (const { name, dims, type, offset } of rawTensors) {
    const byteLength = ggmlTensorBytes(type, dims);
    if (offset % alignment !== 0) {
      throw new GgufError("GGUF_BAD_TENSOR_OFFSET", `expected the offset of "${name}" to be a multiple of the alignment ${alignment}, found ${offset}`);
    }
    const fileOffset = dataOffset + offset;
    if (fileOffset + byteLength > fileLength) {
      throw new GgufError(
        "GGUF_TENSOR_OUT_OF_RANGE",
        `expected "${name}" (${byteLength} bytes at file offset ${fileOffset}) to end within the file of ${fileLength} bytes, found it ends at ${fileOffset + byteLength}`,
      );
    }
    const elementCount = dims.reduce((a, b) => a * b, 1);
    tensors.push({ name, dims, shape: [...dims].reverse(), type, offset, fileOffset, byteLength, elementCount });
  }
  checkNoOverlap(tensors);

  return { version, alignment, metadata, tensors, dataOffset };
}

function valueType(id: number, key: string, at: number): GgufValueType {
  const type = GGUF_VALUE_TYPES[id];
  if (type === undefined) throw new GgufError("GGUF_BAD_VALUE_TYPE", `expected a value type 0..12 for ${JSON.stringify(key.slice(0, 80))}, found ${id} at offset ${at}`);
  return type;
}

function readValue(reader: ByteReader, type: GgufValueType, key: string, depth: number): GgufValue {
  switch (type) {
    case "u8": return { type, value: reader.u8(key) };
    case "i8": return { type, value: reader.i8(key) };
    case "u16": return { type, value: reader.u16(key) };
    case "i16": return { type, value: reader.i16(key) };
    case "u32": return { type, value: reader.u32(key) };
    case "i32": return { type, value: reader.i32(key) };
    case "f32": return { type, value: reader.f32(key) };
    case "f64": return { type, value: reader.f64(key) };
    case "u64": return { type, value: reader.u64(key) };
    case "i64": return { type, value: reader.i64(key) };
    case "bool": return { type, value: reader.u8(key) !== 0 };
    case "string": return { type, value: reader.string(key) };
    case "array": return readArray(reader, key, depth);
  }
}

/** An array's item type and count, after its nesting depth is checked. */
function arrayHead(reader: ByteReader, key: string, depth: number): { itemType: GgufValueType; count: number } {
  if (depth >= MAX_ARRAY_NESTING) {
    throw new GgufError("GGUF_BAD_VALUE_TYPE", `expected arrays nested at most ${MAX_ARRAY_NESTING} deep in "${key}", found deeper nesting at offset ${reader.offset}`);
  }
  const itemType = valueType(reader.u32(`item type of "${key}"`), key, reader.offset - 4);
  return { itemType, count: reader.u64Length(`item count of "${key}"`) };
}

/** Moves the cursor past an array with the checks readArray makes, storing nothing. */
function skipArray(reader: ByteReader, key: string, depth: number): void {
  const { itemType, count } = arrayHead(reader, key, depth);
  const fixed = GGUF_FIXED_SIZE[itemType];
  if (fixed !== undefined) reader.slice(count * fixed, `${count} ${itemType} items of "${key}"`);
  else if (itemType === "string") walkStringItems(reader, count, key);
  else {
    reader.require(Math.min(count * 12, Number.MAX_SAFE_INTEGER), `${count} nested arrays of "${key}"`);
    for (let i = 0; i < count; i++) skipArray(reader, key, depth + 1);
  }
}

function readArray(reader: ByteReader, key: string, depth: number): GgufArray {
  const { itemType, count } = arrayHead(reader, key, depth);
  const fixed = GGUF_FIXED_SIZE[itemType];
  if (fixed !== undefined) {
    const bytes = reader.slice(count * fixed, `${count} ${itemType} items of "${key}"`);
    switch (itemType) {
      case "u8": return { type: "array", itemType, value: new Uint8Array(copyLittleEndian(bytes, 1)) };
      case "i8": return { type: "array", itemType, value: new Int8Array(copyLittleEndian(bytes, 1)) };
      case "u16": return { type: "array", itemType, value: new Uint16Array(copyLittleEndian(bytes, 2)) };
      case "i16": return { type: "array", itemType, value: new Int16Array(copyLittleEndian(bytes, 2)) };
      case "u32": return { type: "array", itemType, value: new Uint32Array(copyLittleEndian(bytes, 4)) };
      case "i32": return { type: "array", itemType, value: new Int32Array(copyLittleEndian(bytes, 4)) };
      case "f32": return { type: "array", itemType, value: new Float32Array(copyLittleEndian(bytes, 4)) };
      case "f64": return { type: "array", itemType, value: new Float64Array(copyLittleEndian(bytes, 8)) };
      case "u64": return { type: "array", itemType, value: new BigUint64Array(copyLittleEndian(bytes, 8)) };
      case "i64": return { type: "array", itemType, value: new BigInt64Array(copyLittleEndian(bytes, 8)) };
      case "bool": return { type: "array", itemType, value: Array.from(bytes, (b) => b !== 0) };
    }
  }
  if (itemType === "string") return lazyStringArray(readStringItems(reader, count, key));
  reader.require(Math.min(count * 12, Number.MAX_SAFE_INTEGER), `${count} nested arrays of "${key}"`); // each has a u32 type + u64 count
  const value = new Array<GgufArray>(count);
  for (let i = 0; i < count; i++) value[i] = readArray(reader, key, depth + 1);
  return { type: "array", itemType: "array", value };
}

/**
 * `count` GGUF strings as one UTF-8 buffer and offsets (see GgufStringArray), undecoded: two
 * passes over the items, one to check the lengths and size the buffer, one to copy the bytes
 * (short items byte by byte: tokens are a few bytes, and a subarray per item would be garbage). The copy lets
 * the file's prefix (a lazy reader's header buffer) be collected.
 */
function readStringItems(reader: ByteReader, count: number, key: string): GgufStringArray {
  const what = `a string item of "${key}"`;
  const start = reader.offset;
  const total = walkStringItems(reader, count, key);
  if (total > 0xffffffff) throw new GgufError("GGUF_VALUE_TOO_LARGE", `expected the string items of "${key}" to hold at most 4 GiB, found ${total} bytes`);
  const bytes = new Uint8Array(total);
  const offsets = new Uint32Array(count + 1);
  const source = reader.bytes;
  reader.offset = start;
  let at = 0;
  for (let i = 0; i < count; i++) {
    const n = reader.stringLength(what);
    const from = reader.offset;
    if (n > 64) bytes.set(source.subarray(from, from + n), at);
    else for (let k = 0; k < n; k++) bytes[at + k] = source[from + k];
    reader.offset = from + n;
    at += n;
    offsets[i + 1] = at;
  }
  return new GgufStringArray(bytes, offsets);
}

/**
 * Moves the cursor past `count` GGUF strings, each length checked against the file and the
 * prefix; returns their total byte length.
 */
function walkStringItems(reader: ByteReader, count: number, key: string): number {
  reader.require(Math.min(count * 8, Number.MAX_SAFE_INTEGER), `${count} strings of "${key}"`); // each has a u64 length
  const what = `a string item of "${key}"`;
  let total = 0;
  for (let i = 0; i < count; i++) {
    const n = reader.stringLength(what);
    reader.offset += n;
    total += n;
  }
  return total;
}

function readAlignment(metadata: ReadonlyMap<string, GgufValue>): number {
  const entry = metadata.get("general.alignment");
  if (entry === undefined) return GGUF_DEFAULT_ALIGNMENT;
  if (entry.type !== "u32" || entry.value === 0 || (entry.value & (entry.value - 1)) !== 0) {
    throw new GgufError("GGUF_BAD_ALIGNMENT", `expected general.alignment to be a u32 power of two, found ${entry.type} ${String(entry.value)}`);
  }
  return entry.value;
}

function checkNoOverlap(tensors: readonly GgufTensorInfo[]): void {
  const byOffset = [...tensors].filter((t) => t.byteLength > 0).sort((a, b) => a.offset - b.offset);
  for (let i = 1; i < byOffset.length; i++) {
    const previous = byOffset[i - 1];
    const current = byOffset[i];
    if (current.offset < previous.offset + previous.byteLength) {
      throw new GgufError(
        "GGUF_TENSOR_OVERLAP",
        `expected "${current.name}" to start at or after ${previous.offset + previous.byteLength} where "${previous.name}" ends, found offset ${current.offset}`,
      );
    }
  }
}

export function alignUp(offset: number, alignment: number): number {
  return Math.ceil(offset / alignment) * alignment;
}

/** Reads metadata values untagged: `file.get("tokenizer.ggml.model")` -> "gpt2". */
abstract class GgufMetadataAccess implements GgufHeader {
  abstract readonly version: number;
  abstract readonly alignment: number;
  abstract readonly metadata: ReadonlyMap<string, GgufValue>;
  abstract readonly tensors: readonly GgufTensorInfo[];
  abstract readonly dataOffset: number;

  /** The value of `key` without its type tag, or undefined when absent. */
  get(key: string): GgufPlainValue | undefined {
    return this.metadata.get(key)?.value;
  }

  /**
   * The string array `key` in its compact form (UTF-8 bytes and offsets), without decoding it;
   * undefined when absent or not an array of strings. `get(key)` decodes the same items, once.
   */
  stringArray(key: string): GgufStringArray | undefined {
    return ggufStringArrayOf(this.metadata.get(key));
  }

  private byName: Map<string, GgufTensorInfo> | undefined;

  /** The info of tensor `name`; throws GGUF_TENSOR_NOT_FOUND. */
  tensorInfo(name: string): GgufTensorInfo {
    this.byName ??= new Map(this.tensors.map((t) => [t.name, t]));
    const info = this.byName.get(name);
    if (info === undefined) {
      const some = this.tensors.slice(0, 5).map((t) => t.name).join(", ");
      throw new GgufError("GGUF_TENSOR_NOT_FOUND", `expected a tensor named "${name}", found ${this.tensors.length} tensors (${some}${this.tensors.length > 5 ? ", ..." : ""})`);
    }
    return info;
  }
}

/** A whole GGUF file in memory. Tensor bytes are views into the one buffer, never copies. */
export class GgufFile extends GgufMetadataAccess {
  readonly version: number;
  readonly alignment: number;
  readonly metadata: ReadonlyMap<string, GgufValue>;
  readonly tensors: readonly GgufTensorInfo[];
  readonly dataOffset: number;

  private constructor(
    readonly bytes: Uint8Array,
    header: GgufHeader,
  ) {
    super();
    this.version = header.version;
    this.alignment = header.alignment;
    this.metadata = header.metadata;
    this.tensors = header.tensors;
    this.dataOffset = header.dataOffset;
  }

  /** Parse a GGUF file held in memory (browser fetch, Node readFile); the buffer is wrapped, not copied. */
  static parse(buffer: ArrayBuffer | Uint8Array): GgufFile {
    const bytes = buffer instanceof Uint8Array ? buffer : new Uint8Array(buffer);
    return new GgufFile(bytes, parseGgufHeader(bytes));
  }

  /** The tensor's raw bytes as stored (a view into the file buffer, no copy). */
  tensorBytes(name: string): Uint8Array {
    const info = this.tensorInfo(name);
    return this.bytes.subarray(info.fileOffset, info.fileOffset + info.byteLength);
  }

  /**
   * The tensor's values (F32, F64, F16, BF16, Q8_0, Q4_0) in row-major order: into `out` when
   * given (exactly elementCount long, e.g. from a backend's allocF32), else a new Float32Array.
   */
  tensorToFloat32(name: string, out?: Float32Array): Float32Array {
    const info = this.tensorInfo(name);
    return ggmlToFloat32(info.type, this.tensorBytes(name), info.elementCount, out);
  }
}

export { GgufMetadataAccess };
