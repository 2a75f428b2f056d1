import type { WasmBackend } from "@zero-llm/tensor";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { haveDefaultModel, metric, metrics, HTTP_THREADS, startServer, until, type Running } from "./helpers";

interface StreamOutcome {
  text: string;
  finish: string[];
  usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number } | undefined;
  errors: unknown[];
  chunks: number;
}

/** One streaming chat request read to the end with fetch (no client library in the way). */
async function streamChat(url: string, body: Record<string, unknown>, abort?: { signal: AbortController; afterChunks?: number }): Promise<StreamOutcome> {
  const out: StreamOutcome = { text: "", finish: [], usage: undefined, errors: [], chunks: 0 };
  try {
    await readStream(url, body, out, abort);
  } catch (e) {
    if (!abort?.signal.signal.aborted) throw e;
  }
  return out;
}

async function readStream(url: string, body: Record<string, unknown>, out: StreamOutcome, abort?: { signal: AbortController; afterChunks?: number }): Promise<void> {
  const signal = abort?.signal.signal;
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ ...body, stream: true, stream_options: { include_usage: true } }),
    signal,
  });
  if (res.status !== 200) {
    out.errors.push(await res.text());
    return;
  }
  const reader = res.body?.getReader();
  if (!reader) throw new Error("no body");
  const decoder = new TextDecoder();
  let buffered = "";
  let sawDone = false;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    buffered += decoder.decode(value, { stream: true });
    let at: number;
    while ((at = buffered.indexOf("\n\n")) >= 0) {
      const event = buffered.slice(0, at);
      buffered = buffered.slice(at + 2);
      if (!event.startsWith("data: ")) continue;
      const data = event.slice(6);
      if (data === "[DONE]") {
        sawDone = true;
        continue;
      }
      const chunk = JSON.parse(data) as {
        error?: unknown;
        choices?: { delta: { content?: string }; finish_reason: string | null }[];
        usage?: StreamOutcome["usage"] | null;
      };
      out.chunks++;
      if (out.chunks === abort?.afterChunks) {
        // leave: abort the request and drop the body (undici may otherwise keep a pending read open)
        abort.signal.abort();
        await reader.cancel().catch(() => {});
        return;
      }
      if (chunk.error) out.errors.push(chunk.error);
      for (const c of chunk.choices ?? []) {
        out.text += c.delta.content ?? "";
        if (c.finish_reason) out.finish.push(c.finish_reason);
      }
      if (chunk.usage) out.usage = chunk.usage;
    }
  }
  if (!sawDone) out.errors.push("no [DONE]");
}

describe.skipIf(!haveDefaultModel).each(HTTP_THREADS)("load: concurrent streams, random disconnects (HTTP on the %s thread)", (httpThread) => {
  let s: Running;
  beforeAll(async () => {
    s = await startServer({ httpThread, engine: { parallel: 32, queueSize: 256 } });
  });
  afterAll(async () => {
    await s?.close();
  });

  it("32 concurrent streaming clients all complete, with exact usage and no errors", async () => {
    const request = (i: number): Record<string, unknown> => ({ messages: [{ role: "user", content: `Client ${i} asks the jury.` }], max_tokens: 24, seed: i, temperature: 0.8 });
    // client 5's request alone first: batched with 31 others it must give the same text (determinism)
    const alone = await streamChat(s.url, request(5));
    const before = metric(await metrics(s.url), "zllm_generated_tokens_total");
    const outcomes = await Promise.all(
      Array.from({ length: 32 }, (_, i) => streamChat(s.url, request(i))),
    );
    expect(outcomes[5].text).toBe(alone.text);
    let generated = 0;
    for (const o of outcomes) {
      expect(o.errors).toEqual([]);
      expect(o.finish).toHaveLength(1);
      expect(["stop", "length"]).toContain(o.finish[0]);
      expect(o.usage).toBeDefined();
      const usage = o.usage ?? { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 };
      expect(usage.total_tokens).toBe(usage.prompt_tokens + usage.completion_tokens);
      if (o.finish[0] === "length") expect(usage.completion_tokens).toBe(24);
      else expect(usage.completion_tokens).toBeLessThanOrEqual(24);
      generated += usage.completion_tokens;
    }
    const text = await metrics(s.url);
    expect(metric(text, "zllm_generated_tokens_total") - before).toBe(generated);
    expect(metric(text, "zllm_active_sequences")).toBe(0);
    expect(metric(text, "zllm_queue_depth")).toBe(0);
  });

  it("100 clients that disconnect at random leave no active sequence and no KV memory outside the prefix cache", async () => {
    const backend = s.backend as WasmBackend;
    const idle = await metrics(s.url);
    const heapIdle = backend.usedBytes;
    const prefixIdle = metric(idle, "zllm_prefix_cache_bytes");
    expect(metric(idle, "zllm_kv_cache_bytes")).toBe(prefixIdle);

    let seed = 12345;
    const random = (): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
    let admittedCount = 0;
    let chunksReceived = 0;
    const generatedBefore = metric(idle, "zllm_generated_tokens_total");
    await Promise.all(
      Array.from({ length: 100 }, async (_, i) => {
        const signal = new AbortController();
        // a quarter leave at a random moment (before admission, mid-prefill, mid-stream); the rest
        // after a random number of chunks, so most leave in the middle of their stream
        const afterChunks = i % 4 === 0 ? undefined : 1 + Math.floor(random() * 30);
        if (afterChunks === undefined) setTimeout(() => signal.abort(), Math.floor(random() * 100));
        const prompt = `Leaving client ${i}: ${"words ".repeat(i % 20)}`;
        const o = await streamChat(s.url, { messages: [{ role: "user", content: prompt }], seed: i }, { signal, ...(afterChunks ? { afterChunks } : {}) });
        if (o.chunks > 0 && o.finish.length === 0) admittedCount++;
        chunksReceived += o.chunks;
      }),
    );
    // most were cancelled mid-stream (a few may have finished before their chunk count came)
    expect(admittedCount).toBeGreaterThan(50);
    await until(async () => metric(await metrics(s.url), "zllm_active_sequences") === 0 && metric(await metrics(s.url), "zllm_queue_depth") === 0);
    const after = await metrics(s.url);
    // generation stopped when each client left: left alone, each would have run to the end of its
    // context (~100 tokens); a few tokens per client may be in flight when it goes
    const generated = metric(after, "zllm_generated_tokens_total") - generatedBefore;
    expect(generated).toBeLessThan(chunksReceived + 100 * 16);
    // no running sequence holds KV memory: all of it is the prefix cache's (a client whose reply
    // ended, at a stop string or EOS, before it left added its prompt there; eviction removes some)
    const prefixAfter = metric(after, "zllm_prefix_cache_bytes");
    expect(metric(after, "zllm_kv_cache_bytes")).toBe(prefixAfter);
    // and the memory of the cancelled sequences really went back to the wasm allocator
    expect(backend.usedBytes).toBe(heapIdle + (prefixAfter - prefixIdle));
    // still serving
    const ok = await streamChat(s.url, { messages: [{ role: "user", content: "Still there?" }], max_tokens: 4 });
    expect(ok.errors).toEqual([]);
  });
});
