import { readAll, readFloat32Chunked, READ_CHUNK_BYTES } from "./chunked";
import { SafetensorsError } from "./errors";
import { decodeFloatBytes } from "./ggml-dequant";
import {
  findSafetensor, parseSafetensorsHeader, safetensorsBytesToArray, safetensorsHeaderLength, SAFETENSORS_DTYPE_BITS,
  type SafetensorsArray, type SafetensorsHeader, type SafetensorsTensorInfo,
} from "./safetensors-read";
import type { ByteSource } from "./source";

/**
 * A safetensors file read lazily from a ByteSource: 8 bytes (the header length, checked against
 * the file's size and the 100 MB limit), the JSON header, then tensors on demand at their
 * offsets, straight into the caller's array; conversions to f32 run a 4 MiB chunk at a time.
 */
export class SafetensorsReader implements SafetensorsHeader {
  readonly tensors: readonly SafetensorsTensorInfo[];
  readonly metadata: Readonly<Record<string, string>>;
  readonly dataOffset: number;
  private stagingBuffer: Uint8Array | null = null;

  private constructor(
    readonly source: ByteSource,
    header: SafetensorsHeader,
  ) {
    this.tensors = header.tensors;
    this.metadata = header.metadata;
    this.dataOffset = header.dataOffset;
  }

  /** Total bytes of the file. */
  get fileLength(): number {
    return this.source.size;
  }

  static async open(source: ByteSource): Promise<SafetensorsReader> {
    const first8 = new Uint8Array(Math.min(8, source.size));
    await readAll(source, 0, first8);
    const headerLength = safetensorsHeaderLength(first8, source.size);
    const headerBytes = new Uint8Array(headerLength);
    await readAll(source, 8, headerBytes);
    return new SafetensorsReader(source, parseSafetensorsHeader(headerBytes, source.size - 8 - headerLength));
  }

  tensorInfo(name: string): SafetensorsTensorInfo {
    return findSafetensor(this, name);
  }

  /** The tensor's stored bytes: into `target` when given (exactly byteLength long), else a new buffer. */
  async readTensorBytes(name: string, target?: Uint8Array): Promise<Uint8Array> {
    const info = findSafetensor(this, name);
    if (target !== undefined && target.length !== info.byteLength) {
      throw new SafetensorsError("SAFETENSORS_BAD_OUTPUT", `expected an output of ${info.byteLength} bytes for "${name}", found ${target.length}`);
    }
    const bytes = target ?? new Uint8Array(info.byteLength);
    await readAll(this.source, info.fileOffset, bytes);
    return bytes;
  }

  /** The tensor in the typed array of its dtype, over the buffer just read (one copy: the read). */
  async readTensorArray(name: string): Promise<SafetensorsArray> {
    return safetensorsBytesToArray(findSafetensor(this, name).dtype, await this.readTensorBytes(name), false);
  }

  /**
   * The values as f32 (F32, F64, F16, BF16): into `out` when given (exactly the element count,
   * SAFETENSORS_BAD_OUTPUT otherwise), else a new Float32Array.
   */
  async readTensorFloat32(name: string, out?: Float32Array): Promise<Float32Array> {
    const info = findSafetensor(this, name);
    return this.readRowsFloat32(name, 0, info.shape.length === 0 ? 1 : (info.shape[0] ?? 1), out);
  }

  /** Rows [rowStart, rowEnd) of the outermost dimension as f32, into `out` or a new array. */
  async readRowsFloat32(name: string, rowStart: number, rowEnd: number, out?: Float32Array): Promise<Float32Array> {
    const info = findSafetensor(this, name);
    const { dtype } = info;
    if (dtype !== "F32" && dtype !== "F64" && dtype !== "F16" && dtype !== "BF16") {
      throw new SafetensorsError("SAFETENSORS_UNSUPPORTED_CONVERSION", `expected F32, F64, F16 or BF16 to convert to f32, found ${dtype} for "${name}"`);
    }
    const elementBytes = SAFETENSORS_DTYPE_BITS[dtype] / 8;
    const elementCount = info.byteLength / elementBytes;
    const rows = info.shape.length === 0 ? 1 : (info.shape[0] ?? 1);
    if (!Number.isInteger(rowStart) || !Number.isInteger(rowEnd) || rowStart < 0 || rowEnd > rows || rowStart > rowEnd) {
      throw new SafetensorsError("SAFETENSORS_BAD_OUTPUT", `expected rows [a, b) within the ${rows} rows of "${name}", found [${rowStart}, ${rowEnd})`);
    }
    const rowElements = rows === 0 ? 0 : elementCount / rows;
    const count = (rowEnd - rowStart) * rowElements;
    if (out !== undefined && out.length !== count) {
      throw new SafetensorsError("SAFETENSORS_BAD_OUTPUT", `expected an output Float32Array of ${count} elements for "${name}", found ${out.length}`);
    }
    const target = out ?? new Float32Array(count);
    return readFloat32Chunked(
      this.source, info.fileOffset + rowStart * rowElements * elementBytes, count, target,
      { elements: 1, bytes: elementBytes, f32: dtype === "F32" },
      () => (this.stagingBuffer ??= new Uint8Array(READ_CHUNK_BYTES)),
      (bytes, _elements, into) => { decodeFloatBytes(dtype as "F64" | "F16" | "BF16", bytes, into); },
    );
  }

  async close(): Promise<void> {
    await this.source.close();
  }
}
