/**
 * The one error class of this package. `code` is stable (scripts may match on it); the message
 * says what was expected and what was found.
 */
export type TokenizerErrorCode =
  | "TOKENIZER_BAD_RANKS"
  | "TOKENIZER_BAD_JSON"
  | "TOKENIZER_BAD_FORMAT"
  | "TOKENIZER_BAD_GGUF_METADATA"
  | "TOKENIZER_BAD_LLAMA2C"
  | "TOKENIZER_BAD_PATTERN"
  | "TOKENIZER_UNKNOWN_ENCODING"
  | "TOKENIZER_UNKNOWN_TOKEN_ID"
  | "TOKENIZER_UNKNOWN_PRE"
  | "TOKENIZER_UNRECOGNISED_FILE"
  | "TOKENIZER_VOCAB_SHORTFALL"
  | "TOKENIZER_BAD_ARGUMENT"
  | "TOKENIZER_INVALID_UTF8"
  | "TOKENIZER_LONG_MERGE";

export class TokenizerError extends Error {
  readonly code: TokenizerErrorCode;
  constructor(code: TokenizerErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "TokenizerError";
    this.code = code;
  }
}
