/* global fetch */
// Load on the server: time to first token (p50, p99), inter-token latency (p50, p99) and aggregate
// tokens/s at 1, 8 and 32 concurrent streams, on the embedded default model.
//   cd packages/serve && npx tsup && node bench/load.mjs [--threads 1] [--tokens 64] [--requests 3]
//
// The server runs in a child process (bench/server.mjs, wasm backend, --threads); each stream is
// a client that sends streaming /v1/completions requests one after another (max_tokens --tokens,
// include_usage for the exact token count). Inter-token latency is the gap between content chunks
// as the client reads them (chunks that arrive in one read count as 0 ms apart); time per token is
// a request's (last chunk − first chunk) ÷ (tokens − 1). Peers measured in the same run:
// - the single stream: aggregate tokens/s at N streams ÷ at 1 stream is what continuous batching buys;
// - the engine without HTTP: model.decodeBatch on N rows in this process (same backend, threads and
//   model), the ceiling the server's decode loop approaches; server ÷ raw is what HTTP, SSE,
//   sampling and scheduling cost.
import { spawn } from "node:child_process";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { createWasmBackend } from "@zero-llm/tensor";
import { openCheckpoint } from "@zero-llm/transformer";

const { values } = parseArgs({
  options: {
    threads: { type: "string", default: "1" },
    tokens: { type: "string", default: "64" },
    requests: { type: "string", default: "3" },
  },
});
const threads = Number(values.threads);
const maxTokens = Number(values.tokens);
const requestsPerStream = Number(values.requests);
const here = path.dirname(fileURLToPath(import.meta.url));

const child = spawn(process.execPath, [path.join(here, "server.mjs"), "--threads", String(threads), "--parallel", "32"], { stdio: ["ignore", "pipe", "inherit"] });
const url = await new Promise((resolve, reject) => {
  child.stdout.once("data", (d) => resolve(d.toString().trim()));
  child.once("exit", (code) => reject(new Error(`server exited (${code})`)));
});

/** One streaming request: the arrival time of every content chunk and the exact completion tokens. */
async function streamOnce(prompt, seed) {
  const sent = performance.now();
  const res = await fetch(`${url}/v1/completions`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ prompt, max_tokens: maxTokens, temperature: 0.8, seed, stream: true, stream_options: { include_usage: true } }),
  });
  if (res.status !== 200) throw new Error(`status ${res.status}: ${await res.text()}`);
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  const arrivals = [];
  let buffered = "";
  let tokens = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    const now = performance.now();
    buffered += decoder.decode(value, { stream: true });
    let at;
    while ((at = buffered.indexOf("\n\n")) >= 0) {
      const data = buffered.slice(6, at);
      buffered = buffered.slice(at + 2);
      if (data === "[DONE]") continue;
      const chunk = JSON.parse(data);
      if (chunk.error) throw new Error(JSON.stringify(chunk.error));
      if (chunk.usage) tokens = chunk.usage.completion_tokens;
      if (chunk.choices?.[0]?.text) arrivals.push(now);
    }
  }
  // time per output token after the first (the request's mean inter-token time)
  const tpot = tokens > 1 ? (arrivals[arrivals.length - 1] - arrivals[0]) / (tokens - 1) : NaN;
  return { ttft: arrivals[0] - sent, gaps: arrivals.slice(1).map((t, i) => t - arrivals[i]), tokens, tpot };
}

const quantile = (xs, q) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
};

async function load(streams) {
  const ttfts = [];
  const gaps = [];
  const tpots = [];
  let tokens = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: streams }, async (_, c) => {
      for (let r = 0; r < requestsPerStream; r++) {
        const out = await streamOnce(`The jury said, in stream ${c} request ${r},`, c * 1000 + r);
        ttfts.push(out.ttft);
        gaps.push(...out.gaps);
        tpots.push(out.tpot);
        tokens += out.tokens;
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  return { streams, ttftP50: quantile(ttfts, 0.5), ttftP99: quantile(ttfts, 0.99), itlP50: quantile(gaps, 0.5), itlP99: quantile(gaps, 0.99), tpotP50: quantile(tpots, 0.5), tokensPerSecond: tokens / seconds };
}

/** The engine's ceiling: decodeBatch on `rows` sequences, no HTTP, no sampling (same process as the clients, not the server's). */
async function rawDecode(rows) {
  const backend = await createWasmBackend({ threads });
  const { model } = await openCheckpoint(path.resolve(here, "../../../models/default"), { backend, maxBatchRows: 64 });
  const caches = Array.from({ length: rows }, () => model.newCache({ capacity: maxTokens + 16 }));
  caches.forEach((cache, r) => model.prefill([2047, 10 + r, 20 + r], cache));
  const tokens = caches.map((_, r) => 30 + r);
  model.decodeBatch(tokens, caches); // warm-up
  const t0 = performance.now();
  let steps = 0;
  while (caches[0].length < caches[0].capacity) {
    model.decodeBatch(tokens, caches);
    steps++;
  }
  const perSecond = (steps * rows * 1000) / (performance.now() - t0);
  await backend.dispose();
  return perSecond;
}

try {
  console.log(`server: wasm, ${threads} thread(s), parallel 32; ${maxTokens} tokens per request, ${requestsPerStream} requests per stream; load average ${os.loadavg().map((x) => x.toFixed(2)).join(" ")}`);
  await load(2); // warm-up: JIT, caches
  const rows = [];
  for (const streams of [1, 8, 32]) rows.push({ ...(await load(streams)), raw: await rawDecode(streams) });
  const single = rows[0].tokensPerSecond;
  const ms = (x) => x.toFixed(1).padStart(7);
  console.log("| streams | TTFT p50 ms | TTFT p99 ms | inter-token p50 ms | inter-token p99 ms | time per token p50 ms | aggregate tokens/s | × 1 stream | raw decodeBatch tokens/s | server ÷ raw |");
  console.log("|---|---|---|---|---|---|---|---|---|---|");
  for (const r of rows) {
    console.log(
      `| ${r.streams} | ${ms(r.ttftP50)} | ${ms(r.ttftP99)} | ${ms(r.itlP50)} | ${ms(r.itlP99)} | ${ms(r.tpotP50)} | ${r.tokensPerSecond.toFixed(0)} | ` +
        `${(r.tokensPerSecond / single).toFixed(2)}× | ${r.raw.toFixed(0)} | ${(r.tokensPerSecond / r.raw).toFixed(2)} |`,
    );
  }
} finally {
  child.kill("SIGTERM");
}
