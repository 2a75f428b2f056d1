import { createHash, timingSafeEqual } from "node:crypto";
import { chatCompletions } from "../api/chat";
import { completions } from "../api/completions";
import type { ModelSlot, RouteContext } from "../api/context";
import { embeddings } from "../api/embeddings";
import { getModel, listModels } from "../api/models";
import { detokenize, tokenize } from "../api/tokenize";
import { Engine, type EngineOptions } from "../engine/engine";
import { ServeError } from "../errors";
import { ServerMetrics } from "../metrics";
import { ConstraintCache } from "../model/constraints";
import type { ServedModel } from "../model/load";
import { parseJsonBody } from "./body";
import type { HttpRequest, HttpResponse, HttpTransport } from "./exchange";
import { FrontThread } from "./front";
import { LocalHttp } from "./local";
import { asServeError, sendError, sendJson } from "./respond";
import { serveStatic } from "./static";

export interface ServerOptions {
  /** Loaded models (loadServedModel); the first answers requests that name none. */
  models: readonly ServedModel[];
  /** Engine settings, the same for every model. */
  engine?: Omit<EngineOptions, "metrics">;
  /** Require `Authorization: Bearer <apiKey>` on every route but /health. */
  apiKey?: string;
  /** Allow browsers on this origin (or "*") to call the API; off by default. */
  cors?: string;
  /** Largest request body, bytes. Default 4 MiB. */
  maxBodyBytes?: number;
  /** The whole body must arrive within this (ms), else 408. Default 30 000. */
  bodyTimeoutMs?: number;
  /** The request headers must arrive within this (ms). Default 30 000. */
  headersTimeoutMs?: number;
  /** A request must finish (queue + prefill + generation) within this (ms). Default 600 000. */
  requestTimeoutMs?: number;
  /** A streaming client that reads nothing for this long is dropped (ms). Default 30 000. */
  stallTimeoutMs?: number;
  /** Static files served under / (the playground's dist). Default none. */
  staticDir?: string;
  /** Where the server reports errors it could not send to a client. Default: none. */
  log?: (line: string) => void;
  /**
   * Which thread speaks HTTP. "worker" (default): a front thread accepts connections, parses
   * requests, reads bodies and writes to the sockets, so that this work overlaps the engine's
   * steps (http/front.ts). "main": node:http runs on the engine's thread, between its steps.
   */
  httpThread?: "worker" | "main";
}

/** A streaming client with this much unread is dropped at once. */
const MAX_BUFFERED_BYTES = 8 * 1024 * 1024;

/** Endpoint labels of zllm_requests_total: the known routes, every other path as "other". */
const ENDPOINTS = ["/v1/models", "/v1/completions", "/v1/chat/completions", "/v1/embeddings", "/tokenize", "/detokenize", "/health", "/metrics"] as const;

/**
 * The OpenAI-compatible server over node:http (no framework: eight routes and one body format
 * need none, and every byte of the protocol stays visible here).
 *
 * Safe by default: it listens on 127.0.0.1 unless told otherwise; with an API key every route
 * but /health needs `Authorization: Bearer KEY`; no CORS headers unless `cors` names an origin;
 * bodies are size- and time-limited; a client that leaves cancels its request at once; close()
 * drains in-flight requests within a bound and then cancels what is left.
 */
export class ZllmServer {
  readonly metrics = new ServerMetrics();
  readonly models: ReadonlyMap<string, ModelSlot>;
  private readonly http: HttpTransport;
  private readonly options: ServerOptions;
  private readonly keyDigest: Buffer | undefined;
  private closing: Promise<void> | undefined;
  private hurry = false;

  constructor(options: ServerOptions) {
    if (options.models.length === 0) throw new ServeError("invalid_option", "models: expected at least one loaded model, found none");
    this.options = options;
    const models = new Map<string, ModelSlot>();
    for (const served of options.models) {
      if (models.has(served.id)) throw new ServeError("invalid_option", `models: expected distinct ids, found '${served.id}' twice`);
      const engine = new Engine(served.model, {
        ...options.engine,
        ...(served.draft ? { draft: served.draft } : {}),
        metrics: this.metrics,
        onError: (e) => this.log(`engine (${served.id}): ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`),
      });
      this.metrics.addSource({
        activeSequences: () => engine.activeSequences,
        queueDepth: () => engine.queueDepth,
        kvCacheBytes: () => engine.kvCacheBytes,
        kvCacheCapacityBytes: () => engine.kvCapacityBytes,
        prefixCacheBytes: () => engine.prefixCacheBytes,
      });
      models.set(served.id, { served, engine, constraints: new ConstraintCache(served) });
    }
    this.models = models;
    if (options.apiKey !== undefined && options.apiKey === "") throw new ServeError("invalid_option", "apiKey: expected a non-empty key, found an empty string");
    this.keyDigest = options.apiKey === undefined ? undefined : digest(options.apiKey);
    const limits = {
      maxBodyBytes: options.maxBodyBytes ?? 4 * 1024 * 1024,
      bodyTimeoutMs: options.bodyTimeoutMs ?? 30_000,
      headersTimeoutMs: options.headersTimeoutMs ?? 30_000,
      stallTimeoutMs: options.stallTimeoutMs ?? 30_000,
      maxBufferedBytes: MAX_BUFFERED_BYTES,
    };
    const httpThread = options.httpThread ?? "worker";
    if (httpThread !== "worker" && httpThread !== "main") throw new ServeError("invalid_option", `httpThread: expected "worker" or "main", found ${JSON.stringify(httpThread)}`);
    const onRequest = (req: HttpRequest, res: HttpResponse): void => void this.handle(req, res);
    this.http = httpThread === "worker" ? new FrontThread(limits, onRequest, (line) => this.log(line)) : new LocalHttp(limits, onRequest);
  }

  /** Starts listening; resolves with the base URL (http://host:port). Default host 127.0.0.1. */
  listen(port = 8080, host = "127.0.0.1"): Promise<string> {
    return this.http.listen(port, host);
  }

  /**
   * Graceful shutdown: stop accepting connections, refuse new requests (503), let running ones
   * finish for up to `graceMs`, then cancel the rest (streams get an error event, others a 503)
   * and close every connection.
   */
  close(graceMs = 10_000): Promise<void> {
    this.closing ??= (async () => {
      this.http.stopAccepting();
      for (const { engine } of this.models.values()) engine.drain();
      const deadline = performance.now() + graceMs;
      while (!this.hurry && performance.now() < deadline && [...this.models.values()].some(({ engine }) => !engine.idle)) {
        await new Promise((r) => setTimeout(r, 20));
      }
      for (const { engine } of this.models.values()) engine.cancelAll("shutdown");
      // let the cancelled requests' responses go out, then drop every connection
      await new Promise((r) => setTimeout(r, 50));
      await this.http.closeAll();
    })();
    return this.closing;
  }

  /** Cuts a close() in progress short: what still runs is cancelled now (a second Ctrl-C). */
  closeNow(): Promise<void> {
    this.hurry = true;
    return this.close(0);
  }

  private log(line: string): void {
    this.options.log?.(line);
  }

  private async handle(req: HttpRequest, res: HttpResponse): Promise<void> {
    const arrival = performance.now();
    const url = new URL(req.url, "http://localhost");
    const pathname = url.pathname;
    const endpoint = (ENDPOINTS as readonly string[]).includes(pathname) ? pathname : pathname.startsWith("/v1/models/") ? "/v1/models" : "other";
    res.on("close", () => {
      const status = res.headersSent ? String(res.statusCode) : "499"; // 499: the client left before any answer
      this.metrics.requests.inc({ endpoint, status });
    });
    try {
      if (this.options.cors) this.corsHeaders(res);
      if (req.method === "OPTIONS") {
        // a CORS preflight (browsers send it without credentials)
        res.writeHead(204, { Allow: "GET, POST, OPTIONS" });
        res.end();
        return;
      }
      if (this.closing && pathname !== "/health") throw new ServeError("shutting_down", "The server is shutting down: expected no new requests, found one.", { retryAfter: 5 });
      if (pathname !== "/health") this.authorize(req);
      await this.route(req, res, pathname, arrival);
    } catch (e) {
      const error = asServeError(e);
      if (error.status >= 500 && error.code === "internal_error") this.log(`${req.method} ${pathname}: ${error.cause instanceof Error ? (error.cause.stack ?? error.cause.message) : error.message}`);
      if (!res.headersSent) sendError(res, error);
      else res.destroy();
    }
  }

  private async route(req: HttpRequest, res: HttpResponse, pathname: string, arrival: number): Promise<void> {
    const method = req.method;
    const get = method === "GET" || method === "HEAD";
    const context = async (): Promise<RouteContext> => this.context(req, res, arrival, method === "POST" ? await this.body(req) : undefined);
    const only = (allowed: string): void => {
      if (method !== allowed && !(allowed === "GET" && method === "HEAD")) {
        throw new ServeError("method_not_allowed", `Method not allowed: ${pathname} expects ${allowed}, found ${method}.`);
      }
    };
    switch (pathname) {
      case "/health": {
        only("GET");
        const closing = this.closing !== undefined;
        return sendJson(res, closing ? 503 : 200, { status: closing ? "shutting down" : "ok" });
      }
      case "/metrics":
        only("GET");
        res.writeHead(200, { "Content-Type": "text/plain; version=0.0.4; charset=utf-8" });
        res.end(this.metrics.render());
        return;
      case "/v1/models":
        only("GET");
        return listModels(await context());
      case "/v1/completions":
        only("POST");
        return completions(await context());
      case "/v1/chat/completions":
        only("POST");
        return chatCompletions(await context());
      case "/v1/embeddings":
        only("POST");
        return embeddings(await context());
      case "/tokenize":
        only("POST");
        return tokenize(await context());
      case "/detokenize":
        only("POST");
        return detokenize(await context());
    }
    if (pathname.startsWith("/v1/models/")) {
      only("GET");
      return getModel(await context(), decodeURIComponent(pathname.slice("/v1/models/".length)));
    }
    if (pathname.startsWith("/v1/")) throw new ServeError("not_found", `Unknown endpoint: ${method} ${pathname}.`);
    if (!get) throw new ServeError("method_not_allowed", `Method not allowed: ${pathname} expects GET, found ${method}.`);
    return serveStatic(res, this.options.staticDir, pathname, method === "HEAD");
  }

  private async body(req: HttpRequest): Promise<unknown> {
    return parseJsonBody(await req.body());
  }

  private context(req: HttpRequest, res: HttpResponse, arrival: number, body: unknown): RouteContext {
    return {
      req,
      res,
      body,
      models: this.models,
      metrics: this.metrics,
      arrival,
      deadline: arrival + (this.options.requestTimeoutMs ?? 600_000),
      sse: { stallTimeoutMs: this.options.stallTimeoutMs ?? 30_000, maxBufferedBytes: MAX_BUFFERED_BYTES },
      onClientGone: (fn) => {
        res.on("close", () => {
          if (!res.writableFinished) fn();
        });
      },
    };
  }

  private authorize(req: HttpRequest): void {
    if (!this.keyDigest) return;
    const header = req.headers.authorization;
    if (Array.isArray(header)) throw new ServeError("invalid_api_key", "Invalid API key: expected one 'Authorization: Bearer KEY' header, found several.");
    const match = /^Bearer\s+(.+)$/i.exec(header ?? "");
    // compare digests in constant time: the key's length and content do not leak through timing
    if (!match || !timingSafeEqual(digest(match[1].trim()), this.keyDigest)) {
      throw new ServeError(
        "invalid_api_key",
        match ? "Incorrect API key provided: expected the server's key as 'Authorization: Bearer KEY'." : "Missing API key: expected an 'Authorization: Bearer KEY' header, found none.",
      );
    }
  }

  private corsHeaders(res: HttpResponse): void {
    const origin = this.options.cors ?? "";
    res.setHeader("Access-Control-Allow-Origin", origin);
    if (origin !== "*") res.setHeader("Vary", "Origin");
    res.setHeader("Access-Control-Allow-Methods", "GET, POST, OPTIONS");
    res.setHeader("Access-Control-Allow-Headers", "Authorization, Content-Type");
    res.setHeader("Access-Control-Max-Age", "600");
  }
}

function digest(key: string): Buffer {
  return createHash("sha256").update(key).digest();
}

/** A server for `options.models`, not yet listening (call listen()). */
export function createServer(options: ServerOptions): ZllmServer {
  return new ZllmServer(options);
}
