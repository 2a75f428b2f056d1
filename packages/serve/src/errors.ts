/**
 * Stable codes of ServeError. The snake_case ones are the `code` of OpenAI's error body, so a
 * client written for the OpenAI API can switch on them; a caller of the library switches on the
 * same strings.
 */
export type ServeErrorCode =
  // 400: the request is not what the API accepts
  | "invalid_json"
  | "invalid_utf8"
  | "invalid_type"
  | "invalid_value"
  | "missing_required_parameter"
  | "unsupported_parameter"
  | "context_length_exceeded"
  // 401, 404, 405, 408, 413
  | "invalid_api_key"
  | "model_not_found"
  | "not_found"
  | "method_not_allowed"
  | "request_timeout"
  | "body_too_large"
  // 429, 503, 504: the server cannot take it now
  | "queue_full"
  | "queue_timeout"
  | "shutting_down"
  | "generation_timeout"
  // 500
  | "internal_error"
  // library use: options given to createServer / the engine / a model loader
  | "invalid_option"
  | "model_load_failed";

/**
 * OpenAI's `error.type`: it answers a bad key (401) and an unknown model (404) with
 * invalid_request_error too, so clients see the same type here.
 */
export type ServeErrorType = "invalid_request_error" | "rate_limit_error" | "timeout_error" | "server_error";

export interface ServeErrorOptions {
  /** The request field at fault, as OpenAI's `error.param` ("messages[1].content", "max_tokens"). */
  param?: string;
  /** Seconds a client should wait before retrying (sent as Retry-After). */
  retryAfter?: number;
  cause?: unknown;
}

const STATUS: Record<ServeErrorCode, number> = {
  invalid_json: 400,
  invalid_utf8: 400,
  invalid_type: 400,
  invalid_value: 400,
  missing_required_parameter: 400,
  unsupported_parameter: 400,
  context_length_exceeded: 400,
  invalid_api_key: 401,
  model_not_found: 404,
  not_found: 404,
  method_not_allowed: 405,
  request_timeout: 408,
  body_too_large: 413,
  queue_full: 429,
  queue_timeout: 503,
  shutting_down: 503,
  generation_timeout: 504,
  internal_error: 500,
  invalid_option: 500,
  model_load_failed: 500,
};

/**
 * The one error class of @zero-llm/serve. Over HTTP it becomes OpenAI's error body
 * `{"error": {"message", "type", "param", "code"}}` with `status`; the message states what was
 * expected and what came.
 */
export class ServeError extends Error {
  override readonly name = "ServeError";
  readonly status: number;
  readonly type: ServeErrorType;
  readonly param: string | null;
  readonly retryAfter: number | undefined;

  constructor(
    readonly code: ServeErrorCode,
    message: string,
    options: ServeErrorOptions = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.status = STATUS[code];
    this.type = typeOf(this.status);
    this.param = options.param ?? null;
    this.retryAfter = options.retryAfter;
  }

  /** OpenAI's error body. */
  toJSON(): { error: { message: string; type: ServeErrorType; param: string | null; code: ServeErrorCode } } {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

function typeOf(status: number): ServeErrorType {
  if (status === 429) return "rate_limit_error";
  if (status === 408 || status === 504) return "timeout_error";
  if (status >= 500) return "server_error";
  return "invalid_request_error";
}
