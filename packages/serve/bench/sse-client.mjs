// The benches' streaming client: one POST with a JSON body over a kept-alive TCP connection, the
// response read as HTTP/1.1 by hand (status line, headers, chunked or Content-Length body) and its
// server-sent events handed over one by one as they arrive. The client shares the machine with
// the server it measures (2 cores here), so it is kept lean: every CPU µs it spends per token is
// one the server lacks. undici's fetch with a web ReadableStream and a TextDecoder cost about
// 100 µs of client CPU per streamed token; node:http's client (llhttp, an IncomingMessage stream
// per response, a string decoder) about 17–40; this reader about half of that (the serve
// package's MEASUREMENTS.md, "… a leaner load generator"). It still reads and checks every byte:
// each chunk's size line and its closing CRLF, the zero-size last chunk, and that the stream's
// last event is `data: [DONE]` with nothing after it; anything else rejects (a truncated or
// malformed stream is a failure).
import net from "node:net";

const CRLF = 0x0d0a; // "\r\n" read as a big-endian uint16
const CRLF_BYTES = Buffer.from("\r\n");
const EVENT_END = Buffer.from("\n\n");
const HEAD_END = Buffer.from("\r\n\r\n");
const DATA_PREFIX = "data: ";

/** Idle kept-alive connections by "host:port". */
const idle = new Map();

/**
 * POSTs `body` to `url` and calls onEvent(data, arrivedAt) for each `data: …` event of the
 * response (arrivedAt: performance.now() when the bytes holding it were read). Resolves when the
 * response ends with `data: [DONE]`; rejects on a status other than 200 (with the body), a
 * connection error, or a stream that is malformed or ends early.
 *
 * A kept-alive connection the server closed while idle (its keep-alive timeout, while this
 * process was busy and did not see the close) fails before any byte of a response: such a
 * request never reached the server and is sent once more, on a new connection.
 */
export async function streamEvents(url, body, onEvent) {
  const { hostname, port, pathname, search } = new URL(url);
  const target = { host: hostname.replace(/^\[|\]$/g, ""), port: Number(port || 80), path: pathname + search };
  const payload = Buffer.from(JSON.stringify(body));
  const head = `POST ${target.path} HTTP/1.1\r\nHost: ${hostname}:${target.port}\r\nContent-Type: application/json\r\nContent-Length: ${payload.length}\r\nConnection: keep-alive\r\n\r\n`;
  const request = Buffer.concat([Buffer.from(head, "latin1"), payload]);
  const reused = takeIdle(target);
  try {
    return await exchange(reused ?? connect(target), target, request, onEvent);
  } catch (error) {
    if (!reused || error.responded) throw error;
    return exchange(connect(target), target, request, onEvent);
  }
}

function key(target) {
  return `${target.host}:${target.port}`;
}

/**
 * Reads go into one buffer shared by every connection (node's `onread`: no Buffer allocated per
 * read and no readable stream in between); each read is consumed before the next one arrives,
 * and what must wait for more bytes is copied out.
 */
const READ_BUFFER = Buffer.alloc(64 * 1024);

function connect(target) {
  const socket = net.connect({
    host: target.host,
    port: target.port,
    onread: { buffer: READ_BUFFER, callback: (n, buf) => socket.onBytes?.(buf.subarray(0, n)) },
  });
  socket.setNoDelay(true);
  return socket;
}

function takeIdle(target) {
  const list = idle.get(key(target));
  while (list && list.length > 0) {
    const { socket, drop } = list.pop();
    socket.off("close", drop).off("error", drop).off("end", drop);
    if (!socket.destroyed && socket.readable && socket.writable) return socket;
  }
  return undefined;
}

function keepIdle(target, socket) {
  let list = idle.get(key(target));
  if (!list) idle.set(key(target), (list = []));
  // a connection the server closes while idle leaves the pool; an error on it is that close
  const entry = {
    socket,
    drop: () => {
      const i = list.indexOf(entry);
      if (i >= 0) list.splice(i, 1);
      socket.destroy();
    },
  };
  socket.on("close", entry.drop).on("error", entry.drop).on("end", entry.drop);
  list.push(entry);
}

/** One request on `socket` and its response, read as it arrives. */
function exchange(socket, target, request, onEvent) {
  return new Promise((resolve, reject) => {
    const reader = new ResponseReader(onEvent);
    let settled = false;
    const settle = (error) => {
      if (settled) return;
      settled = true;
      socket.onBytes = undefined;
      socket.off("error", onError);
      socket.off("close", onClose);
      if (error) {
        error.responded = reader.responded;
        socket.destroy();
        reject(error);
        return;
      }
      if (reader.keepAlive) keepIdle(target, socket);
      else socket.destroy();
      if (reader.status !== 200) reject(new Error(`status ${reader.status}: ${reader.errorText}`));
      else resolve();
    };
    const onData = (bytes) => {
      try {
        if (reader.push(bytes, performance.now())) settle();
      } catch (error) {
        settle(error);
      }
    };
    const onError = (error) => settle(error);
    const onClose = () => {
      const error = new Error(reader.responded ? "the server closed the connection before the response ended (truncated)" : "the server closed the connection before responding");
      error.code = "ECONNRESET";
      settle(error);
    };
    socket.onBytes = onData;
    socket.on("error", onError);
    socket.on("close", onClose);
    socket.write(request);
  });
}

/**
 * An HTTP/1.1 response as bytes arrive: the head, then the body (chunked, or Content-Length
 * bytes), whose server-sent events go to onEvent as each one is complete. Events are cut at their
 * "\n\n" in bytes and decoded whole, so a UTF-8 character split across reads is never torn.
 */
class ResponseReader {
  responded = false;
  status = 0;
  keepAlive = true;
  errorText = "";
  /** Bytes not yet consumed (a head or a size line split across reads). */
  pending = null;
  /** "head" | "size" | "data" | "data-end" | "trailer" | "plain" */
  state = "head";
  chunked = false;
  /** Body bytes left in the current chunk (or of the Content-Length body). */
  left = 0;
  /** The body's bytes not yet cut into events. */
  events = null;
  sawDone = false;

  constructor(onEvent) {
    this.onEvent = onEvent;
  }

  /** Consumes `bytes`; true when the response is complete. */
  push(bytes, now) {
    this.responded = true;
    const buf = this.pending === null ? bytes : Buffer.concat([this.pending, bytes]);
    this.pending = null;
    let at = 0;
    for (;;) {
      if (this.state === "head") {
        const end = buf.indexOf(HEAD_END, at);
        if (end < 0) break;
        this.readHead(buf.latin1Slice(at, end));
        at = end + 4;
        continue;
      }
      if (this.state === "size") {
        const end = buf.indexOf(CRLF_BYTES, at);
        if (end < 0) break;
        const line = buf.latin1Slice(at, end);
        const size = parseInt(line, 16);
        if (!/^[0-9a-fA-F]+(;.*)?$/.test(line) || !Number.isFinite(size)) throw new Error(`malformed chunk size line ${JSON.stringify(line)}`);
        at = end + 2;
        this.left = size;
        this.state = size === 0 ? "trailer" : "data";
        continue;
      }
      if (this.state === "data" || this.state === "plain") {
        if (this.left === 0) return this.finish(buf, at); // an empty Content-Length body
        if (at === buf.length) break;
        const take = Math.min(this.left, buf.length - at);
        this.body(buf, at, at + take, now);
        at += take;
        this.left -= take;
        if (this.left > 0) break;
        if (this.state === "plain") return this.finish(buf, at);
        this.state = "data-end";
        continue;
      }
      if (this.state === "data-end") {
        if (buf.length - at < 2) break;
        if (buf.readUInt16BE(at) !== CRLF) throw new Error("malformed chunk: expected CRLF after its data");
        at += 2;
        this.state = "size";
        continue;
      }
      // trailer: no trailer fields are sent, only the final CRLF
      if (buf.length - at < 2) break;
      if (buf.readUInt16BE(at) !== CRLF) throw new Error("malformed chunked body: expected CRLF after the last chunk");
      return this.finish(buf, at + 2);
    }
    if (at < buf.length) this.pending = Buffer.from(buf.subarray(at)); // a copy: the read buffer is reused
    return false;
  }

  readHead(text) {
    const lines = text.split("\r\n");
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0]);
    if (!m) throw new Error(`malformed status line ${JSON.stringify(lines[0])}`);
    this.status = Number(m[1]);
    let length = -1;
    for (let i = 1; i < lines.length; i++) {
      const colon = lines[i].indexOf(":");
      const name = lines[i].slice(0, colon).toLowerCase();
      const value = lines[i].slice(colon + 1).trim();
      if (name === "transfer-encoding") this.chunked = value.toLowerCase() === "chunked";
      else if (name === "content-length") length = Number(value);
      else if (name === "connection") this.keepAlive = value.toLowerCase() !== "close";
    }
    if (this.chunked) this.state = "size";
    else if (length >= 0) {
      this.state = "plain";
      this.left = length;
    } else throw new Error("response without Content-Length or chunked encoding: cannot tell where it ends");
  }

  body(buf, from, to, now) {
    if (this.status !== 200) {
      this.errorText += buf.toString("utf8", from, to);
      return;
    }
    if (from === to) return;
    let bytes = this.events === null ? buf.subarray(from, to) : Buffer.concat([this.events, buf.subarray(from, to)]);
    this.events = null;
    let at = 0;
    let end;
    while ((end = bytes.indexOf(EVENT_END, at)) >= 0) {
      if (this.sawDone) throw new Error("an event after data: [DONE]");
      const event = bytes.toString("utf8", at, end);
      at = end + 2;
      if (!event.startsWith(DATA_PREFIX)) continue;
      const data = event.slice(DATA_PREFIX.length);
      if (data === "[DONE]") this.sawDone = true;
      this.onEvent(data, now);
    }
    if (at < bytes.length) this.events = Buffer.from(bytes.subarray(at)); // a copy: the read buffer is reused
  }

  finish(buf, at) {
    if (at !== buf.length) throw new Error(`${buf.length - at} bytes after the end of the response`);
    if (this.status === 200) {
      if (this.events !== null) throw new Error(`the stream ended inside an event (${this.events.length} bytes without their "\\n\\n")`);
      if (!this.sawDone) throw new Error("the stream ended without data: [DONE] (truncated)");
    }
    return true;
  }
}

