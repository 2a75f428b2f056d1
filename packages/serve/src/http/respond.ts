import { ServeError } from "../errors";
import type { HttpResponse } from "./exchange";

/** JSON and OpenAI-shaped error responses, and the server-sent-events stream of a streaming request. */

const MARK = "\u0000zllm-text\u0000";
const MARK_JSON = JSON.stringify(MARK);

/**
 * A streamed chunk's JSON with the part that changes per token (a text) spliced between fixed
 * parts serialized once per request: `before + JSON.stringify(text) + after` is exactly
 * `JSON.stringify(chunk)` for the chunk with that text, at a fraction of the cost (it runs once
 * per generated token per stream).
 */
export class ChunkTemplate {
  private readonly before: string;
  private readonly after: string;

  /** `chunk(MARK)` is the chunk with the text at the place of MARK. */
  constructor(chunk: (mark: string) => unknown) {
    const json = JSON.stringify(chunk(MARK));
    const at = json.indexOf(MARK_JSON);
    this.before = json.slice(0, at);
    this.after = json.slice(at + MARK_JSON.length);
  }

  with(text: string): string {
    return this.before + JSON.stringify(text) + this.after;
  }
}


export function sendJson(res: HttpResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { ...headers, "Content-Type": "application/json; charset=utf-8", "Content-Length": Buffer.byteLength(text) });
  res.end(text);
}

/** OpenAI's error body with the error's status (and Retry-After when it has one). */
export function sendError(res: HttpResponse, error: ServeError): void {
  const headers: Record<string, string> = {};
  if (error.retryAfter !== undefined) headers["Retry-After"] = String(error.retryAfter);
  if (error.status === 401) headers["WWW-Authenticate"] = 'Bearer realm="zllm"';
  // a body left unread (too slow) must not be parsed as the next request; a body too large is
  // read to its end and thrown away (http/collect-body.ts), so its connection can go on
  if (error.code === "request_timeout") headers.Connection = "close";
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

  constructor(private readonly res: HttpResponse, private readonly options: SseOptions) {
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

  /** A chunk already serialized as JSON (the per-token hot path builds it from fixed parts). */
  sendSerialized(json: string): void {
    this.write(`data: ${json}\n\n`);
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
