// Idle keep-alive connections (http/exchange.ts): clients are told 5 s, the server waits far
// longer, so a client that reuses a connection late (a busy event loop, a GC pause, a client whose
// own expiry ignores the hint) is not reset mid-request. With node's default (5 s, closed at 6 s)
// the second request below, sent after 7 s idle, found the connection closed.
import { connect } from "node:net";
import { describe, expect, it } from "vitest";
import type { HttpRequest, HttpResponse, HttpTransport, TransportLimits } from "../src/http/exchange";
import { FrontThread } from "../src/http/front";
import { LocalHttp } from "../src/http/local";
import { sendJson } from "../src/http/respond";

const LIMITS: TransportLimits = { maxBodyBytes: 1024, bodyTimeoutMs: 2000, headersTimeoutMs: 2000, stallTimeoutMs: 1000, maxBufferedBytes: 1 << 20 };

const transports: [string, (onRequest: (req: HttpRequest, res: HttpResponse) => void) => HttpTransport][] = [
  ["worker", (onRequest) => new FrontThread(LIMITS, onRequest, () => {})],
  ["main", (onRequest) => new LocalHttp(LIMITS, onRequest)],
];

/** Reads one response (head and Content-Length body) off `socket`; the status and headers. */
function response(socket: ReturnType<typeof connect>): Promise<{ status: number; headers: Map<string, string> }> {
  return new Promise((resolve, reject) => {
    if (socket.readableEnded || socket.destroyed) {
      reject(new Error("the server had closed the connection"));
      return;
    }
    let received = Buffer.alloc(0);
    // a bound that turns a server that never answers into a failure, not a hang; generous, since
    // the official CI runs ~10x slower than an idle machine
    const timer = setTimeout(() => onEnd(), 60_000);
    const onData = (data: Buffer): void => {
      received = Buffer.concat([received, data]);
      const headEnd = received.indexOf("\r\n\r\n");
      if (headEnd < 0) return;
      const head = received.subarray(0, headEnd).toString("latin1").split("\r\n");
      const headers = new Map(head.slice(1).map((line) => [line.slice(0, line.indexOf(":")).toLowerCase(), line.slice(line.indexOf(":") + 1).trim()]));
      if (received.length < headEnd + 4 + Number(headers.get("content-length") ?? 0)) return;
      done();
      resolve({ status: Number(/^HTTP\/1\.1 (\d+)/.exec(head[0])?.[1] ?? 0), headers });
    };
    const onEnd = (): void => {
      done();
      reject(new Error("the server closed the connection (or said nothing for 60 s) instead of answering"));
    };
    const done = (): void => {
      clearTimeout(timer);
      socket.off("data", onData);
      socket.off("end", onEnd);
      socket.off("error", onEnd);
    };
    socket.on("data", onData);
    socket.on("end", onEnd);
    socket.on("error", onEnd);
  });
}

describe.concurrent.each(transports)("keep-alive (HTTP on the %s thread)", (_, make) => {
  it("tells clients 5 s, and still serves a request sent on the same connection after 7 s idle", async () => {
    const transport = make((req, res) => void req.body().then((body) => sendJson(res, 200, { bytes: body.length })));
    const url = await transport.listen(0, "127.0.0.1");
    const socket = connect(Number(new URL(url).port), "127.0.0.1");
    try {
      const request = "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
      socket.write(request);
      const first = await response(socket);
      expect(first.status).toBe(200);
      expect(first.headers.get("connection")).toBe("keep-alive");
      expect(first.headers.get("keep-alive")).toBe("timeout=5");
      // past what clients were told, and past node's default close (5 s + its 1 s)
      await new Promise((resolve) => setTimeout(resolve, 7000));
      socket.write(request);
      expect((await response(socket)).status).toBe(200);
    } finally {
      socket.destroy();
      await transport.closeAll();
    }
  });
});
