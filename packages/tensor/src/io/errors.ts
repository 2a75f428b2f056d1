/**
 * Errors of the file readers and writers. One class per container format, each with a stable
 * `code` (branch on it, not on the message); the message states what was expected and what was
 * found, and where in the file (byte offset) when that is known.
 */

export type GgufErrorCode =
  /** The bytes end before a field, string, array or tensor that the header announces. */
  | "GGUF_TRUNCATED"
  /**
   * Only from parseGgufHeader(prefix, fileLength): the prefix ends inside the header. `needed`
   * says how many bytes from the start of the file to provide next (lazy / HTTP-range readers).
   */
  | "GGUF_NEED_MORE_BYTES"
  /** The first 4 bytes are not "GGUF". */
  | "GGUF_BAD_MAGIC"
  /** Version 1 (32-bit counts) or a version newer than 3. */
  | "GGUF_UNSUPPORTED_VERSION"
  /** The file was written big-endian (version reads byte-swapped); only little-endian is read. */
  | "GGUF_BIG_ENDIAN"
  /** A metadata value type id outside 0..12, or an array of a type that cannot be an element. */
  | "GGUF_BAD_VALUE_TYPE"
  /** A metadata key that appears twice. */
  | "GGUF_DUPLICATE_KEY"
  /** A count or length that does not fit in a JS number (> 2^53 - 1). */
  | "GGUF_VALUE_TOO_LARGE"
  /** `general.alignment` that is not a u32 power of two. */
  | "GGUF_BAD_ALIGNMENT"
  /** A tensor info with n_dims > 4, a row not divisible into blocks, or a size that overflows. */
  | "GGUF_BAD_TENSOR_INFO"
  /** A ggml type id this table does not know. */
  | "GGUF_UNKNOWN_GGML_TYPE"
  /** A tensor name that appears twice. */
  | "GGUF_DUPLICATE_TENSOR"
  /** A tensor offset that is not a multiple of the alignment. */
  | "GGUF_BAD_TENSOR_OFFSET"
  /** Tensor data that extends past the end of the file. */
  | "GGUF_TENSOR_OUT_OF_RANGE"
  /** Two tensors whose byte ranges overlap. */
  | "GGUF_TENSOR_OVERLAP"
  /** A name asked for that the file does not contain. */
  | "GGUF_TENSOR_NOT_FOUND"
  /** A conversion to f32 requested for a type that has no decoder here (K-quants, IQ*, ...). */
  | "GGUF_UNSUPPORTED_CONVERSION"
  /** An output array given to a tensor read whose length is not the tensor's element count. */
  | "GGUF_BAD_OUTPUT"
  /** Writer input that cannot be encoded: a value outside its type's range, a bad name, data of the wrong size. */
  | "GGUF_BAD_INPUT";

export class GgufError extends Error {
  readonly code: GgufErrorCode;
  /** For GGUF_NEED_MORE_BYTES: the prefix length (from byte 0) that the parser needs. */
  readonly needed: number | undefined;

  constructor(code: GgufErrorCode, message: string, needed?: number, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "GgufError";
    this.code = code;
    this.needed = needed;
  }
}

export type SafetensorsErrorCode =
  /** Fewer than 8 bytes, or fewer bytes than the header length announces. */
  | "SAFETENSORS_TRUNCATED"
  /** A header length above the 100 MB limit of the reference implementation. */
  | "SAFETENSORS_HEADER_TOO_LARGE"
  /** The header is not UTF-8 JSON, not an object, or an entry lacks dtype/shape/data_offsets. */
  | "SAFETENSORS_BAD_HEADER"
  /** A dtype string this reader does not know. */
  | "SAFETENSORS_UNKNOWN_DTYPE"
  /** data_offsets out of order, past the end of the byte buffer, overlapping, leaving holes, or not shape*dtype bytes long. */
  | "SAFETENSORS_BAD_OFFSETS"
  /** A name asked for that the file does not contain. */
  | "SAFETENSORS_TENSOR_NOT_FOUND"
  /** A conversion to f32 requested for a dtype that has none (integers, bool). */
  | "SAFETENSORS_UNSUPPORTED_CONVERSION"
  /** An output array given to a tensor read whose length is not the tensor's element count. */
  | "SAFETENSORS_BAD_OUTPUT"
  /** Writer input that cannot be encoded: data of the wrong size, a bad shape or name. */
  | "SAFETENSORS_BAD_INPUT";

export class SafetensorsError extends Error {
  readonly code: SafetensorsErrorCode;

  constructor(code: SafetensorsErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "SafetensorsError";
    this.code = code;
  }
}
