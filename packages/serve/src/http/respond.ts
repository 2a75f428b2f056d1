import type { ServerResponse } from "node:http";
import { ServeError } from "../errors";

/** JSON and OpenAI-shaped error responses, and the server-sent-events stream of a streaming request. */

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { ...headers, "Content-Type": "application/json; charset=utf-8", "Content-Length": Buffer.byteLength(text) });
  res.end(text);
}

/** OpenAI's error body with the error's status (and Retry-After when it has one). */
export function sendError(res: ServerResponse, error: ServeError): void {
  const headers: Record<string, string> = {};
  if (error.retryAfter !== undefined) headers["Retry-After"] = String(error.retryAfter);
  if (error.status === 401) headers["WWW-Authenticate"] = 'Bearer realm="zllm"';
  // a body left unread (too large, too slow) must not be parsed as the next request
  if (error.code === "body_too_large" || error.code === "request_timeout") headers.Connection = "close";
  sendJson(res, error.status, error.toJSON(), headers);
}

/** Anything thrown becomes a ServeError: ours as they are, the rest a 500 that keeps the cause. */
export function asServeError(e: unknown): ServeError {
  if (e instanceof ServeError) return e;
  return new ServeError("internal_error", `internal error: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
}

export interface SseOptions {
  /** A client that reads nothing for this long while data waits is dropped (onStall). */
  stallTimeoutMs: number;
  /** Bytes buffered for a slow reader before it counts as stalled at once. */
  maxBufferedBytes: number;
  onStall: () => void;
}

/**
 * Server-sent events as OpenAI streams them: `data: <json>\n\n` per chunk and `data: [DONE]\n\n`
 * at the end. Writes never block the engine: a client that stops reading is given
 * `stallTimeoutMs` to drain what is buffered, then dropped (its sequence cancelled), so a stuck
 * reader cannot hold a KV cache forever.
 */
export class SseStream {
  private stallTimer: ReturnType<typeof setTimeout> | undefined;
  private closed = false;

  constructor(private readonly res: ServerResponse, private readonly options: SseOptions) {
    res.on("drain", () => this.clearStall());
    res.on("close", () => {
      this.closed = true;
      this.clearStall();
    });
  }

  /** Sends the headers now (the request was admitted: no 429/503 can follow). */
  open(headers: Record<string, string> = {}): void {
    if (this.res.headersSent) return;
    this.res.writeHead(200, {
      ...headers,
      "Content-Type": "text/event-stream; charset=utf-8",
      "Cache-Control": "no-cache",
      Connection: "keep-alive",
      "X-Accel-Buffering": "no",
    });
    this.res.flushHeaders();
  }

  send(data: unknown): void {
    this.write(`data: ${JSON.stringify(data)}\n\n`);
  }

  /** `data: [DONE]` and the end of the response. */
  done(): void {
    this.write("data: [DONE]\n\n");
    this.end();
  }

  end(): void {
    this.clearStall();
    if (!this.closed && !this.res.writableEnded) this.res.end();
  }

  private write(text: string): void {
    if (this.closed || this.res.writableEnded) return;
    const flushed = this.res.write(text);
    if (this.res.writableLength > this.options.maxBufferedBytes) {
      this.options.onStall();
      return;
    }
    if (!flushed && !this.stallTimer) {
      this.stallTimer = setTimeout(() => this.options.onStall(), this.options.stallTimeoutMs);
    }
  }

  private clearStall(): void {
    if (this.stallTimer) clearTimeout(this.stallTimer);
    this.stallTimer = undefined;
  }
}
