import { Worker } from "node:worker_threads";
import { bodyRefusal, type BodyRefusal } from "./body";
import { KEEP_ALIVE_HINT_S, httpServerOptions, type HttpRequest, type HttpResponse, type HttpTransport, type RequestHandler, type TransportLimits } from "./exchange";
import { FRONT_SOURCE } from "./front-source";

/**
 * node:http on a front thread ("worker" mode, the default): the front accepts connections, parses
 * HTTP, reads bodies within the limits and writes to the sockets; the engine's thread runs the
 * routes and the engine. The protocol between the two is drawn in http/front-source.ts.
 *
 *   front thread                          engine thread (this side)
 *   ─────────────────────────────         ───────────────────────────────────────────────
 *   socket → HTTP parser → body   ──req─→ route → engine.submit
 *                                         step: decodeBatch, sample, SSE chunk per stream
 *   res.write per stream          ←─out── one message per event-loop turn: every stream's news
 *   client left / stalled         ─gone─→ the sequence is cancelled
 *
 * Why: on the engine's thread node's HTTP machinery and a socket write per token per stream cost
 * about as much as sampling (the profiles in the serve package's MEASUREMENTS.md); here they
 * overlap the next step.
 */
export class FrontThread implements HttpTransport {
  private worker: Worker | undefined;
  private readonly responses = new Map<number, RemoteResponse>();
  /** The responses with news since the last message. */
  private outbox: RemoteResponse[] = [];
  private flushing = false;
  /** The text-only chunks of the message being built (see flush). */
  private readonly texts = { ids: [] as number[], lengths: [] as number[], text: "" };
  private closed: (() => void) | undefined;

  constructor(
    private readonly limits: TransportLimits,
    private readonly onRequest: RequestHandler,
    private readonly log: (line: string) => void,
  ) {}

  /** Starts the front thread (on the first call) and listens there. */
  listen(port: number, host: string): Promise<string> {
    const worker = (this.worker ??= this.start());
    return new Promise((resolve, reject) => {
      const onExit = (code: number): void => reject(new Error(`http front thread: expected it to listen, found it exited (code ${code})`));
      const onMessage = (message: FrontMessage): void => {
        if (message.type === "listening") resolve(message.url);
        else if (message.type === "listen-failed") reject(Object.assign(new Error(message.message), { code: message.code }));
        else return;
        worker.off("message", onMessage);
        worker.off("exit", onExit);
      };
      worker.on("message", onMessage);
      worker.once("exit", onExit);
      worker.postMessage({ type: "listen", port, host });
    });
  }

  stopAccepting(): void {
    this.worker?.postMessage({ type: "stop-accepting" });
  }

  async closeAll(): Promise<void> {
    const worker = this.worker;
    if (!worker) return;
    this.flush(); // what the routes wrote last goes out before the connections close
    await new Promise<void>((resolve) => {
      this.closed = resolve;
      worker.postMessage({ type: "close-all" });
    });
    this.worker = undefined;
    await worker.terminate();
  }

  /** `res` has news for the next message (sent once the current event-loop turn's work is done). */
  queue(res: RemoteResponse): void {
    this.outbox.push(res);
    if (this.flushing) return;
    this.flushing = true;
    // a microtask runs when the code that is running now (an engine step writing every stream's
    // token) has returned: one message per step
    queueMicrotask(() => this.flush());
  }

  forget(id: number): void {
    this.responses.delete(id);
  }

  private flush(): void {
    this.flushing = false;
    if (this.outbox.length === 0 || !this.worker) return;
    // A token's chunk (text only, the common case) travels as its response's id and its length
    // in one string of every such chunk; heads, ends, destroys and bytes go as frames. Fewer
    // objects to clone on this thread and to rebuild on the front, once per step.
    const { texts } = this;
    const frames: Frame[] = [];
    for (const res of this.outbox) {
      const frame = res.take();
      if (typeof frame.data === "string" && !frame.head && !frame.end && !frame.destroy) {
        texts.ids.push(frame.id);
        texts.lengths.push(frame.data.length);
        texts.text += frame.data;
      } else frames.push(frame);
    }
    this.outbox = [];
    const message: OutMessage = { type: "out", frames, ids: texts.ids, lengths: texts.lengths, text: texts.text };
    this.worker.postMessage(message);
    // postMessage has copied them: the lists are reused for the next step
    texts.ids.length = texts.lengths.length = 0;
    texts.text = "";
  }

  private start(): Worker {
    const worker = new Worker(FRONT_SOURCE, { eval: true, workerData: { ...this.limits, keepAliveHintS: KEEP_ALIVE_HINT_S, serverOptions: httpServerOptions(this.limits) } });
    worker.on("message", (message: FrontMessage) => this.receive(message));
    worker.on("error", (error) => {
      this.log(`http front thread: ${error.stack ?? error.message}`);
      this.abandonAll();
    });
    worker.on("exit", () => {
      this.worker = undefined;
      this.abandonAll();
      this.closed?.();
    });
    return worker;
  }

  private receive(message: FrontMessage): void {
    switch (message.type) {
      case "request": {
        const res = new RemoteResponse(message.id, this);
        this.responses.set(message.id, res);
        const { body, refusal } = message;
        const request: HttpRequest = {
          method: message.method,
          url: message.url,
          headers: message.headers,
          body: () => (refusal ? Promise.reject(bodyRefusal(refusal)) : Promise.resolve(body ?? new Uint8Array(0))),
        };
        this.onRequest(request, res);
        return;
      }
      case "gone":
        this.responses.get(message.id)?.gone();
        this.responses.delete(message.id);
        return;
      case "closed":
        this.closed?.();
        return;
    }
  }

  /** The front thread is gone: so is every client. */
  private abandonAll(): void {
    for (const res of this.responses.values()) res.gone();
    this.responses.clear();
  }
}

type FrontMessage =
  | { type: "request"; id: number; method: string; url: string; headers: Record<string, string | string[] | undefined>; body?: Uint8Array; refusal?: BodyRefusal }
  | { type: "gone"; id: number }
  | { type: "listening"; url: string }
  | { type: "listen-failed"; message: string; code?: string }
  | { type: "closed" };

/**
 * Every response's news since the last message: the text-only ones as `text` cut by `lengths`
 * (the i-th piece is response ids[i]'s, UTF-16 code units), the others as frames.
 */
interface OutMessage {
  readonly type: "out";
  readonly frames: readonly Frame[];
  readonly ids: readonly number[];
  readonly lengths: readonly number[];
  readonly text: string;
}

/** One response's news for the front: its head, the bytes written, its end (or a destroy). */
interface Frame {
  readonly id: number;
  head?: [number, Record<string, string | number>];
  data?: string | Uint8Array;
  end?: true;
  destroy?: true;
}

/**
 * The engine side of a response in "worker" mode: what the route does (headers, writes, end) is
 * recorded in the response's pending frame, sent with every other response's at the end of the
 * turn. Writes never wait here: the front watches the socket (a client that stops reading is
 * dropped there, and "gone" comes back), so write() is always true and nothing is buffered.
 */
class RemoteResponse implements HttpResponse {
  headersSent = false;
  statusCode = 200;
  destroyed = false;
  writableEnded = false;
  writableFinished = false;
  readonly writableLength = 0;
  private readonly headers: Record<string, string | number> = {};
  private pending: Frame | undefined;
  private readonly closeListeners: (() => void)[] = [];

  constructor(
    private readonly id: number,
    private readonly front: FrontThread,
  ) {}

  setHeader(name: string, value: string): void {
    this.headers[name] = value;
  }

  writeHead(status: number, headers: Record<string, string | number> = {}): void {
    if (this.headersSent || this.destroyed) return;
    this.statusCode = status;
    this.headersSent = true;
    // later names replace earlier ones whatever their case, as node's writeHead over setHeader
    const all: Record<string, string | number> = {};
    const put = (name: string, value: string | number): void => {
      for (const known of Object.keys(all)) if (known.toLowerCase() === name.toLowerCase()) delete all[known];
      all[name] = value;
    };
    for (const [name, value] of Object.entries(this.headers)) put(name, value);
    for (const [name, value] of Object.entries(headers)) put(name, value);
    this.frame().head = [status, all];
  }

  flushHeaders(): void {
    if (!this.headersSent) this.writeHead(this.statusCode);
  }

  write(chunk: string | Uint8Array): boolean {
    if (this.writableEnded || this.destroyed) return true;
    if (!this.headersSent) this.writeHead(this.statusCode);
    const frame = this.frame();
    frame.data = frame.data === undefined ? chunk : join(frame.data, chunk);
    return true;
  }

  end(chunk?: string | Uint8Array): void {
    if (this.writableEnded || this.destroyed) return;
    if (chunk !== undefined && chunk.length > 0) this.write(chunk);
    else if (!this.headersSent) this.writeHead(this.statusCode);
    this.writableEnded = true;
    this.frame().end = true;
    this.writableFinished = true;
    this.front.forget(this.id);
    this.emitClose();
  }

  destroy(): void {
    if (this.writableEnded || this.destroyed) return;
    this.destroyed = true;
    this.frame().destroy = true;
    this.front.forget(this.id);
    this.emitClose();
  }

  on(event: "close" | "drain", listener: () => void): void {
    // no drain: nothing is ever buffered on this side
    if (event === "close") this.closeListeners.push(listener);
  }

  /** `close` happens once, so once is on. */
  once(event: "close" | "drain", listener: () => void): void {
    this.on(event, listener);
  }

  off(event: "close" | "drain", listener: () => void): void {
    const i = this.closeListeners.indexOf(listener);
    if (event === "close" && i >= 0) this.closeListeners.splice(i, 1);
  }

  /** The news for the message going out now. */
  take(): Frame {
    const frame = this.pending ?? { id: this.id };
    this.pending = undefined;
    return frame;
  }

  /** The client left before the end (or the front thread stopped). */
  gone(): void {
    if (this.writableEnded || this.destroyed) return;
    this.destroyed = true;
    this.emitClose();
  }

  private frame(): Frame {
    if (this.pending) return this.pending;
    const frame: Frame = { id: this.id };
    this.pending = frame;
    this.front.queue(this);
    return frame;
  }

  private emitClose(): void {
    // after the caller's own code, as node emits it
    queueMicrotask(() => {
      for (const listener of this.closeListeners) listener();
    });
  }
}

function join(a: string | Uint8Array, b: string | Uint8Array): string | Uint8Array {
  if (typeof a === "string" && typeof b === "string") return a + b;
  return Buffer.concat([typeof a === "string" ? Buffer.from(a) : a, typeof b === "string" ? Buffer.from(b) : b]);
}
