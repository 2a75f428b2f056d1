import { readAll, readFloat32Chunked, READ_CHUNK_BYTES } from "./chunked";
import { GgufError } from "./errors";
import { ggmlToFloat32 } from "./ggml-dequant";
import { GgufMetadataAccess, parseGgufHeader, type GgufHeader, type GgufHeaderOptions, type GgufTensorInfo } from "./gguf-read";
import type { GgufValue } from "./gguf-values";
import type { ByteSource } from "./source";

/** Conversions to f32 this reader does itself (other quants: @zero-llm/quant). */
const CONVERTIBLE = ["F32", "F64", "F16", "BF16", "Q8_0", "Q4_0"];

/**
 * A GGUF file read lazily from a ByteSource: the header (metadata and tensor infos) in memory,
 * tensors read on demand at their offsets, straight into the caller's array (an allocF32 array
 * puts them in wasm memory with no copy in between). Conversions to f32 run a 4 MiB chunk at a
 * time, so memory beyond the outputs stays bounded whatever the file's size.
 *
 * The header is parsed from a prefix of the file that grows (geometrically, up to the file's
 * size) only while the header runs past it: a 150k-token vocabulary takes megabytes, a corrupt
 * count is caught against the file's size before anything is allocated.
 */
export class GgufReader extends GgufMetadataAccess {
  readonly version: number;
  readonly alignment: number;
  readonly metadata: ReadonlyMap<string, GgufValue>;
  readonly tensors: readonly GgufTensorInfo[];
  readonly dataOffset: number;
  private stagingBuffer: Uint8Array | null = null;

  private constructor(
    readonly source: ByteSource,
    header: GgufHeader,
  ) {
    super();
    this.version = header.version;
    this.alignment = header.alignment;
    this.metadata = header.metadata;
    this.tensors = header.tensors;
    this.dataOffset = header.dataOffset;
  }

  /** Total bytes of the file. */
  get fileLength(): number {
    return this.source.size;
  }

  /**
   * Parses the header from `source` (a prefix of `initialRead` bytes first, 1 MiB by default);
   * `keepKey` chooses the metadata kept (see GgufHeaderOptions).
   *
   * The prefix is one resizable ArrayBuffer (HeaderBuffer): grown in place when the header runs
   * past it (only the new bytes are read), and shrunk to nothing once parsed — the parsed header
   * copies what it keeps — so its pages go back to the system now, not at a garbage collection
   * that a process decoding a small model may not run for a long time (a 15M model's 1 MiB
   * prefix stayed resident through its whole decode; quant MEASUREMENTS.md, "Peak resident memory").
   */
  static async open(source: ByteSource, options: { initialRead?: number } & GgufHeaderOptions = {}): Promise<GgufReader> {
    const prefix = new HeaderBuffer(Math.min(source.size, options.initialRead ?? 1 << 20), source.size);
    try {
      for (let read = 0; ; ) {
        await readAll(source, read, prefix.bytes.subarray(read));
        read = prefix.bytes.length;
        try {
          return new GgufReader(source, parseGgufHeader(prefix.bytes, source.size, options));
        } catch (error) {
          if (!(error instanceof GgufError) || error.code !== "GGUF_NEED_MORE_BYTES") throw error;
          // `needed` is within the file (the parser checked); grow geometrically to bound re-parses
          prefix.grow(Math.min(source.size, Math.max(error.needed ?? 0, read * 2)));
        }
      }
    } finally {
      prefix.release();
    }
  }

  /** The tensor's stored bytes: into `target` when given (exactly byteLength long, e.g. from backend.allocBytes), else a new buffer. */
  async readTensorBytes(name: string, target?: Uint8Array): Promise<Uint8Array> {
    const info = this.tensorInfo(name);
    if (target !== undefined && target.length !== info.byteLength) {
      throw new GgufError("GGUF_BAD_OUTPUT", `expected an output of ${info.byteLength} bytes for "${name}", found ${target.length}`);
    }
    const bytes = target ?? new Uint8Array(info.byteLength);
    await readAll(this.source, info.fileOffset, bytes);
    return bytes;
  }

  /**
   * The stored bytes of rows [rowStart, rowEnd) of the outermost dimension (a matrix's output
   * rows, each a whole number of blocks): into `target` (exactly their byte length) or a new
   * buffer. A slice of a fused tensor, in its stored type.
   */
  async readRowsBytes(name: string, rowStart: number, rowEnd: number, target?: Uint8Array): Promise<Uint8Array> {
    const info = this.tensorInfo(name);
    const rows = info.shape[0] ?? 1;
    if (!Number.isInteger(rowStart) || !Number.isInteger(rowEnd) || rowStart < 0 || rowEnd > rows || rowStart > rowEnd) {
      throw new GgufError("GGUF_BAD_OUTPUT", `expected rows [a, b) within the ${rows} rows of "${name}", found [${rowStart}, ${rowEnd})`);
    }
    const rowBytes = rows === 0 ? 0 : info.byteLength / rows;
    if (!Number.isInteger(rowBytes)) {
      throw new GgufError("GGUF_BAD_OUTPUT", `expected the rows of "${name}" to be whole blocks, found ${info.byteLength} bytes over ${rows} rows`);
    }
    const length = (rowEnd - rowStart) * rowBytes;
    if (target !== undefined && target.length !== length) {
      throw new GgufError("GGUF_BAD_OUTPUT", `expected an output of ${length} bytes for rows [${rowStart}, ${rowEnd}) of "${name}", found ${target.length}`);
    }
    const bytes = target ?? new Uint8Array(length);
    await readAll(this.source, info.fileOffset + rowStart * rowBytes, bytes);
    return bytes;
  }

  /**
   * The tensor's values (F32, F64, F16, BF16, Q8_0, Q4_0) in row-major order: into `out` when
   * given (exactly elementCount long, GGUF_BAD_OUTPUT otherwise), else a new Float32Array.
   */
  async readTensorFloat32(name: string, out?: Float32Array): Promise<Float32Array> {
    const info = this.tensorInfo(name);
    return this.readRowsFloat32(name, 0, info.shape[0] ?? 1, out);
  }

  /**
   * Rows [rowStart, rowEnd) of the outermost dimension (shape[0]; a matrix's output rows) as
   * f32, into `out` ((rowEnd − rowStart) · row length long) or a new array: a slice of a fused
   * tensor without reading the rest. For a block type the slice must start on a block.
   */
  async readRowsFloat32(name: string, rowStart: number, rowEnd: number, out?: Float32Array): Promise<Float32Array> {
    const info = this.tensorInfo(name);
    const rows = info.shape[0] ?? 1;
    if (!Number.isInteger(rowStart) || !Number.isInteger(rowEnd) || rowStart < 0 || rowEnd > rows || rowStart > rowEnd) {
      throw new GgufError("GGUF_BAD_OUTPUT", `expected rows [a, b) within the ${rows} rows of "${name}", found [${rowStart}, ${rowEnd})`);
    }
    if (!CONVERTIBLE.includes(info.type.name)) {
      throw new GgufError(
        "GGUF_UNSUPPORTED_CONVERSION",
        `expected a tensor of type ${CONVERTIBLE.join(", ")} to convert to f32, found ${info.type.name} for "${name}" (dequantize it with @zero-llm/quant)`,
      );
    }
    const rowElements = rows === 0 ? 0 : info.elementCount / rows;
    const first = rowStart * rowElements, count = (rowEnd - rowStart) * rowElements;
    const { blockSize, bytesPerBlock } = info.type;
    if (first % blockSize !== 0) {
      throw new GgufError("GGUF_BAD_OUTPUT", `expected a slice of "${name}" that starts on a ${blockSize}-element block, found element ${first}`);
    }
    if (out !== undefined && out.length !== count) {
      throw new GgufError("GGUF_BAD_OUTPUT", `expected an output Float32Array of ${count} elements for "${name}", found ${out.length}`);
    }
    const target = out ?? new Float32Array(count);
    return readFloat32Chunked(
      this.source, info.fileOffset + (first / blockSize) * bytesPerBlock, count, target,
      { elements: blockSize, bytes: bytesPerBlock, f32: info.type.name === "F32" },
      () => (this.stagingBuffer ??= new Uint8Array(READ_CHUNK_BYTES)),
      (bytes, elements, into) => { ggmlToFloat32(info.type, bytes, elements, into); },
    );
  }

  async close(): Promise<void> {
    await this.source.close();
  }
}

/**
 * Room for a header being parsed: a resizable ArrayBuffer (reserved up to the file's size, or
 * HEADER_RESERVE_BYTES; pages are committed as it grows) whose pages `release` hands back at
 * once. A header larger than the reservation moves to a plain buffer, freed by the collector.
 */
class HeaderBuffer {
  private buffer: MaybeResizable;

  constructor(length: number, fileLength: number) {
    this.buffer = new ResizableArrayBuffer(length, { maxByteLength: Math.max(length, Math.min(fileLength, HEADER_RESERVE_BYTES)) });
  }

  /** The bytes held: the file's first `length` bytes once read. */
  get bytes(): Uint8Array {
    return new Uint8Array(this.buffer);
  }

  /** Grows to `length` bytes, keeping the ones held. */
  grow(length: number): void {
    if (this.buffer.resize !== undefined && length <= (this.buffer.maxByteLength ?? 0)) {
      this.buffer.resize(length);
      return;
    }
    const larger = new ArrayBuffer(length);
    new Uint8Array(larger).set(new Uint8Array(this.buffer));
    this.release();
    this.buffer = larger;
  }

  /** Returns the pages now (a resizable buffer shrunk to 0 bytes); the bytes are gone. */
  release(): void {
    if (this.buffer.resizable === true) this.buffer.resize?.(0);
  }
}

/**
 * ES2024's resizable ArrayBuffer, typed here because the project's lib predates it: Node 20 and
 * current browsers have it; an engine without it ignores the options and gives a plain buffer,
 * whose missing members make HeaderBuffer copy to grow and leave the release to the collector.
 */
interface MaybeResizable extends ArrayBuffer {
  readonly resizable?: boolean;
  readonly maxByteLength?: number;
  resize?(length: number): void;
}
const ResizableArrayBuffer = ArrayBuffer as unknown as new (length: number, options: { maxByteLength: number }) => MaybeResizable;

/** Address space reserved for a header (64 MiB: a 150k-token vocabulary's header is a few MB). */
const HEADER_RESERVE_BYTES = 64 << 20;
