import { copyLittleEndian, decodeFloatBytes, f32BytesInto, hostOrderBytes } from "./ggml-dequant";
import { SafetensorsError } from "./errors";

/**
 * safetensors (Hugging Face). Little-endian; the whole layout:
 *
 *   | N: u64 | header: N bytes of UTF-8 JSON, may end in spaces | byte buffer |
 *
 * The header is one JSON object. Each key but "__metadata__" names a tensor:
 *
 *   "name": { "dtype": "F16", "shape": [2, 3], "data_offsets": [begin, end] }
 *
 * with offsets relative to the start of the byte buffer, end - begin = product(shape) * dtype size,
 * and tensors stored row-major (C order). "__metadata__", when present, is a string -> string map.
 * As in the reference implementation: N is at most 100,000,000, the header starts with "{", and
 * the tensors tile the byte buffer exactly (no overlap, no hole, nothing after the last one).
 */

/** Bits per element of each safetensors dtype. */
export const SAFETENSORS_DTYPE_BITS = {
  BOOL: 8, U8: 8, I8: 8, F8_E5M2: 8, F8_E4M3: 8, F8_E8M0: 8, F4: 4, F6_E2M3: 6, F6_E3M2: 6,
  I16: 16, U16: 16, F16: 16, BF16: 16, I32: 32, U32: 32, F32: 32, I64: 64, U64: 64, F64: 64, C64: 64,
} as const;

export type SafetensorsDtype = keyof typeof SAFETENSORS_DTYPE_BITS;

/** The reference implementation's limit (MAX_HEADER_SIZE), so a corrupt length cannot make us allocate gigabytes. */
export const SAFETENSORS_MAX_HEADER_BYTES = 100_000_000;

export interface SafetensorsTensorInfo {
  readonly name: string;
  readonly dtype: SafetensorsDtype;
  /** Row-major shape; [] is a scalar. */
  readonly shape: readonly number[];
  /** [begin, end) relative to the byte buffer. */
  readonly dataOffsets: readonly [number, number];
  /** Offset of the first byte from the start of the file. */
  readonly fileOffset: number;
  readonly byteLength: number;
}

export interface SafetensorsHeader {
  /** Tensor infos in file order (by data offset). */
  readonly tensors: readonly SafetensorsTensorInfo[];
  /** The "__metadata__" map (empty when absent). */
  readonly metadata: Readonly<Record<string, string>>;
  /** 8 + N: where the byte buffer starts. */
  readonly dataOffset: number;
}

function isDtype(value: unknown): value is SafetensorsDtype {
  return typeof value === "string" && Object.prototype.hasOwnProperty.call(SAFETENSORS_DTYPE_BITS, value);
}

/** Read N from the first 8 bytes and check it against the file size and the header limit. */
export function safetensorsHeaderLength(first8: Uint8Array, fileLength: number): number {
  if (fileLength < 8 || first8.length < 8) {
    throw new SafetensorsError("SAFETENSORS_TRUNCATED", `expected at least 8 bytes (the header length), found ${Math.min(fileLength, first8.length)}`);
  }
  const n = new DataView(first8.buffer, first8.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(SAFETENSORS_MAX_HEADER_BYTES)) {
    throw new SafetensorsError("SAFETENSORS_HEADER_TOO_LARGE", `expected a header of at most ${SAFETENSORS_MAX_HEADER_BYTES} bytes, found ${n}`);
  }
  if (8 + Number(n) > fileLength) {
    throw new SafetensorsError("SAFETENSORS_TRUNCATED", `expected a header of ${n} bytes after the 8-byte length, found ${fileLength - 8} bytes in the file`);
  }
  return Number(n);
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/** Parse and validate the JSON header; `bufferLength` is the size of the byte buffer after it. */
export function parseSafetensorsHeader(headerBytes: Uint8Array, bufferLength: number): SafetensorsHeader {
  let text: string;
  try {
    text = strictUtf8.decode(headerBytes);
  } catch (cause) {
    throw new SafetensorsError("SAFETENSORS_BAD_HEADER", "expected the header to be UTF-8, found invalid byte sequences", { cause });
  }
  if (!text.startsWith("{")) {
    throw new SafetensorsError("SAFETENSORS_BAD_HEADER", `expected the header to start with "{", found ${JSON.stringify(text.slice(0, 16))}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new SafetensorsError("SAFETENSORS_BAD_HEADER", `expected the header to be JSON, found a parse error: ${(error as Error).message}`, { cause: error });
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new SafetensorsError("SAFETENSORS_BAD_HEADER", "expected the header to be a JSON object");
  }

  const dataOffset = 8 + headerBytes.length;
  let metadata: Record<string, string> = {};
  const tensors: SafetensorsTensorInfo[] = [];
  for (const [name, entry] of Object.entries(json as Record<string, unknown>)) {
    if (name === "__metadata__") {
      metadata = parseMetadata(entry);
      continue;
    }
    tensors.push(parseTensorInfo(name, entry, dataOffset));
  }
  // File order. (Object.entries would put integer-like names such as "0" first.)
  tensors.sort((a, b) => a.dataOffsets[0] - b.dataOffsets[0] || a.dataOffsets[1] - b.dataOffsets[1]);
  checkTiling(tensors, bufferLength);
  return { tensors, metadata, dataOffset };
}

function parseMetadata(entry: unknown): Record<string, string> {
  if (typeof entry !== "object" || entry === null || Array.isArray(entry)) {
    throw new SafetensorsError("SAFETENSORS_BAD_HEADER", "expected __metadata__ to be an object of strings");
  }
  const metadata: Record<string, string> = {};
  for (const [key, value] of Object.entries(entry)) {
    if (typeof value !== "string") throw new SafetensorsError("SAFETENSORS_BAD_HEADER", `expected __metadata__["${key}"] to be a string, found ${typeof value}`);
    metadata[key] = value;
  }
  return metadata;
}

function parseTensorInfo(name: string, entry: unknown, dataOffset: number): SafetensorsTensorInfo {
  if (typeof entry !== "object" || entry === null) throw new SafetensorsError("SAFETENSORS_BAD_HEADER", `expected "${name}" to be an object with dtype, shape and data_offsets`);
  const { dtype, shape, data_offsets: offsets } = entry as Record<string, unknown>;
  if (typeof dtype !== "string") throw new SafetensorsError("SAFETENSORS_BAD_HEADER", `expected a string dtype for "${name}", found ${typeof dtype}`);
  if (!isDtype(dtype)) {
    throw new SafetensorsError("SAFETENSORS_UNKNOWN_DTYPE", `expected a dtype among ${Object.keys(SAFETENSORS_DTYPE_BITS).join(", ")} for "${name}", found ${JSON.stringify(dtype)}`);
  }
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new SafetensorsError("SAFETENSORS_BAD_HEADER", `expected a shape of non-negative integers for "${name}", found ${JSON.stringify(shape)}`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
    throw new SafetensorsError("SAFETENSORS_BAD_HEADER", `expected data_offsets [begin, end] of non-negative integers for "${name}", found ${JSON.stringify(offsets)}`);
  }
  const [begin, end] = offsets as [number, number];
  const elements = (shape as number[]).reduce((a, b) => a * b, 1);
  const bits = elements * SAFETENSORS_DTYPE_BITS[dtype];
  if (!Number.isSafeInteger(bits) || bits % 8 !== 0 || end < begin || end - begin !== bits / 8) {
    throw new SafetensorsError(
      "SAFETENSORS_BAD_OFFSETS",
      `expected data_offsets of "${name}" to span ${bits / 8} bytes (shape [${shape.join(",")}] of ${dtype}), found [${begin}, ${end}]`,
    );
  }
  return { name, dtype, shape: shape as number[], dataOffsets: [begin, end], fileOffset: dataOffset + begin, byteLength: end - begin };
}

/** Tensors, sorted by offset, must cover [0, bufferLength) exactly. */
function checkTiling(sorted: readonly SafetensorsTensorInfo[], bufferLength: number): void {
  let expected = 0;
  for (const t of sorted) {
    if (t.dataOffsets[0] !== expected) {
      throw new SafetensorsError(
        "SAFETENSORS_BAD_OFFSETS",
        `expected "${t.name}" to begin at byte ${expected} of the buffer (right after the previous tensor), found ${t.dataOffsets[0]} (${t.dataOffsets[0] < expected ? "overlap" : "hole"})`,
      );
    }
    expected = t.dataOffsets[1];
  }
  if (expected !== bufferLength) {
    throw new SafetensorsError(
      "SAFETENSORS_BAD_OFFSETS",
      `expected the tensors to fill the ${bufferLength}-byte buffer after the header, found they end at byte ${expected}`,
    );
  }
}

/** A typed array of the element type, or raw bits for the 16-bit floats. */
export type SafetensorsArray = Float32Array | Float64Array | Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array | Uint32Array | BigInt64Array | BigUint64Array;

/**
 * A tensor's bytes in the typed array of its dtype (F16/BF16 as Uint16Array bits, BOOL and F8 as
 * Uint8Array): a copy, unless `copy` is false, when the array may be a view of `bytes` (used by
 * the lazy reader on buffers it just read and owns).
 */
export function safetensorsBytesToArray(dtype: SafetensorsDtype, bytes: Uint8Array, copy = true): SafetensorsArray {
  const host = (size: number): Uint8Array => (copy ? new Uint8Array(copyLittleEndian(bytes, size)) : hostOrderBytes(bytes, size));
  const of = <T>(make: (buffer: ArrayBufferLike, offset: number, length: number) => T, size: number): T => {
    const b = host(size);
    return make(b.buffer, b.byteOffset, b.byteLength / size);
  };
  switch (dtype) {
    case "F32": return of((b, o, n) => new Float32Array(b, o, n), 4);
    case "F64": return of((b, o, n) => new Float64Array(b, o, n), 8);
    case "I8": return of((b, o, n) => new Int8Array(b, o, n), 1);
    case "U8": case "BOOL": case "F8_E5M2": case "F8_E4M3": case "F8_E8M0": return of((b, o, n) => new Uint8Array(b, o, n), 1);
    case "I16": return of((b, o, n) => new Int16Array(b, o, n), 2);
    case "U16": case "F16": case "BF16": return of((b, o, n) => new Uint16Array(b, o, n), 2);
    case "I32": return of((b, o, n) => new Int32Array(b, o, n), 4);
    case "U32": return of((b, o, n) => new Uint32Array(b, o, n), 4);
    case "I64": return of((b, o, n) => new BigInt64Array(b, o, n), 8);
    case "U64": return of((b, o, n) => new BigUint64Array(b, o, n), 8);
    default:
      throw new SafetensorsError("SAFETENSORS_UNSUPPORTED_CONVERSION", `expected a dtype with a JS typed array, found ${dtype} (read its raw bytes instead)`);
  }
}

/**
 * Tensor bytes of F32, F64, F16 or BF16 -> f32: into `out` when given (it must hold exactly the
 * tensor's values, SAFETENSORS_BAD_OUTPUT otherwise; e.g. an array from a backend's allocF32),
 * else a new array. F32 is one copy; the others decode in one pass over the bytes.
 */
export function safetensorsBytesToFloat32(dtype: SafetensorsDtype, bytes: Uint8Array, out?: Float32Array): Float32Array {
  if (dtype !== "F32" && dtype !== "F64" && dtype !== "F16" && dtype !== "BF16") {
    throw new SafetensorsError("SAFETENSORS_UNSUPPORTED_CONVERSION", `expected F32, F64, F16 or BF16 to convert to f32, found ${dtype}`);
  }
  const count = (bytes.length * 8) / SAFETENSORS_DTYPE_BITS[dtype];
  if (out !== undefined && out.length !== count) {
    throw new SafetensorsError("SAFETENSORS_BAD_OUTPUT", `expected an output Float32Array of ${count} elements (the ${dtype} tensor's element count), found ${out.length}`);
  }
  const target = out ?? new Float32Array(count);
  return dtype === "F32" ? f32BytesInto(bytes, target) : decodeFloatBytes(dtype, bytes, target);
}

/** Lookup shared by the in-memory file and the Node lazy handle. */
export function findSafetensor(header: SafetensorsHeader, name: string): SafetensorsTensorInfo {
  const info = header.tensors.find((t) => t.name === name);
  if (info === undefined) {
    throw new SafetensorsError("SAFETENSORS_TENSOR_NOT_FOUND", `expected a tensor named "${name}", found ${header.tensors.length} tensors (${header.tensors.slice(0, 5).map((t) => t.name).join(", ")})`);
  }
  return info;
}

/** A whole safetensors file in memory. Tensor bytes are views into the one buffer, never copies. */
export class SafetensorsFile implements SafetensorsHeader {
  readonly tensors: readonly SafetensorsTensorInfo[];
  readonly metadata: Readonly<Record<string, string>>;
  readonly dataOffset: number;

  private constructor(
    readonly bytes: Uint8Array,
    header: SafetensorsHeader,
  ) {
    this.tensors = header.tensors;
    this.metadata = header.metadata;
    this.dataOffset = header.dataOffset;
  }

  /** Parse a file held in memory (fetch, readFile); the buffer is wrapped, not copied. */
  static parse(buffer: ArrayBuffer | Uint8Array): SafetensorsFile {
    const bytes = buffer instanceof Uint8Array ? buffer : new Uint8Array(buffer);
    const headerLength = safetensorsHeaderLength(bytes, bytes.length);
    const header = parseSafetensorsHeader(bytes.subarray(8, 8 + headerLength), bytes.length - 8 - headerLength);
    return new SafetensorsFile(bytes, header);
  }

  tensorInfo(name: string): SafetensorsTensorInfo {
    return findSafetensor(this, name);
  }

  /** Raw little-endian bytes (a view, no copy). */
  tensorBytes(name: string): Uint8Array {
    const info = findSafetensor(this, name);
    return this.bytes.subarray(info.fileOffset, info.fileOffset + info.byteLength);
  }

  /** A copy in the typed array of the tensor's dtype. */
  tensorArray(name: string): SafetensorsArray {
    return safetensorsBytesToArray(findSafetensor(this, name).dtype, this.tensorBytes(name));
  }

  /** The values as f32 (F32, F64, F16, BF16): into `out` when given (exactly the element count), else a new array. */
  tensorToFloat32(name: string, out?: Float32Array): Float32Array {
    return safetensorsBytesToFloat32(findSafetensor(this, name).dtype, this.tensorBytes(name), out);
  }
}
