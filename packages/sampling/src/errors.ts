/** The one error class of @zero-llm/sampling. `code` is stable; the message says expected vs found. */
export class SamplingError extends Error {
  override readonly name = "SamplingError";
  constructor(
    readonly code: "SAMPLING_BAD_OPTION" | "SAMPLING_BAD_STATE" | "SAMPLING_EMPTY_LOGITS",
    message: string,
  ) {
    super(message);
  }
}
