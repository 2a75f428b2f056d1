// Load on the server: time to first token (p50, p99), inter-token latency (p50, p99) and aggregate
// tokens/s at 1, 8 and 32 concurrent streams, on the embedded default model.
//   cd packages/serve && npx tsup && node bench/load.mjs [--threads 2] [--tokens 64] [--total 8192] [--rounds 3]
//                                                     [--model PATH | --shape default|medium]
//                                                     [--draft-model PATH [--draft-max N] [--draft-p-min P]] [--streams 1,8,32]
//                                                     [--compare OTHER_CHECKOUT/packages/serve/bench/server.mjs] [--http worker,main]
//
// The server runs in a child process (bench/server.mjs, wasm backend, --threads); each stream is
// a client (bench/sse-client.mjs) that sends streaming /v1/completions requests one after another
// (max_tokens --tokens, as many as make about --total tokens in all, include_usage for the exact
// token count). The clients run in this process, on the same cores as the server: their CPU per
// token (this process's CPU time during the run ÷ tokens) is printed, as it is CPU the server lacks. Each configuration runs --rounds times, taking turns
// with the others, and the best round is shown (the machine is shared: the least disturbed round). Inter-token latency is the gap between content chunks
// as the client reads them (chunks that arrive in one read count as 0 ms apart); time per token is
// a request's (last chunk − first chunk) ÷ (tokens − 1). Peers measured in the same run:
// - the single stream: aggregate tokens/s at N streams ÷ at 1 stream is what continuous batching buys;
// - the engine without HTTP: model.decodeBatch on N rows in this process (same backend, threads and
//   model), the ceiling the server's decode loop approaches; server ÷ raw is what HTTP, SSE,
//   sampling and scheduling cost.
// Besides wall-clock tokens/s, tokens per CPU-second of the server process (from /proc) and of the
// raw loop: on a machine shared with other jobs, CPU time is what the work really cost, while
// wall time also counts the time other jobs held the cores. The server's main thread (the engine's:
// routes, steps, sampling; with --http main also node:http) is measured on its own too
// (/proc/PID/task/PID/stat): it is the critical path, since every token passes through it. The
// server's minor page faults per token (/proc/PID/stat) show memory that is touched fresh rather
// than reused (on this machine's VM each costs ~7 µs): the prefix cache fills the KV budget with
// new memory in the first round, later rounds reuse what it evicts.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { createWasmBackend } from "@zero-llm/tensor";
import { openCheckpoint } from "@zero-llm/transformer/node";
import { benchModel } from "./model.mjs";
import { streamEvents } from "./sse-client.mjs";

const { values } = parseArgs({
  options: {
    // 2, as `zllm serve` runs by default (the wasm backend on 2 threads)
    threads: { type: "string", default: "2" },
    tokens: { type: "string", default: "64" },
    total: { type: "string", default: "8192" },
    rounds: { type: "string", default: "3" },
    model: { type: "string" },
    shape: { type: "string" },
    "draft-model": { type: "string" },
    "draft-max": { type: "string" },
    "draft-p-min": { type: "string" },
    streams: { type: "string", default: "1,8,32" },
    // another server script to measure in the same run, taking turns with this one (another
    // checkout's bench/server.mjs: a before/after on one machine)
    compare: { type: "string" },
    // which thread speaks HTTP in the server (its httpThread option); "worker,main" measures one
    // server of each in the same run, taking turns
    http: { type: "string" },
  },
});
const served = await benchModel({ model: values.model, shape: values.shape });
const rounds = Number(values.rounds);
const threads = Number(values.threads);
const maxTokens = Number(values.tokens);
// every configuration produces about the same number of tokens, so each runs long enough to meet
// the same interference (a short run on a shared machine often slips between other jobs)
const totalTokens = Number(values.total);
// At 32 streams with 64 tokens each, 2048 tokens would be one wave of 32 requests arriving at once,
// half of it the ramp (32 prompts admitted and prefilled while few rows decode); 8192 tokens give
// every stream 4 requests one after another: the steady state a server under load is in.
const requestsFor = (streams, total = totalTokens) => Math.max(1, Math.round(total / (streams * maxTokens)));
const here = path.dirname(fileURLToPath(import.meta.url));

const draftArgs = ["draft-model", "draft-max", "draft-p-min"].flatMap((name) => (values[name] !== undefined ? [`--${name}`, values[name]] : []));
const streamCounts = values.streams.split(",").map(Number);
let stopping = false;
/** A server under test in a child process: its URL and the CPU seconds it has used (from /proc). */
async function startServer(script, http) {
  const httpArgs = http ? ["--http", http] : [];
  const child = spawn(process.execPath, [script, "--threads", String(threads), "--parallel", "32", "--model", served.file, ...draftArgs, ...httpArgs], { stdio: ["ignore", "pipe", "inherit"] });
  const [url, ...notes] = await new Promise((resolve, reject) => {
    child.stdout.once("data", (d) => resolve(d.toString().trim().split(" ")));
    child.once("exit", (code, signal) => {
      if (!stopping) console.error(`bench: the server ${script} exited (code ${code}, signal ${signal})`);
      reject(new Error(`server exited (${code})`));
    });
  });
  const statFields = (file) => {
    try {
      return readFileSync(file, "utf8").split(") ")[1].split(" ");
    } catch {
      return undefined; // not Linux
    }
  };
  const ticks = (file) => {
    const fields = statFields(file);
    return fields ? (Number(fields[11]) + Number(fields[12])) / 100 : NaN; // user + system, in clock ticks of 1/100 s
  };
  // minor page faults of the whole process (first touches of fresh memory, each a kernel entry
  // that zeroes a page): what memory that is not reused costs per token
  const minorFaults = () => Number(statFields(`/proc/${child.pid}/stat`)?.[7] ?? NaN);
  // the process (every thread), and its main thread alone (whose task id is the process id)
  const cpuSeconds = () => ticks(`/proc/${child.pid}/stat`);
  const mainCpuSeconds = () => ticks(`/proc/${child.pid}/task/${child.pid}/stat`);
  // the HTTP front thread, when the server names it (bench/server.mjs: "URL front-thread=TID")
  const front = notes.find((n) => n.startsWith("front-thread="))?.slice("front-thread=".length);
  const frontCpuSeconds = () => (front ? ticks(`/proc/${child.pid}/task/${front}/stat`) : NaN);
  return { script, label: `${path.relative(process.cwd(), script)}${http ? ` --http ${http}` : ""}`, child, url, cpuSeconds, mainCpuSeconds, frontCpuSeconds, minorFaults };
}
const servers = [];
for (const http of values.http ? values.http.split(",") : [undefined]) servers.push(await startServer(path.join(here, "server.mjs"), http));
if (values.compare) servers.push(await startServer(path.resolve(values.compare)));

/** One streaming request: the arrival time of every content chunk and the exact completion tokens. */
async function streamOnce(url, prompt, seed) {
  const sent = performance.now();
  const arrivals = [];
  let tokens = 0;
  let failure;
  await streamEvents(
    `${url}/v1/completions`,
    { prompt, max_tokens: maxTokens, temperature: 0.8, seed, stream: true, stream_options: { include_usage: true } },
    (data, now) => {
      if (data === "[DONE]") return;
      const chunk = JSON.parse(data);
      if (chunk.error) failure ??= new Error(JSON.stringify(chunk.error));
      if (chunk.usage) tokens = chunk.usage.completion_tokens;
      if (chunk.choices?.[0]?.text) arrivals.push(now);
    },
  );
  if (failure) throw failure;
  // time per output token after the first (the request's mean inter-token time)
  const tpot = tokens > 1 ? (arrivals[arrivals.length - 1] - arrivals[0]) / (tokens - 1) : NaN;
  return { ttft: arrivals[0] - sent, gaps: arrivals.slice(1).map((t, i) => t - arrivals[i]), tokens, tpot };
}

const quantile = (xs, q) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
};

async function load(server, streams, total = totalTokens) {
  const ttfts = [];
  const gaps = [];
  const tpots = [];
  let tokens = 0;
  const t0 = performance.now();
  const cpu0 = server.cpuSeconds();
  const main0 = server.mainCpuSeconds();
  const front0 = server.frontCpuSeconds();
  const faults0 = server.minorFaults();
  const client0 = process.cpuUsage();
  await Promise.all(
    Array.from({ length: streams }, async (_, c) => {
      for (let r = 0; r < requestsFor(streams, total); r++) {
        const out = await streamOnce(server.url, `The jury said, in stream ${c} request ${r},`, c * 1000 + r);
        ttfts.push(out.ttft);
        gaps.push(...out.gaps);
        tpots.push(out.tpot);
        tokens += out.tokens;
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  const cpuSeconds = server.cpuSeconds() - cpu0;
  const mainCpuSeconds = server.mainCpuSeconds() - main0;
  const frontCpuSeconds = server.frontCpuSeconds() - front0;
  const faultsPerToken = (server.minorFaults() - faults0) / tokens;
  const client = process.cpuUsage(client0);
  return {
    perCpuSecond: tokens / cpuSeconds, mainCpuPerToken: (mainCpuSeconds * 1e6) / tokens, frontCpuPerToken: (frontCpuSeconds * 1e6) / tokens, clientCpuPerToken: (client.user + client.system) / tokens, faultsPerToken, streams, ttftP50: quantile(ttfts, 0.5), ttftP99: quantile(ttfts, 0.99), itlP50: quantile(gaps, 0.5), itlP99: quantile(gaps, 0.99), tpotP50: quantile(tpots, 0.5), tokensPerSecond: tokens / seconds };
}

/** The engine's ceiling: decodeBatch on `rows` sequences, no HTTP, no sampling (in this process, while the server idles). */
const backend = await createWasmBackend({ threads });
const { model } = await openCheckpoint(served.file, { backend, maxBatchRows: 64 });
function rawDecode(rows) {
  const caches = Array.from({ length: rows }, () => model.newCache({ capacity: maxTokens + 16 }));
  const start = (cache, r) => {
    cache.reset();
    model.prefill([2047, 10 + r, 20 + r], cache);
  };
  caches.forEach(start);
  const tokens = caches.map((_, r) => 30 + r);
  model.decodeBatch(tokens, caches); // warm-up
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  let produced = 0;
  while (produced < totalTokens) {
    if (caches[0].length === caches[0].capacity) caches.forEach(start);
    model.decodeBatch(tokens, caches);
    produced += rows;
  }
  const cpu = process.cpuUsage(cpu0);
  return { perSecond: (produced * 1000) / (performance.now() - t0), perCpuSecond: (produced * 1e6) / (cpu.user + cpu.system) };
}

/** The best of two rounds of one configuration: the less disturbed one for wall-clock, the least CPU for CPU figures. */
function better(kept, r) {
  if (!kept) return r;
  return {
    ...(r.tokensPerSecond > kept.tokensPerSecond ? r : kept),
    perCpuSecond: Math.max(kept.perCpuSecond, r.perCpuSecond),
    mainCpuPerToken: Math.min(kept.mainCpuPerToken, r.mainCpuPerToken),
    frontCpuPerToken: Math.min(kept.frontCpuPerToken, r.frontCpuPerToken),
    clientCpuPerToken: Math.min(kept.clientCpuPerToken, r.clientCpuPerToken),
    faultsPerToken: Math.min(kept.faultsPerToken, r.faultsPerToken),
  };
}

function printTable(rows, raw) {
  const single = rows[0];
  const ms = (x) => x.toFixed(1);
  console.log("| streams | TTFT p50 / p99 ms | inter-token p50 / p99 ms | aggregate tokens/s | × 1 stream | server CPU µs per token | × 1 stream (per CPU) | main thread CPU µs per token | front thread CPU µs per token | engine alone: decodeBatch CPU µs per token | client CPU µs per token | server page faults per token |");
  console.log("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
  for (const r of rows) {
    console.log(
      `| ${r.streams} | ${ms(r.ttftP50)} / ${ms(r.ttftP99)} | ${ms(r.itlP50)} / ${ms(r.itlP99)} | ${r.tokensPerSecond.toFixed(0)} | ` +
        `${(r.tokensPerSecond / single.tokensPerSecond).toFixed(2)}× | ${(1e6 / r.perCpuSecond).toFixed(0)} | ${(r.perCpuSecond / single.perCpuSecond).toFixed(2)}× | ${r.mainCpuPerToken.toFixed(0)} | ${Number.isNaN(r.frontCpuPerToken) ? "–" : r.frontCpuPerToken.toFixed(0)} | ` +
        `${(1e6 / raw.get(r.streams).perCpuSecond).toFixed(0)} | ${r.clientCpuPerToken.toFixed(0)} | ${r.faultsPerToken.toFixed(2)} |`,
    );
  }
}

try {
  const loadAverage = () => os.loadavg().map((x) => x.toFixed(2)).join(" ");
  console.log(`${served.label}${draftArgs.length > 0 ? ` (${draftArgs.join(" ")})` : ""}; server: wasm, ${threads} thread(s), parallel 32; ${maxTokens} tokens per request, ≈ ${totalTokens} tokens per configuration, best of ${rounds} rounds; load average ${loadAverage()}`);
  for (const server of servers) await load(server, 2, 2048); // warm-up: JIT, caches
  // the machine is shared and noisy: the configurations (and the servers, with --compare) take
  // turns, `rounds` times, and each keeps its best round (the one least disturbed), for the
  // server and for the raw peer alike
  const best = servers.map(() => new Map());
  const raw = new Map();
  for (let round = 0; round < rounds; round++) {
    for (const streams of streamCounts) {
      for (let s = 0; s < servers.length; s++) best[s].set(streams, better(best[s].get(streams), await load(servers[s], streams)));
      const r = rawDecode(streams);
      const kept = raw.get(streams);
      raw.set(streams, kept ? { perSecond: Math.max(kept.perSecond, r.perSecond), perCpuSecond: Math.max(kept.perCpuSecond, r.perCpuSecond) } : r);
      // the raw loop held this process for seconds: let the HTTP client see the connections the
      // server closed meanwhile (its keep-alive timeout), or it would reuse a closed one
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  console.log(`(load average at the end ${loadAverage()})`);
  for (let s = 0; s < servers.length; s++) {
    if (servers.length > 1) console.log(`\n${servers[s].label}:`);
    printTable([...best[s].values()], raw);
  }
  if (servers.length > 1) {
    console.log(`\n${servers[0].label} ÷ ${servers[1].label}:`);
    console.log("\n| streams | server CPU µs per token | main thread CPU µs per token | front thread CPU µs per token | aggregate tokens/s |");
    console.log("|---:|---:|---:|---:|---:|");
    for (const streams of streamCounts) {
      const [a, b] = [best[0].get(streams), best[1].get(streams)];
      const front = a.frontCpuPerToken / b.frontCpuPerToken;
      console.log(`| ${streams} | ${(b.perCpuSecond / a.perCpuSecond).toFixed(2)} | ${(a.mainCpuPerToken / b.mainCpuPerToken).toFixed(2)} | ${Number.isNaN(front) ? "–" : front.toFixed(2)} | ${(a.tokensPerSecond / b.tokensPerSecond).toFixed(2)} |`);
    }
  }
} finally {
  stopping = true;
  for (const server of servers) server.child.kill("SIGTERM");
  await backend.dispose();
  served.cleanup();
}
