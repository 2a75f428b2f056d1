/** Stable codes of QuantError; a caller may switch on them. */
export type QuantErrorCode =
  /** A row length that is not a whole number of the format's blocks (32, or 256 for Q4_K). */
  | "ROW_NOT_BLOCK_MULTIPLE"
  /** A type name this package does not quantize to ("q5_0", "iq2_xs", …). */
  | "UNSUPPORTED_TYPE"
  /** An input or output array shorter than the sizes passed with it. */
  | "BAD_LENGTH"
  /** Stored weights whose scale (or f16 value) is NaN or infinite. */
  | "NONFINITE_WEIGHT"
  /** Any other argument outside its domain (negative size, empty distribution, unknown token…). */
  | "INVALID_ARGUMENT";

/** The one error class of @zero-llm/quant. The message states what was expected and what came. */
export class QuantError extends Error {
  override readonly name = "QuantError";
  constructor(
    readonly code: QuantErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
