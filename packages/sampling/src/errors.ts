/** Stable codes for everything @zero-llm/sampling throws; the message says what was expected and what was found. */
export type SamplingErrorCode =
  /** An option outside its domain (a probability above 1, a negative temperature, an unknown mirostat version…). */
  | "SAMPLING_BAD_OPTION"
  /** A saved state that is not one (wrong shape, all-zero generator words, non-finite mirostat μ). */
  | "SAMPLING_BAD_STATE"
  /** An empty row of logits. */
  | "SAMPLING_EMPTY_LOGITS"
  /** A logit that is NaN or +Infinity (−Infinity is allowed: it means "never this token"). */
  | "SAMPLING_BAD_LOGITS"
  /** Every token is masked, banned by a −Infinity bias or −Infinity: nothing is left to sample. */
  | "SAMPLING_NO_CANDIDATES"
  /** A token id outside the vocabulary (in the history, a logit bias, a DRY breaker, a draft, a mask too short). */
  | "SAMPLING_BAD_TOKEN"
  /** Two models (draft and target) or a model and its inputs disagree on the vocabulary size. */
  | "SAMPLING_VOCAB_MISMATCH";

/** The one error class of @zero-llm/sampling. `code` is stable; a wrapped error is kept as `cause`. */
export class SamplingError extends Error {
  override readonly name = "SamplingError";
  constructor(
    readonly code: SamplingErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
