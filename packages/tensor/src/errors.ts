/**
 * Stable codes for everything @zero-llm/tensor throws. Callers branch on `code`; the message
 * is for people and always states what was expected and what was found.
 */
export type TensorErrorCode =
  /** Two shapes that an op needs to agree (broadcast, matmul, concat, reshape) do not. */
  | "SHAPE_MISMATCH"
  /** An axis outside [-ndim, ndim). */
  | "INVALID_AXIS"
  /** An index, slice bound or id outside its dimension. */
  | "INDEX_OUT_OF_RANGE"
  /** `view` asked for a shape that the strides of a non-contiguous tensor cannot express. */
  | "NOT_VIEWABLE"
  /** Data whose length or nesting does not match the shape it came with. */
  | "BAD_DATA"
  /** A backend could not allocate (wasm memory fixed or past its limit). */
  | "OUT_OF_MEMORY"
  /** Any other argument outside its domain (negative size, zero step, odd headDim...). */
  | "INVALID_ARGUMENT"
  /** The wasm backend cannot be created here (no WebAssembly SIMD, or threads without SharedArrayBuffer). */
  | "WASM_UNAVAILABLE"
  /** A kernel was called on a wasm backend after dispose(). */
  | "BACKEND_DISPOSED"
  /** A wasm worker thread failed: a part of a job threw in it, or it died (the backend is then unusable). */
  | "WORKER_FAILED"
  /** A file that cannot be opened for reading (missing, no permission): the system's code is in the message, its error in `cause`. */
  | "FILE_UNREADABLE"
  /** A path that is not a regular file (a directory, a device such as /dev/zero, a fifo, a socket) where a file is read. */
  | "NOT_A_FILE"
  /** A file larger than the reader's stated bound (a config.json of gigabytes). */
  | "FILE_TOO_LARGE"
  /** A read of bytes outside a source's known size (a header declared more than the file holds). */
  | "READ_OUT_OF_RANGE"
  /** A file that shrank (or changed) while it was being read. */
  | "FILE_CHANGED"
  /** makeDirectory could not create a directory (a file in the way, permission, a read-only or virtual file system). */
  | "MKDIR_FAILED";

export class TensorError extends Error {
  readonly code: TensorErrorCode;

  constructor(code: TensorErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "TensorError";
    this.code = code;
  }
}

/** `[2,3]`: the one spelling of a shape used in every message. */
export function formatShape(shape: readonly number[]): string {
  return `[${shape.join(",")}]`;
}
