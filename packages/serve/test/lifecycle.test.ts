import { EventEmitter } from "node:events";
import type { ServerResponse } from "node:http";
import { mkdtemp, mkdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { SseStream } from "../src/http/respond";
import { haveDefaultModel, HTTP_THREADS, startServer, until } from "./helpers";

const chat = (url: string, body: Record<string, unknown>): Promise<Response> =>
  fetch(`${url}/v1/chat/completions`, { method: "POST", body: JSON.stringify({ messages: [{ role: "user", content: "Tell me about the jury." }], ...body }) });
// completions have no template stop ("\n"), so these run their full length
const complete = (url: string, body: Record<string, unknown>): Promise<Response> =>
  fetch(`${url}/v1/completions`, { method: "POST", body: JSON.stringify({ prompt: "The jury said", ...body }) });

describe.skipIf(!haveDefaultModel).each(HTTP_THREADS)("lifecycle: timeouts and graceful shutdown (HTTP on the %s thread)", (httpThread) => {
  it("a request past its deadline ends: a 504, or an error event in a stream", async () => {
    const s = await startServer({ httpThread, requestTimeoutMs: 1 });
    try {
      const r = await chat(s.url, { max_tokens: 50 });
      expect(r.status).toBe(504);
      expect(((await r.json()) as { error: { code: string; type: string } }).error).toMatchObject({ code: "generation_timeout", type: "timeout_error" });
      // a stream is opened once admitted: the timeout comes as an error event, then [DONE]
      const stream = await chat(s.url, { max_tokens: 50, stream: true });
      const text = await stream.text();
      expect(text).toMatch(/data: \{"error":\{"message":"The request did not finish in time[^"]*","type":"timeout_error","param":null,"code":"generation_timeout"\}\}/);
      expect(text.trimEnd().endsWith("data: [DONE]")).toBe(true);
    } finally {
      await s.close();
    }
  });

  it("shutdown lets in-flight requests finish within the grace period, refuses new ones with 503 meanwhile", async () => {
    const s = await startServer({ httpThread });
    const inflight = complete(s.url, { max_tokens: 100, seed: 1 });
    const engine = [...s.server.models.values()][0].engine;
    await until(() => engine.activeSequences > 0);
    const closing = s.server.close(10_000);
    const health = await fetch(`${s.url}/health`).then((r) => r.status, () => -1);
    const refused = await chat(s.url, { max_tokens: 2 }).then((r) => r.status, () => -1);
    const done = await inflight;
    expect(done.status).toBe(200);
    expect(((await done.json()) as { choices: { finish_reason: string }[] }).choices[0].finish_reason).toMatch(/stop|length/);
    await closing;
    // new connections are refused once the listener closed; a kept-alive one got a 503
    expect([503, -1]).toContain(refused);
    expect([503, -1]).toContain(health);
    await s.close();
  });

  it("past the grace period the rest is cancelled: a stream gets an error event, then [DONE]", async () => {
    const s = await startServer({ httpThread, engine: { parallel: 1 } });
    // long enough to still be running when the 30 ms grace ends: 100 tokens (~30 ms at an idle
    // machine's 3,000+ tokens/s) could finish first
    const res = await complete(s.url, { stream: true, seed: 2, max_tokens: 450 });
    const reader = res.body?.getReader();
    if (!reader) throw new Error("no body");
    await reader.read(); // admitted: headers and the role chunk
    await s.server.close(30);
    // what shows the cancel is the error event below (a close that waited for the stream would
    // end it normally), not the wall-clock time close() took, which a loaded CI machine stretches
    let text = "";
    for (;;) {
      const { done, value } = await reader.read().catch(() => ({ done: true, value: undefined }));
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    expect(text).toMatch(/"code":"shutting_down"/);
    expect(text.trimEnd().endsWith("data: [DONE]")).toBe(true);
    await s.close();
  });
});

describe.skipIf(!haveDefaultModel).each(HTTP_THREADS)("static files for the playground (HTTP on the %s thread)", (httpThread) => {
  it("serves dist/ under / with cross-origin isolation headers, and nothing outside it", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "zllm-static-"));
    const dist = path.join(dir, "dist");
    await mkdir(dist);
    await writeFile(path.join(dist, "index.html"), "<!doctype html><title>playground</title>");
    await writeFile(path.join(dist, "app.js"), "console.log(1)");
    await writeFile(path.join(dist, ".secret"), "no");
    await writeFile(path.join(dir, "outside.txt"), "no");
    const s = await startServer({ httpThread, staticDir: dist });
    try {
      const index = await fetch(`${s.url}/`);
      expect(index.status).toBe(200);
      expect(index.headers.get("content-type")).toMatch(/text\/html/);
      expect(index.headers.get("cross-origin-opener-policy")).toBe("same-origin");
      expect(index.headers.get("cross-origin-embedder-policy")).toBe("require-corp");
      expect(await index.text()).toContain("playground");
      const js = await fetch(`${s.url}/app.js`);
      expect(js.headers.get("content-type")).toMatch(/javascript/);
      expect(js.headers.get("cross-origin-embedder-policy")).toBe("require-corp");
      for (const bad of ["/.secret", "/%2e%2e/outside.txt", "/..%2Foutside.txt", "/nothing.js"]) {
        expect((await fetch(`${s.url}${bad}`)).status, bad).toBe(404);
      }
    } finally {
      await s.close();
      await rm(dir, { recursive: true, force: true });
    }
    const bare = await startServer({ httpThread });
    try {
      const r = await fetch(`${bare.url}/`);
      expect(r.status).toBe(404);
      expect(((await r.json()) as { error: { message: string } }).error.message).toMatch(/playground is not built/);
    } finally {
      await bare.close();
    }
  });
});

describe("SseStream", () => {
  /** A response that takes no more bytes (a client that stopped reading). */
  class FullResponse extends EventEmitter {
    writableLength = 0;
    writableEnded = false;
    headersSent = false;
    written: string[] = [];
    write(text: string): boolean {
      this.written.push(text);
      this.writableLength += text.length;
      return false;
    }
    end(): void {
      this.writableEnded = true;
    }
  }

  it("drops a reader that drains nothing within the stall timeout, and keeps one that drains", async () => {
    const stalled = new FullResponse();
    let stalls = 0;
    const sse = new SseStream(stalled as unknown as ServerResponse, { stallTimeoutMs: 30, maxBufferedBytes: 1 << 20, onStall: () => stalls++ });
    sse.send({ a: 1 });
    expect(stalled.written).toEqual(['data: {"a":1}\n\n']);
    await new Promise((r) => setTimeout(r, 60));
    expect(stalls).toBe(1);

    const slow = new FullResponse();
    let slowStalls = 0;
    const ok = new SseStream(slow as unknown as ServerResponse, { stallTimeoutMs: 30, maxBufferedBytes: 1 << 20, onStall: () => slowStalls++ });
    ok.send({ b: 2 });
    slow.emit("drain");
    await new Promise((r) => setTimeout(r, 60));
    expect(slowStalls).toBe(0);

    const flooded = new FullResponse();
    let floods = 0;
    const f = new SseStream(flooded as unknown as ServerResponse, { stallTimeoutMs: 10_000, maxBufferedBytes: 100, onStall: () => floods++ });
    for (let i = 0; i < 10; i++) f.send({ text: "x".repeat(20) });
    expect(floods).toBeGreaterThan(0); // over the buffer bound: dropped at once, not after the timeout
  });
});
