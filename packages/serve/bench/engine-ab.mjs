// The engine without HTTP, this checkout against another one (--compare OTHER/packages/serve/dist/index.js),
// on the load bench's pattern: 32 streams, each sending requests one after another whose prompt
// shares all but its last few tokens with the stream's previous request (the prefix cache holds
// the rest, as bench/load.mjs's prompts do), 64 tokens each at temperature 0.8. Both engines run
// in this one process (each checkout's own serve, transformer, sampling and tensor packages, each
// with its own wasm backend), warmed up, then in short bursts taken in turns, the order
// alternating: the host's speed swings by ±30 % over seconds, and bursts a second apart see the
// same machine. Printed: CPU µs per generated token of the whole process (main thread and the
// pool's workers: the idle engine's worker sleeps) and of the main thread alone (/proc), medians
// of the per-pair ratios and of each side, with the load average.
//   cd packages/serve && npx tsup && node bench/engine-ab.mjs --compare /work/main/packages/serve/dist/index.js [--pairs 30] [--threads 2] [--burst 2048]
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { loadavg } from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";

const here = path.dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({
  options: {
    compare: { type: "string" }, pairs: { type: "string", default: "30" }, threads: { type: "string", default: "2" },
    burst: { type: "string", default: "2048" },
  },
});
const STREAMS = 32, MAX_TOKENS = 64;
const SHARED = [2047, 464, 1520, 531, 11, 287];

/** An engine of the checkout whose serve dist is `dist`; its other packages resolve from that checkout. */
async function open(dist) {
  const serve = await import(pathToFileURL(dist).href);
  const require = createRequire(dist);
  const { Sampler } = await import(pathToFileURL(require.resolve("@zero-llm/sampling")).href);
  const { createWasmBackend } = await import(pathToFileURL(require.resolve("@zero-llm/tensor")).href);
  const backend = await createWasmBackend({ threads: Number(values.threads) });
  const served = await serve.loadServedModel(path.resolve(here, "../../../models/default"), { backend });
  const engine = new serve.Engine(served.model, { parallel: STREAMS });
  const next = new Array(STREAMS).fill(0); // each stream's next request number
  let tokens = 0;
  const request = (c) => new Promise((resolve) => {
    const r = next[c]++;
    const sampler = new Sampler({ seed: c * 1000 + r, temperature: 0.8 });
    const prompt = [...SHARED, 100 + c, 300 + (r % 50), 400 + ((r * 7) % 50), 13];
    engine.submit({ prompt, maxTokens: MAX_TOKENS, chooser: { choose: (logits, history) => sampler.sample(logits, history) } }, {
      token: () => tokens++,
      finished: resolve,
    });
  });
  /** About `total` tokens: every stream's requests one after another. Returns the tokens made. */
  const burst = async (total) => {
    tokens = 0;
    const perStream = Math.max(1, Math.round(total / (STREAMS * MAX_TOKENS)));
    await Promise.all(Array.from({ length: STREAMS }, async (_, c) => {
      for (let i = 0; i < perStream; i++) await request(c);
    }));
    return tokens;
  };
  return { burst, dispose: () => backend.dispose() };
}

const mainThreadUs = () => {
  const f = readFileSync(`/proc/self/task/${process.pid}/stat`, "utf8").split(") ")[1].split(" ");
  return (Number(f[11]) + Number(f[12])) * 1e4; // utime + stime, in ticks of 10 ms
};
const processUs = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

const engines = {
  ours: await open(path.resolve(here, "../dist/index.js")),
  theirs: await open(path.resolve(values.compare ?? path.resolve(here, "../dist/index.js"))),
};
const burstTokens = Number(values.burst);
for (const e of Object.values(engines)) await e.burst(burstTokens * 4); // warm-up: JIT, the prefix cache's memory
const runs = { ours: [], theirs: [] };
const avg0 = loadavg();
for (let p = 0; p < Number(values.pairs); p++) {
  for (const key of p % 2 === 0 ? ["ours", "theirs"] : ["theirs", "ours"]) {
    const c0 = processUs(), m0 = mainThreadUs();
    const tokens = await engines[key].burst(burstTokens);
    runs[key].push({ cpuUs: (processUs() - c0) / tokens, mainUs: (mainThreadUs() - m0) / tokens });
  }
}
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
console.log(`engine alone, wasm ${values.threads} thread(s), ${STREAMS} streams, ${values.pairs} pairs of ~${burstTokens}-token bursts; load average ${avg0.map((x) => x.toFixed(2)).join(" ")}`);
console.log("| | this checkout | compared | this ÷ compared (median of pairs) | pairs below 1 |");
console.log("|---|---:|---:|---:|---:|");
for (const [label, field] of [["process CPU µs per token", "cpuUs"], ["main thread CPU µs per token", "mainUs"]]) {
  const ratios = runs.ours.map((x, i) => x[field] / runs.theirs[i][field]);
  const a = median(runs.ours.map((x) => x[field])), b = median(runs.theirs.map((x) => x[field]));
  console.log(`| ${label} | ${a.toFixed(1)} | ${b.toFixed(1)} | ${median(ratios).toFixed(3)} | ${ratios.filter((x) => x < 1).length} of ${ratios.length} |`);
}
console.log(`(load average at the end ${loadavg().map((x) => x.toFixed(2)).join(" ")})`);
for (const e of Object.values(engines)) await e.dispose();
