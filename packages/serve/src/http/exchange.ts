/**
 * One HTTP exchange as the routes see it, whichever thread speaks HTTP. In "main" mode these are
 * node's own IncomingMessage and ServerResponse (which have every member below); in "worker" mode
 * (http/front.ts) a front thread owns the sockets and the engine's thread gets the request in one
 * message and answers through a RemoteResponse that records what the route writes.
 */

/** The request line, the headers, and the body read within the server's limits. */
export interface HttpRequest {
  readonly method: string;
  /** The request target as sent: path and query. */
  readonly url: string;
  /** Lower-case names, as node gives them. */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The body's bytes; rejects with a ServeError (413 body_too_large, 408 request_timeout, 400) when it cannot be had. */
  body(): Promise<Uint8Array>;
}

/** What the routes do with a response: the part of node's ServerResponse they use. */
export interface HttpResponse {
  readonly headersSent: boolean;
  readonly statusCode: number;
  readonly destroyed: boolean;
  readonly writableEnded: boolean;
  /** The whole response went out (a `close` before this means the client left). */
  readonly writableFinished: boolean;
  /** Bytes written but not yet taken by the client. */
  readonly writableLength: number;
  setHeader(name: string, value: string): unknown;
  writeHead(status: number, headers?: Record<string, string | number>): unknown;
  flushHeaders(): void;
  write(chunk: string | Uint8Array): boolean;
  end(chunk?: string | Uint8Array): unknown;
  destroy(): unknown;
  /** `close`: the exchange is over (finished, or the client left); `drain`: buffered bytes went out. */
  on(event: "close" | "drain", listener: () => void): unknown;
  once(event: "close" | "drain", listener: () => void): unknown;
  off(event: "close" | "drain", listener: () => void): unknown;
}

/** Where node:http runs: it hands each request to `onRequest` and owns the sockets. */
export interface HttpTransport {
  /** Starts listening; resolves with the base URL (http://host:port). */
  listen(port: number, host: string): Promise<string>;
  /** No new connections (open ones go on). */
  stopAccepting(): void;
  /** Every connection closed at once, and the transport's resources released. */
  closeAll(): Promise<void>;
}

/** The server's limits that the transport applies, before a request reaches a route. */
export interface TransportLimits {
  maxBodyBytes: number;
  bodyTimeoutMs: number;
  headersTimeoutMs: number;
  /** A streaming response whose client takes nothing for this long is dropped (ms). */
  stallTimeoutMs: number;
  /** …or as soon as this many bytes wait for it. */
  maxBufferedBytes: number;
}

export type RequestHandler = (req: HttpRequest, res: HttpResponse) => void;

/**
 * Idle keep-alive connections: clients are told to stop reusing one after KEEP_ALIVE_HINT_S
 * (`Keep-Alive: timeout=5` on every response), and the server closes it only after
 * KEEP_ALIVE_IDLE_MS (node adds 1 s). A client that reuses a connection just as the server closes
 * it gets a reset on a request it cannot safely send again (a POST). With node's default (5 s,
 * closed at 6 s) a fetch (undici: 4 s) on an event loop busy for 2 s across that moment did
 * (test/keep-alive.test.ts); with the gap it takes a client stalled for a minute. 65 s also
 * outlasts clients that ignore the hint: httpx (openai-python) 5 s, aiohttp 15 s, a load
 * balancer's usual 60 s. The cost is an idle socket held for a minute.
 */
export const KEEP_ALIVE_HINT_S = 5;
export const KEEP_ALIVE_IDLE_MS = 65_000;

/** node:http's own limits for a server with these TransportLimits (both modes, http/local.ts and http/front.ts). */
export function httpServerOptions(limits: TransportLimits): {
  headersTimeout: number;
  requestTimeout: number;
  connectionsCheckingInterval: number;
  keepAliveTimeout: number;
} {
  return {
    headersTimeout: limits.headersTimeoutMs,
    // node's own whole-request limit, a backstop behind the body timer
    requestTimeout: limits.headersTimeoutMs + limits.bodyTimeoutMs + 1000,
    // how often node checks those two timeouts (its default, 30 s, would let a slow client hang on)
    connectionsCheckingInterval: Math.min(1000, limits.headersTimeoutMs),
    // idle connections outlive what clients are told (above): the client stops reusing first
    keepAliveTimeout: KEEP_ALIVE_IDLE_MS,
  };
}

/**
 * node:http's "clientError" (malformed HTTP, a header timeout): answer if the socket still can,
 * then close it. Self-contained, like collectBody: the front thread runs it by its own text.
 */
export function answerClientError(error: Error & { code?: string }, socket: { writable: boolean; destroy(): void; end(data: string): void }): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const status = error.code === "ERR_HTTP_REQUEST_TIMEOUT" ? "408 Request Timeout" : error.code === "HPE_HEADER_OVERFLOW" ? "431 Request Header Fields Too Large" : "400 Bad Request";
  socket.end("HTTP/1.1 " + status + "\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
}
