/** Stable codes of LoraError; a caller may switch on them. */
export type LoraErrorCode =
  /** A LoraConfig field out of range (a rank of 0, a negative alpha, dropout ≥ 1…). */
  | "BAD_CONFIG"
  /** A target name or pattern that matches no linear module of the model. */
  | "TARGET_NOT_FOUND"
  /** An adapter's module is not in the model, or its matrices do not fit the module's shape. */
  | "BASE_MISMATCH"
  /** An adapter file (PEFT directory, GGUF adapter) that is damaged or not an adapter. */
  | "BAD_ADAPTER_FILE"
  /** Something the file format can carry that this package does not run (DoRA, lora_bias, …). */
  | "UNSUPPORTED_ADAPTER"
  /** Training data that cannot be used: bad JSONL, an example longer than the context, too little text. */
  | "BAD_DATA"
  /** A non-finite loss or gradient: the step was not applied. */
  | "TRAIN_NAN"
  /** A LoRA training checkpoint that is damaged or belongs to another run. */
  | "BAD_CHECKPOINT"
  /** --resume with another base model, data or adapter shape than the checkpoint's. */
  | "RESUME_MISMATCH"
  /** A weight stored in a way this operation cannot use (merging into a quantized matrix in place). */
  | "UNSUPPORTED_WEIGHT";

/** The one error class of @zero-llm/lora. The message names the module and states what was expected and what came. */
export class LoraError extends Error {
  override readonly name = "LoraError";
  constructor(
    readonly code: LoraErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Names for a message: all of them up to 8, else the first 8 and how many more. */
export function listNames(names: readonly string[]): string {
  return names.length <= 8 ? names.join(", ") : `${names.slice(0, 8).join(", ")} and ${names.length - 8} more`;
}
