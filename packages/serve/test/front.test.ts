import { connect } from "node:net";
import { describe, expect, it } from "vitest";
import { until } from "./helpers";
import type { HttpRequest, HttpResponse, TransportLimits } from "../src/http/exchange";
import { FrontThread } from "../src/http/front";

/** The front thread on its own, with a handler in place of the routes (no model needed). */
const LIMITS: TransportLimits = { maxBodyBytes: 1024, bodyTimeoutMs: 2000, headersTimeoutMs: 2000, stallTimeoutMs: 300, maxBufferedBytes: 1 << 20 };

async function withFront(handler: (req: HttpRequest, res: HttpResponse) => void, run: (url: string) => Promise<void>): Promise<void> {
  const front = new FrontThread(LIMITS, handler, () => {});
  const url = await front.listen(0, "127.0.0.1");
  try {
    await run(url);
  } finally {
    await front.closeAll();
  }
}

describe("the front thread (httpThread: worker)", () => {
  it("hands over method, url, headers and body; writes head, chunks and end in order", async () => {
    await withFront(
      (req, res) => {
        void req.body().then((body) => {
          res.setHeader("X-Seen", `${req.method} ${req.url} ${String(req.headers["x-test"])}`);
          res.writeHead(200, { "Content-Type": "text/plain" });
          res.write("a");
          res.write(new TextEncoder().encode("b"));
          setTimeout(() => res.end(`:${new TextDecoder().decode(body)}`), 5);
        });
      },
      async (url) => {
        const r = await fetch(`${url}/x?y=1`, { method: "POST", body: "hello", headers: { "X-Test": "t" } });
        expect(r.status).toBe(200);
        expect(r.headers.get("x-seen")).toBe("POST /x?y=1 t");
        expect(await r.text()).toBe("ab:hello");
      },
    );
  });

  it("refuses a body over the limit (from Content-Length and while reading) and one that is too slow, and the route sees why", async () => {
    const codes: string[] = [];
    await withFront(
      (req, res) => {
        req.body().then(
          () => res.end("read"),
          (e: { code: string }) => {
            codes.push(e.code);
            res.writeHead(413, { Connection: "close" });
            res.end(e.code);
          },
        );
      },
      async (url) => {
        expect(await (await fetch(url, { method: "POST", body: "x".repeat(2000) })).text()).toBe("body_too_large");
        const chunked = new ReadableStream({
          start(controller) {
            for (let i = 0; i < 4; i++) controller.enqueue(new Uint8Array(600));
            controller.close();
          },
        });
        expect(await (await fetch(url, { method: "POST", body: chunked, duplex: "half" } as RequestInit)).text()).toBe("body_too_large");
        // a client that sends half its declared body and then nothing
        const { port } = new URL(url);
        const answer = await new Promise<string>((resolve) => {
          let text = "";
          const socket = connect(Number(port), "127.0.0.1", () => socket.write("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789"));
          socket.on("data", (d) => (text += d.toString()));
          socket.on("close", () => resolve(text));
        });
        expect(answer).toMatch(/request_timeout/);
      },
    );
    expect(codes).toEqual(["body_too_large", "body_too_large", "request_timeout"]);
  });

  it("drops a streaming client that stops reading, and tells the engine side it is gone", async () => {
    let closedEarly = false;
    let timer: ReturnType<typeof setInterval> | undefined;
    await withFront(
      (_req, res) => {
        res.writeHead(200, { "Content-Type": "text/event-stream" });
        const chunk = `data: ${"x".repeat(64 * 1024)}\n\n`;
        timer = setInterval(() => res.write(chunk), 2);
        res.on("close", () => {
          clearInterval(timer);
          closedEarly = !res.writableFinished;
        });
      },
      async (url) => {
        const { port } = new URL(url);
        const socket = connect(Number(port), "127.0.0.1", () => socket.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
        socket.pause(); // reads nothing: the kernel's buffers fill, then the front's
        // dropped by the front while this client still holds its socket: once destroyed below, the
        // close would come anyway, so a bounded wait that ran out used to pass the test regardless
        await until(() => closedEarly);
        socket.destroy();
      },
    );
    clearInterval(timer);
    expect(closedEarly).toBe(true);
  });

  it("reports a client that leaves mid-response as gone (the engine cancels on it)", async () => {
    let gone = false;
    let started!: () => void;
    const streaming = new Promise<void>((r) => (started = r));
    await withFront(
      (_req, res) => {
        res.writeHead(200, { "Content-Type": "text/event-stream" });
        res.write("data: 1\n\n");
        started();
        res.on("close", () => (gone = !res.writableFinished));
      },
      async (url) => {
        const controller = new AbortController();
        const r = await fetch(url, { signal: controller.signal });
        await streaming;
        expect(r.status).toBe(200);
        controller.abort();
        await until(() => gone);
      },
    );
    expect(gone).toBe(true);
  });

  it("frames an event stream's chunks on the socket exactly as node frames any other response's", async () => {
    // the front writes an event stream's chunks to the socket itself (one write per step): the
    // bytes must be node's chunked encoding, byte lengths of multi-byte text included
    const pieces = ["data: 1\n\n", "data: ü🙂 ×\n\n", "data: x\n\ndata: y\n\n", "data: [DONE]\n\n"];
    const rawBody = async (contentType: string): Promise<string> => {
      let body = "";
      await withFront(
        (_req, res) => {
          res.writeHead(200, { "Content-Type": contentType });
          res.write(pieces[0]);
          let i = 1;
          // one piece per turn, as a decode step writes them: each its own message to the front
          const next = (): void => {
            if (i < pieces.length - 1) res.write(pieces[i++]);
            else return void res.end(pieces[i]);
            setTimeout(next, 1);
          };
          setTimeout(next, 1);
        },
        async (url) => {
          const { port } = new URL(url);
          const raw = await new Promise<Buffer>((resolve) => {
            const chunks: Buffer[] = [];
            const socket = connect(Number(port), "127.0.0.1", () => socket.write("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
            socket.on("data", (d: Buffer) => chunks.push(d));
            socket.on("close", () => resolve(Buffer.concat(chunks)));
          });
          const text = raw.toString("utf8");
          body = text.slice(text.indexOf("\r\n\r\n") + 4);
        },
      );
      return body;
    };
    const expected = pieces.map((p) => `${Buffer.byteLength(p).toString(16)}\r\n${p}\r\n`).join("") + "0\r\n\r\n";
    expect(await rawBody("text/event-stream; charset=utf-8")).toBe(expected);
    expect(await rawBody("text/plain; charset=utf-8")).toBe(expected);
  });
});
