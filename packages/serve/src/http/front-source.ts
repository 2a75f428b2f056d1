// The front thread's source: node:http in a worker_threads thread, so that accepting connections,
// parsing HTTP, reading bodies and writing to sockets run beside the engine's thread instead of
// between its decode steps. A string, as @zero-llm/tensor's pool workers are, so it loads from
// any bundle (ESM or CJS) and from the sources under test, with no worker file to locate.
//
// What crosses between the threads (http/front.ts is the other side):
//
//   front → engine   { type: "request", id, method, url, headers, body?: Uint8Array, refusal? }
//                      one per request, once its body is read (or refused: BodyRefusal in http/collect-body.ts)
//                    { type: "gone", id }       the client left before the response was complete
//                    { type: "listening", url } | { type: "listen-failed", message, code }
//                    { type: "closed" }         every connection is closed
//   engine → front   { type: "out", frames, ids, lengths, text }
//                                              every response's output since the last message, one
//                                              entry per response with news: a response with only
//                                              text (a token's chunk) as ids[i] and the next
//                                              lengths[i] code units of text; any other as a frame
//                      frames = [{ id, head?: [status, headers], data?: string | Uint8Array,
//                                  end?: true, destroy?: true }]
//                    { type: "listen", port, host } | { type: "stop-accepting" } | { type: "close-all" }
//
// The engine sends one "out" message per event-loop turn (per decode step: every stream's token
// in one message), so the cost of crossing threads is paid per step, not per token.
//
// Limits that need the socket live here: the body's size (413, refused from Content-Length
// before a byte is kept; the rest read and thrown away) and time (408), by http/collect-body.ts
// embedded below; the headers' time; and a streaming client that stops reading (no bytes taken
// for stallTimeoutMs, or more than maxBufferedBytes waiting: the connection is dropped and the
// engine told it is gone, which cancels the request).
import { collectBody } from "./collect-body";
import { answerClientError } from "./exchange";

export const FRONT_SOURCE = `
"use strict";
// eval workers inherit execArgv, so under --input-type=module this runs as an ES module: no require
const load = (name) => (typeof require === "function" ? require(name) : process.getBuiltinModule(name));
const { parentPort, workerData } = load("node:worker_threads");
const http = load("node:http");
const limits = workerData;
// the body reader of http/collect-body.ts, by its own text: the engine's thread ("main" mode)
// runs the same function, so both modes refuse the same bodies the same way. A bundler that keeps
// function names (esbuild's keepNames, in an application's build of this package) wraps the
// functions inside that text in calls to its helper __name, which stays behind in the bundle's
// scope: the same helper here.
const __name = (fn, name) => Object.defineProperty(fn, "name", { value: name, configurable: true });
const collectBody = ${collectBody.toString()};
// and the clientError answer of http/exchange.ts, by its own text too
const answerClientError = ${answerClientError.toString()};
const bodyLimits = { maxBytes: limits.maxBodyBytes, timeoutMs: limits.bodyTimeoutMs };

/** id → { res, bodyUnread, stallTimer, watched, socket }: the exchanges whose response is not over. */
const exchanges = new Map();
const sockets = new Set();
let nextId = 1;

// node:http's limits, computed on the engine's thread by http/exchange.ts httpServerOptions (the
// same object "main" mode passes)
const server = http.createServer(limits.serverOptions);

server.on("connection", (socket) => {
  sockets.add(socket);
  socket.on("close", () => sockets.delete(socket));
});

server.on("clientError", answerClientError);

server.on("request", (req, res) => {
  const id = nextId++;
  // socket: set once an event stream's head has gone out on a connection this response owns (its
  // chunks are then framed here and written to the socket: see write())
  const exchange = { res, bodyUnread: false, stallTimer: undefined, watched: false, socket: undefined };
  res.setHeader("Keep-Alive", "timeout=" + limits.keepAliveHintS);
  exchanges.set(id, exchange);
  res.on("close", () => {
    clearStall(exchange);
    exchange.socket?.off("drain", exchange.onSocketDrain);
    exchanges.delete(id);
    if (!res.writableFinished) parentPort.postMessage({ type: "gone", id });
  });
  res.on("drain", () => clearStall(exchange));
  collectBody(req, bodyLimits, (outcome) => {
    const message = { type: "request", id, method: req.method || "GET", url: req.url || "/", headers: req.headers };
    if (outcome.refusal) {
      exchange.bodyUnread = outcome.refusal.kind !== "too_large";
      message.refusal = outcome.refusal;
    } else if (outcome.body.length > 0) message.body = outcome.body;
    parentPort.postMessage(message, message.body ? [message.body.buffer] : []);
  });
});

function clearStall(exchange) {
  if (exchange.stallTimer) clearTimeout(exchange.stallTimer);
  exchange.stallTimer = undefined;
}

/** One response's news from the engine, in order: head, data, end (or destroy). */
function apply(frame) {
  const exchange = exchanges.get(frame.id);
  if (!exchange) return; // the client left: the engine hears "gone" and stops writing
  const res = exchange.res;
  if (frame.destroy) {
    res.destroy();
    return;
  }
  if (frame.head) {
    const [status, headers] = frame.head;
    // a body left unread (too slow, broken off) must not be parsed as the next request; a body
    // too large is read to its end and thrown away (collectBody), so its connection can go on
    if (exchange.bodyUnread) headers.Connection = "close";
    res.writeHead(status, headers);
    for (const name in headers) {
      if (name.toLowerCase() === "content-type") exchange.watched = String(headers[name]).startsWith("text/event-stream");
    }
    if (frame.data === undefined && !frame.end) res.flushHeaders();
  }
  if (frame.data !== undefined) {
    if (frame.end) {
      res.end(frame.data); // the last bytes and the end in one write
      return;
    }
    write(exchange, frame.data);
  }
  if (frame.end) {
    res.end();
    return;
  }
  // An event stream's later chunks go straight to its socket, each framed here as HTTP/1.1
  // chunked encoding frames it: one socket.write of one string per step instead of node's four
  // writes (size, CRLF, data, CRLF), a cork and an uncork on the next tick (about a third of this
  // thread's work per token at 32 streams). Only once node has handed the head to the socket (the
  // frame that carried it was written above), when this response owns the connection (res.socket
  // is set: not a pipelined response waiting for the one before it) and node chose chunked
  // encoding (an HTTP/1.1 request); the end stays node's (res.end writes the last chunk after
  // these, on the same socket, in order).
  if (frame.head && exchange.watched && res.socket && res.chunkedEncoding === true) {
    exchange.socket = res.socket;
    exchange.onSocketDrain = () => clearStall(exchange);
  }
}

/** Bytes for a response that goes on; a streaming client that stops reading is dropped. */
function write(exchange, data) {
  const res = exchange.res;
  const socket = exchange.socket;
  const direct = socket !== undefined && !socket.destroyed && typeof data === "string" && data.length > 0;
  const flushed = direct ? socket.write(Buffer.byteLength(data).toString(16) + "\\r\\n" + data + "\\r\\n") : res.write(data);
  // a streaming client that stops reading must not hold the request (and its KV cache) forever
  if (exchange.watched && (direct ? socket.writableLength : res.writableLength) > limits.maxBufferedBytes) {
    res.destroy();
    return;
  }
  if (exchange.watched && !flushed && !exchange.stallTimer) {
    exchange.stallTimer = setTimeout(() => res.destroy(), limits.stallTimeoutMs);
    // node's own drain event (res "drain") is for its own writes: the socket's says when these went out
    if (direct) socket.once("drain", exchange.onSocketDrain);
  }
}

parentPort.on("message", (message) => {
  switch (message.type) {
    case "out": {
      for (const frame of message.frames) apply(frame);
      const { ids, lengths, text } = message;
      for (let i = 0, at = 0; i < ids.length; i++) {
        const end = at + lengths[i];
        const exchange = exchanges.get(ids[i]);
        if (exchange) write(exchange, text.slice(at, end)); // else the client left: "gone" is on its way
        at = end;
      }
      return;
    }
    case "listen": {
      const onError = (e) => parentPort.postMessage({ type: "listen-failed", message: e.message, code: e.code });
      server.once("error", onError);
      server.listen(message.port, message.host, () => {
        server.off("error", onError);
        const address = server.address();
        const shown = address.family === "IPv6" ? "[" + address.address + "]" : address.address;
        parentPort.postMessage({ type: "listening", url: "http://" + shown + ":" + address.port });
      });
      return;
    }
    case "stop-accepting":
      server.close();
      return;
    case "close-all":
      server.close();
      for (const socket of sockets) socket.destroy();
      server.closeAllConnections();
      parentPort.postMessage({ type: "closed" });
      return;
  }
});
`;
