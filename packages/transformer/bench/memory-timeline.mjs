// Where in a run the peak resident memory of bench/quantized.mjs's memory child is reached (issue
// 14): the same child (loadModel on the wasm backend, 1 thread, a 3-token prefill, --tokens
// decode steps on the shape's random-weight file), its VmRSS and VmHWM read from
// /proc/<pid>/status every ~0.3 ms by this process while it runs, the child writing a timestamped
// mark after the load, the prefill and each decode step. Prints, per variant, the medians over
// --rounds of the high-water mark at each mark, the final peak (what GNU time reports), the RSS
// the run settles at (after its last step) and the runtime alone (a child that only creates the
// backend), all in MB (10^6 bytes).
//
// Variants alternate in fresh processes, round by round: this build as shipped, this build under
// each --v8 set of V8 flags (diagnostics only: what a compiler or a tier costs; a library cannot
// set them), and --peer builds (another checkout's packages/transformer, e.g. /work/main's, as the
// same-run "before"). Linux only (/proc).
//   cd packages/transformer && npx tsup && node bench/memory-timeline.mjs [--type Q4_0] [--kv q4_0] [--tokens 16] [--rounds 5] [--v8=--liftoff-only]... (= and quotes: the flags start with a dash) [--peer DIR]...
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import os from "node:os";
import { setImmediate } from "node:timers";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { BENCH_SHAPES, randomWeights } from "../dist/index.js";
import { writeGgufModel } from "../dist/node.js";
import { memoryChildSource } from "./memory-child.mjs";

const { values } = parseArgs({
  options: {
    shape: { type: "string", default: "15M" },
    type: { type: "string", default: "Q4_0" },
    kv: { type: "string", default: "q4_0" },
    tokens: { type: "string", default: "16" },
    rounds: { type: "string", default: "5" },
    v8: { type: "string", multiple: true, default: [] },
    peer: { type: "string", multiple: true, default: [] },
  },
});
const here = path.dirname(fileURLToPath(import.meta.url));
const tokens = Number(values.tokens), rounds = Number(values.rounds);
if (!existsSync("/proc/self/status")) {
  console.log("memory-timeline: needs Linux's /proc/<pid>/status; nothing measured");
  process.exit(0);
}

// The file bench/quantized.mjs writes (same name, shape, seed), so both benches read one file.
const file = `/tmp/zllm-bench-${values.shape}-${values.type}.gguf`;
if (!existsSync(file)) {
  const config = BENCH_SHAPES[values.shape];
  await writeGgufModel(file, { config, weights: randomWeights(config, { seed: 1 }) }, { type: values.type });
}

/** bench/quantized.mjs's memory child (built from the package at `dir`), with a mark per stage. */
const childSource = (dir, withModel) =>
  memoryChildSource({ dist: pathToFileURL(path.join(dir, "dist")).href, file: withModel ? file : null, kv: values.kv, tokens, threads: 1, marks: true });

/** One run: [epoch ms, VmRSS kB, VmHWM kB] samples and the child's marks. */
function sampleRun(dir, flags, withModel) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...flags, "--input-type=module", "-e", childSource(dir, withModel)], { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
    let out = "", err = "", running = true;
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    const samples = [];
    const nap = new Int32Array(new SharedArrayBuffer(4));
    // Polls in batches, yielding to the event loop between them so the child's output is read.
    const poll = () => {
      for (let k = 0; k < 200 && running; k++) {
        let status;
        try {
          status = readFileSync(`/proc/${child.pid}/status`, "utf8");
        } catch {
          break; // exited between two reads
        }
        const rss = /VmRSS:\s+(\d+)/.exec(status), hwm = /VmHWM:\s+(\d+)/.exec(status);
        if (rss && hwm) samples.push([performance.timeOrigin + performance.now(), Number(rss[1]), Number(hwm[1])]);
        Atomics.wait(nap, 0, 0, 0.3);
      }
      if (running) setImmediate(poll);
    };
    child.on("exit", (code) => {
      running = false;
      if (code !== 0) return reject(new Error(`child failed (${code}): ${err.slice(-800)}`));
      const marks = [...out.matchAll(/MARK (\S+) (\S+)/g)].map((m) => ({ at: Number(m[1]), name: m[2] }));
      resolve({ samples, marks });
    });
    poll();
  });
}

/** The last sample at or before `at` (the child's clock and ours are the same epoch clock). */
const sampleAt = (samples, at) => {
  let last = null;
  for (const s of samples) if (s[0] <= at) last = s;
  return last;
};
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const MB = (kb) => (kb * 1024) / 1e6;

const variants = [
  { label: "this build", dir: path.resolve(here, ".."), flags: [] },
  ...values.v8.map((v8) => ({ label: `this build, ${v8}`, dir: path.resolve(here, ".."), flags: v8.split(" ").filter(Boolean) })),
  ...values.peer.map((dir) => ({ label: `peer ${dir}`, dir: path.resolve(dir), flags: [] })),
];
const stages = ["loaded", "prefill", "d1", "d3", "d7", `d${tokens}`];
const table = new Map(variants.map((v) => [v, { stages: stages.map(() => []), peak: [], settle: [], runtime: [] }]));
for (let round = 0; round < rounds; round++) {
  for (const v of round % 2 ? [...variants].reverse() : variants) {
    const row = table.get(v);
    const bare = await sampleRun(v.dir, v.flags, false);
    row.runtime.push(MB(bare.samples.at(-1)[2]));
    const { samples, marks } = await sampleRun(v.dir, v.flags, true);
    stages.forEach((name, i) => {
      const mark = marks.find((m) => m.name === name);
      const s = mark && sampleAt(samples, mark.at);
      if (s) row.stages[i].push(MB(s[2]));
    });
    row.peak.push(MB(samples.at(-1)[2]));
    const end = marks.find((m) => m.name === "end");
    row.settle.push(MB(sampleAt(samples, end.at)[1]));
  }
}

console.log(`## peak RSS through one run: ${values.shape} ${values.type} weights, ${values.kv} KV cache, 3-token prefill, ${tokens} decode steps, 1 thread; medians of ${rounds} rounds, MB`);
console.log("(each column is the high-water mark (VmHWM) when the child reached that stage; settle: VmRSS after the last step; runtime: a child that only creates the backend)");
console.log(`| variant | runtime | ${stages.map((s) => `after ${s}`).join(" | ")} | peak | settle | peak − settle | peak − runtime |`);
console.log(`|---|---:|${stages.map(() => "---:").join("|")}|---:|---:|---:|---:|`);
for (const [v, row] of table) {
  const peak = median(row.peak), settle = median(row.settle), runtime = median(row.runtime);
  const cells = row.stages.map((xs) => (xs.length ? median(xs).toFixed(2) : "—"));
  console.log(`| ${v.label} | ${runtime.toFixed(2)} | ${cells.join(" | ")} | ${peak.toFixed(2)} | ${settle.toFixed(2)} | ${(peak - settle).toFixed(2)} | ${(peak - runtime).toFixed(2)} |`);
}
console.log(`(${new Date().toISOString()}, load average ${os.loadavg().map((x) => x.toFixed(1)).join(" ")})`);
