/** Stable codes of TransformerError; a caller may switch on them. */
export type TransformerErrorCode =
  | "BAD_CONFIG"
  | "MISSING_WEIGHT"
  | "UNUSED_WEIGHT"
  | "NONFINITE_WEIGHT"
  | "BAD_WEIGHT"
  | "NONFINITE_LOGITS"
  | "WEIGHT_SHAPE_MISMATCH"
  | "BAD_TOKEN"
  | "BATCH_TOO_LARGE"
  | "CONTEXT_OVERFLOW"
  | "BAD_CACHE"
  | "LLAMA2C_BAD_HEADER"
  | "LLAMA2C_SIZE_MISMATCH"
  | "LLAMA2C_UNSUPPORTED_VERSION"
  | "UNKNOWN_FORMAT"
  | "UNSUPPORTED_ARCHITECTURE"
  | "UNSUPPORTED_TENSOR_TYPE"
  | "MISSING_METADATA"
  | "BAD_METADATA"
  | "DATA_TOO_SHORT"
  | "TRAIN_NAN"
  | "BAD_CHECKPOINT"
  | "RESUME_MISMATCH";

/** The one error class of @zero-llm/transformer. The message states what was expected and what came. */
export class TransformerError extends Error {
  override readonly name = "TransformerError";
  constructor(
    readonly code: TransformerErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
