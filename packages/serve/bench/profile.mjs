// Where the server's time goes at 1 and at 32 streams: the server (bench/server.mjs) is warmed up,
// a profiler records while the same load as bench/load.mjs is applied, and the samples are summed
// by what they were doing (the innermost frame that says: a kernel by the backend method that
// called it, since wasm functions carry no names; else the package; else node's own code).
//   cd packages/serve && npx tsup && node bench/profile.mjs [--streams 1,32] [--total 4096] [--warm-up 2048] [--threads 1]
//                                         [--profiler perf|v8] [--model PATH | --shape default|medium]
//                                         [--http worker|main] [--thread all|main]
//
// Two profilers: `perf` (Linux perf_events, CPU-clock samples of the server process: CPU time,
// the default when perf is installed) and `v8` (V8's CPU profiler, what `node --cpu-prof` runs,
// driven over the inspector). V8's samples come from a wall-clock timer: on a machine shared with
// other jobs, time the server spent descheduled is counted where it stopped (often a socket write,
// which wakes the reading client), so its split is of wall time, not CPU time.
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { benchModel } from "./model.mjs";
import { streamEvents } from "./sse-client.mjs";

const { values } = parseArgs({
  options: {
    streams: { type: "string", default: "1,32" },
    total: { type: "string", default: "4096" },
    "warm-up": { type: "string", default: "2048" },
    threads: { type: "string", default: "1" },
    model: { type: "string" },
    shape: { type: "string" },
    profiler: { type: "string" },
    // the server's httpThread; and with perf, the samples of every thread or of the main one only
    // (the engine's thread: the critical path)
    http: { type: "string" },
    thread: { type: "string", default: "all" },
  },
});
const havePerf = spawnSync("perf", ["--version"]).status === 0;
const profiler = values.profiler ?? (havePerf ? "perf" : "v8");
const maxTokens = 64;
const here = path.dirname(fileURLToPath(import.meta.url));
const served = await benchModel({ model: values.model, shape: values.shape });

/** Categories by the nearest frame that names one (leaf first). */
const KERNELS = {
  linear: "matrix products (linear kernels)",
  linearGroup: "matrix products (linear kernels)",
  linearEach: "matrix products (linear kernels)",
  matvec: "matrix products (linear kernels)",
  matmul: "matrix products (linear kernels)",
  attention: "attention kernel",
  attentionBatch: "attention kernel",
  rmsnorm: "other kernels (norm, RoPE, SwiGLU, add)",
  rope: "other kernels (norm, RoPE, SwiGLU, add)",
  swiglu: "other kernels (norm, RoPE, SwiGLU, add)",
  binary: "other kernels (norm, RoPE, SwiGLU, add)",
  add: "other kernels (norm, RoPE, SwiGLU, add)",
};
const POOL_FRAMES = new Set(["run", "start", "finish", "runOwnPart"]);
/** frames: innermost first, each { name, url } (url: a script's, "" for native code, "kernel" for the OS). */
function categoryOf(frames) {
  const leaf = frames[0];
  if (leaf.name === "(idle)") return "idle (waiting for I/O)";
  if (leaf.name === "(garbage collector)" || /Heap|Scaveng|MarkCompact|Sweep|Evacuat|GCTracer|Marking/.test(leaf.name)) return "garbage collection";
  if (leaf.name === "(program)" || /compiler::|Compile|Maglev|Turbofan|Baseline|Bytecode|Parser/.test(leaf.name)) return "V8 (compilation, runtime)";
  const native = frames.findIndex((f) => f.url !== "" && f.url !== "kernel");
  const below = native < 0 ? frames : frames.slice(0, native);
  if (below.some((f) => /^(writev|writeUtf8String|writeBuffer|writeLatin1String)$|StreamBase::Write|uv_try_write|uv__write|tcp_|sock_write|vfs_writev/.test(f.name))) return "socket writes (syscalls)";
  if (leaf.url === "kernel") return "kernel (other syscalls, scheduling, page faults)";
  for (const f of frames) {
    // the thread pool's frames (a job's parts on this thread) belong to the backend method below them
    if (/tensor\/dist/.test(f.url) && POOL_FRAMES.has(f.name)) continue;
    if (/tensor\/dist/.test(f.url) && KERNELS[f.name]) return KERNELS[f.name];
    if (/sampling\/dist/.test(f.url)) return /constrain|mask|accept|Parser|Masker/i.test(f.name) ? "constraints" : "sampling (chain, logprobs, stops)";
    if (/transformer\/dist/.test(f.url)) return "transformer (JS around kernels)";
    if (/tensor\/dist/.test(f.url)) return "tensor backend (JS around kernels)";
    if (/tokenizer-bpe\/dist/.test(f.url)) return "tokenizer";
    if (/serve\/dist/.test(f.url)) return "serve (routes, engine, SSE)";
    if (f.url.startsWith("node:")) return "node (http, streams, timers)";
  }
  return "V8 runtime, libc and other";
}

/** V8's profile: samples with time deltas over a tree of call frames. */
function summarizeV8(file) {
  const profile = JSON.parse(readFileSync(file, "utf8"));
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const totals = new Map();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    const frames = [];
    for (let x = id; x !== undefined; x = parent.get(x)) {
      const f = byId.get(x).callFrame;
      frames.push({ name: f.functionName, url: f.url });
    }
    const c = categoryOf(frames);
    totals.set(c, (totals.get(c) ?? 0) + dt);
    total += dt;
  });
  return { totals, total };
}

/** perf's samples: `perf script` stacks, innermost first; JIT frames named by node's perf map ("JS:*linear file:///…:12:3"). */
function summarizePerf(file, mainTid) {
  const text = execFileSync("perf", ["script", "-i", file, "-F", "tid,period,ip,sym,dso"], { maxBuffer: 1 << 30 }).toString();
  const totals = new Map();
  let total = 0;
  for (const block of text.split("\n\n")) {
    const lines = block.split("\n").map((l) => l.trim()).filter(Boolean);
    if (lines.length < 2) continue;
    const [tid, periodNs] = lines[0].split(/\s+/).map(Number);
    if (values.thread === "main" && tid !== mainTid) continue;
    const period = periodNs / 1000; // ns → µs
    const frames = lines.slice(1).map((l) => {
      const m = /^[0-9a-f]+ (.*) \((.*)\)$/.exec(l);
      const sym = m?.[1] ?? l, dso = m?.[2] ?? "";
      const js = /^JS:[*^~]?(\S*) (\S+?)(?::\d+:\d+)?(\+0x[0-9a-f]+)?$/.exec(sym);
      if (js) return { name: js[1], url: js[2] };
      return { name: sym.replace(/\+0x[0-9a-f]+$/, ""), url: dso.includes("kernel") ? "kernel" : "" };
    });
    const c = categoryOf(frames);
    totals.set(c, (totals.get(c) ?? 0) + period);
    total += period;
  }
  return { totals, total };
}

async function run(streams) {
  const dir = mkdtempSync(path.join(tmpdir(), "zllm-prof-"));
  // perf needs node's map of JIT code addresses to names
  const flags = profiler === "perf" ? ["--perf-basic-prof-only-functions", "--interpreted-frames-native-stack"] : [];
  const child = spawn(process.execPath, [...flags, path.join(here, "server.mjs"), "--threads", values.threads, "--parallel", "32", "--model", served.file, ...(values.http ? ["--http", values.http] : [])], { stdio: ["pipe", "pipe", "inherit"] });
  const lines = [];
  let waiting = null;
  child.stdout.setEncoding("utf8").on("data", (d) => {
    lines.push(...d.split("\n").filter(Boolean));
    waiting?.();
  });
  const nextLine = async () => {
    while (lines.length === 0) await new Promise((resolve) => (waiting = resolve));
    return lines.shift();
  };
  const url = (await nextLine()).split(" ")[0];
  let tokens = 0;
  const one = async (prompt, seed) => {
    const body = { prompt, max_tokens: maxTokens, temperature: 0.8, seed, stream: true, stream_options: { include_usage: true } };
    await streamEvents(`${url}/v1/completions`, body, (data) => {
      const usage = /"completion_tokens":(\d+)/.exec(data);
      if (usage) tokens += Number(usage[1]);
    });
  };
  const load = async (count, total) => {
    const requests = Math.max(1, Math.round(total / (count * maxTokens)));
    await Promise.all(Array.from({ length: count }, async (_, c) => {
      for (let r = 0; r < requests; r++) await one(`The jury said, in stream ${c} request ${r},`, c * 1000 + r);
    }));
  };
  // warm-up: JIT, caches. The prefix cache keeps every finished request until the KV budget is full
  // (parallel × ctx positions: ~210 requests of the embedded model); until then each new request's
  // cache is fresh memory whose first touches page-fault, so a short warm-up profiles that growth,
  // and --warm-up 20000 the steady state after it (bench/load.mjs's later rounds)
  await load(Math.max(2, streams), Number(values["warm-up"]));
  tokens = 0;
  let summary;
  if (profiler === "perf") {
    const file = path.join(dir, "perf.data");
    const perf = spawn("perf", ["record", "-F", "1999", "-g", "-o", file, "-p", String(child.pid)], { stdio: "ignore" });
    await new Promise((resolve) => setTimeout(resolve, 300));
    await load(streams, Number(values.total));
    perf.kill("SIGINT");
    await new Promise((resolve) => perf.once("exit", resolve));
    summary = summarizePerf(file, child.pid);
  } else {
    const file = path.join(dir, "server.cpuprofile");
    child.stdin.write("profile-start\n");
    await load(streams, Number(values.total));
    child.stdin.write(`profile-stop ${file}\n`);
    await nextLine();
    summary = summarizeV8(file);
  }
  child.kill("SIGTERM");
  await new Promise((resolve) => child.once("exit", resolve));
  if (process.env.ZLLM_PROFILE_KEEP) console.error(`kept ${dir}`);
  else rmSync(dir, { recursive: true, force: true });
  return { ...summary, tokens };
}

try {
  const list = values.streams.split(",").map(Number);
  const results = [];
  for (const streams of list) results.push({ streams, ...(await run(streams)) });
  const categories = [...new Set(results.flatMap((r) => [...r.totals.keys()]))]
    .sort((a, b) => (results.at(-1).totals.get(b) ?? 0) - (results.at(-1).totals.get(a) ?? 0));
  console.log(`${served.label}; ${values.thread === "main" ? "the main thread of " : ""}the server's ${profiler === "perf" ? "CPU time (perf)" : "time (V8 CPU profiler, wall-clock samples)"} per generated token under load, after a warm-up`);
  console.log(`| | ${results.map((r) => `${r.streams} stream${r.streams > 1 ? "s" : ""}: µs per token | share`).join(" | ")} |`);
  console.log(`|---|${results.map(() => "---:|---:").join("|")}|`);
  for (const c of categories) {
    console.log(`| ${c} | ${results.map((r) => `${((r.totals.get(c) ?? 0) / r.tokens).toFixed(1)} | ${((100 * (r.totals.get(c) ?? 0)) / r.total).toFixed(1)} %`).join(" | ")} |`);
  }
  console.log(`| all | ${results.map((r) => `${(r.total / r.tokens).toFixed(1)} | 100 %`).join(" | ")} |`);
} finally {
  served.cleanup();
}
