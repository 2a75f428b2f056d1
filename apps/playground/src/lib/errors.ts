/** The playground's own input errors: a stable code and a message saying what was expected and found. */
export type PlaygroundErrorCode =
  | "EXPRESSION_SYNTAX"
  | "EXPRESSION_UNKNOWN_NAME"
  | "BAD_INPUT"
  | "FETCH_FAILED"
  | "SERVER_ERROR";

export class PlaygroundError extends Error {
  constructor(readonly code: PlaygroundErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "PlaygroundError";
  }
}
