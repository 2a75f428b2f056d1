/**
 * The one error class of @zero-llm/autograd. `code` is stable (match on it, not on the message);
 * the message says what was expected and what was found.
 */
export type AutogradErrorCode =
  /** A plain number given to the engine is NaN or ±Infinity. */
  | "AUTOGRAD_NON_FINITE"
  /** Something that should be a number (or a Value) is not. */
  | "AUTOGRAD_NOT_A_NUMBER"
  /** `pow` was given a Value (or a non-finite number) as its exponent. */
  | "AUTOGRAD_POW_EXPONENT"
  /** An input vector's length does not match the layer's fan-in. */
  | "AUTOGRAD_INPUT_SIZE"
  /** An init scheme or activation name that does not exist. */
  | "AUTOGRAD_UNKNOWN_NAME"
  /** An argument outside its documented range (sizes, counts, seeds, state arrays). */
  | "AUTOGRAD_BAD_ARGUMENT"
  /** Tensor engine: shapes that an op needs to agree (broadcast, matmul, norms, attention) do not. */
  | "AUTOGRAD_SHAPE_MISMATCH"
  /** Tensor engine: `backward()` called where it cannot run (no grad required, non-scalar without a seed, graph already freed). */
  | "AUTOGRAD_BACKWARD"
  /** nn / optim: a state dict with missing, unexpected or misshapen entries. */
  | "AUTOGRAD_STATE_DICT";

export class AutogradError extends Error {
  readonly code: AutogradErrorCode;
  constructor(code: AutogradErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "AutogradError";
    this.code = code;
  }
}

/** How a value looks in an error message: numbers as numbers, everything else by its type. */
export function describe(found: unknown): string {
  if (typeof found === "number") return String(found);
  if (found === null) return "null";
  if (typeof found === "object") return found.constructor?.name ?? "object";
  return typeof found;
}
