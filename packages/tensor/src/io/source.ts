import { TensorError } from "../errors";

/**
 * Bytes that can be read at an offset without holding them all: a file on disk
 * (`openFileSource` of @zero-llm/tensor/node), a browser File or Blob (`blobSource`), or a buffer
 * already in memory (`bytesSource`). Readers of GGUF, safetensors and llama2.c files take one, so
 * a model's tensors go from the file straight into their final home (e.g. wasm memory) without
 * the whole file passing through JavaScript memory first.
 *
 * `size` is known before anything is read (fstat for a file) and every read is checked against
 * it, so a header's declared sizes and offsets can be validated before any allocation.
 */
export interface ByteSource {
  /** What the bytes are, for messages: a path, a file name, "bytes". */
  readonly name: string;
  /** Total length in bytes. */
  readonly size: number;
  /**
   * Fills `target` with the bytes at [offset, offset + target.length). Throws READ_OUT_OF_RANGE
   * (nothing read) when that range is not within [0, size), FILE_CHANGED when the bytes run out
   * before `size` (a file that shrank while open).
   */
  read(offset: number, target: Uint8Array): Promise<void>;
  /** Releases what the source holds open (a file descriptor); reads afterwards throw. */
  close(): Promise<void>;
}

/** Throws READ_OUT_OF_RANGE unless [offset, offset + length) lies within a source of `size` bytes. */
export function checkRange(source: { readonly name: string; readonly size: number }, offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > source.size) {
    throw new TensorError(
      "READ_OUT_OF_RANGE",
      `${source.name}: expected a read within its ${source.size} bytes, found ${length} bytes at offset ${offset}`,
    );
  }
}

/** A source over bytes already in memory (a fetch, a test); reads copy out of them. */
export function bytesSource(bytes: Uint8Array, name = "bytes"): ByteSource {
  return {
    name,
    size: bytes.length,
    async read(offset, target) {
      checkRange(this, offset, target.length);
      target.set(bytes.subarray(offset, offset + target.length));
    },
    async close() {},
  };
}

/**
 * A source over a browser File or Blob: each read slices the blob and reads only that slice, so
 * a multi-gigabyte file picked by the user is never held whole.
 */
export function blobSource(blob: Blob, name = (blob as { name?: unknown }).name): ByteSource {
  const label = typeof name === "string" && name !== "" ? name : "blob";
  return {
    name: label,
    size: blob.size,
    async read(offset, target) {
      checkRange(this, offset, target.length);
      const bytes = new Uint8Array(await blob.slice(offset, offset + target.length).arrayBuffer());
      if (bytes.length !== target.length) {
        throw new TensorError("FILE_CHANGED", `${label}: expected ${target.length} bytes at offset ${offset}, found ${bytes.length}`);
      }
      target.set(bytes);
    },
    async close() {},
  };
}
