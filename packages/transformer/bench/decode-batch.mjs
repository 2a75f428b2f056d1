// What one batched decode step costs on the embedded model (dim 128, 4 layers, vocab 2,048: the
// model the server's load benchmark runs), per row, at 1, 8 and 32 rows: the engine alone
// (Model.decodeBatch), without sampling or serving.
//   cd packages/transformer && npx tsup && node bench/decode-batch.mjs [--threads 1] [--rows 1,8,32]
//        [--peer DIR [--peer-transformer DIR]] [--per-op] [--budget 4000] [--context 48 | --context 10-80]
//
// Each contestant decodes `rows` sequences whose caches hold `context` tokens (the load
// benchmark's streams sit at 10–80; a range lo-hi spreads the rows' contexts evenly over it, as a
// server's streams are spread), one token each per step, the caches cut back after every step so
// all samples see the same positions. Figures: µs of wall and of process CPU per row
// (per token), each the best of interleaved ~20 ms samples.
//
// --peer DIR: a second tensor build's dist/ (e.g. a copy of main's packages/tensor/dist) races
// in the same process against ours, each with its own wasm backend and the same weights, and
// the table prints ours / peer. --peer-transformer DIR: that build's transformer dist/ runs the peer
// (needed when the peer's tensor lacks a Backend entry our transformer calls). --per-op: one more
// contestant, our build with ModelOptions.decodeLayersStep false (every kernel its own call, as
// before the whole-step decodeLayers job), on our backend. Race it with --peer in separate runs:
// with both, the peer's 32-row figures come out ~2.5× too slow (three pools' threads on 2 cores;
// measured 2026-12-04 19:11 UTC, not understood further). The embedded model's 4.2 MB of weights sit in L2/L3, so an
// in-process race is fair here (unlike a memory-bound model, where page placement moves figures).
//
// Then one profiled pass per row count: every kernel call of our backend timed by its name and
// shape (linear in→out, linearGroup, linearSwiglu, attention (+ o_proj), norms, RoPE, SwiGLU, add), with GFLOP/s for the products.
// The timers cost a little per call, so the shares are of a slightly slower step; and they are
// wall-clock (a CPU-time read per kernel call would cost more than the small kernels): on a loaded
// machine, time the process spent descheduled lands in whichever kernel was running.
import { readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { createWasmBackend } from "@zero-llm/tensor";
import { loadModel } from "../dist/node.js";
import { Model } from "../dist/index.js";

const { values } = parseArgs({
  options: {
    threads: { type: "string", default: "1" },
    rows: { type: "string", default: "1,8,32" },
    peer: { type: "string" },
    budget: { type: "string", default: "4000" },
    context: { type: "string", default: "48" },
    "peer-transformer": { type: "string" },
    "per-op": { type: "boolean", default: false },
  },
});
const here = path.dirname(fileURLToPath(import.meta.url));
const modelDir = path.resolve(here, "../../../models/default");
const threads = Number(values.threads);
const rowCounts = values.rows.split(",").map(Number);
const [contextLo, contextHi] = values.context.includes("-") ? values.context.split("-").map(Number) : [Number(values.context), Number(values.context)];
/** Row r's context out of `rows`: spread evenly over [contextLo, contextHi]. */
const contextOf = (r, rows) => (rows === 1 ? Math.round((contextLo + contextHi) / 2) : Math.round(contextLo + ((contextHi - contextLo) * r) / (rows - 1)));
const budget = Number(values.budget);
/** ns this process's main thread has run (Linux: /proc/PID/task/PID/schedstat; 0 elsewhere). */
const mainThreadNs = () => {
  try {
    return Number(readFileSync(`/proc/${process.pid}/task/${process.pid}/schedstat`, "utf8").split(" ")[0]);
  } catch {
    return 0;
  }
};
const load = () => os.loadavg().map((x) => x.toFixed(2)).join(" ");

const ours = await createWasmBackend({ threads });
const loaded = await loadModel(modelDir, { backend: ours });
const contestants = [{ name: "ours", backend: ours, model: loaded }];
if (values["per-op"]) {
  // the same weights through the per-op path (no backend of its own to dispose)
  contestants.push({ name: "per-op", backend: null, model: new Model(loaded.config, loaded.weights, { backend: ours, decodeLayersStep: false }) });
}
if (values.peer) {
  const dir = path.resolve(values.peer);
  const peerTensor = await import(pathToFileURL(path.join(dir, "index.js")).href);
  const backend = await peerTensor.createWasmBackend({ threads });
  // the same checkpoint, its f32 matrices projected by the peer's backend
  const peerLoad = values["peer-transformer"]
    ? (await import(pathToFileURL(path.join(path.resolve(values["peer-transformer"]), "node.js")).href)).loadModel
    : loadModel;
  contestants.push({ name: "peer", backend, model: await peerLoad(modelDir, { backend }) });
}
const { config } = loaded;
console.log(
  `decodeBatch on the embedded model (dim ${config.dim}, ${config.nLayers} layers, vocab ${config.vocabSize}), ` +
    `${threads} thread(s), context ${values.context}, relaxed SIMD ${ours.relaxedSimd}; load average ${load()}`,
);

/** A step function for `rows` sequences of `model`: decodeBatch, then the caches cut back. */
function stepper(model, rows) {
  const caches = Array.from({ length: rows }, (_, r) => {
    const cache = model.newCache();
    model.prefill(Array.from({ length: contextOf(r, rows) }, (_, i) => (i * 31 + r * 7 + 1) % config.vocabSize), cache);
    return cache;
  });
  const tokens = new Int32Array(rows);
  let t = 0;
  return () => {
    for (let r = 0; r < rows; r++) tokens[r] = (t * 131 + r * 17 + 3) % config.vocabSize;
    t++;
    model.decodeBatch(tokens, caches);
    for (let r = 0; r < rows; r++) caches[r].truncate(contextOf(r, rows));
  };
}

/**
 * Best wall and best process-CPU µs per call of each step function, from interleaved samples of
 * about 20 ms (reps calibrated once): on a shared machine the least disturbed sample is the
 * figure, and every contestant gets the same chances.
 */
function race(steps, ms) {
  const entries = Object.entries(steps).map(([name, fn]) => {
    for (let i = 0; i < 10; i++) fn();
    let reps = 1;
    for (;;) {
      const t0 = performance.now();
      for (let r = 0; r < reps; r++) fn();
      if (performance.now() - t0 > 20) break;
      reps *= 2;
    }
    return { name, fn, reps, wall: Infinity, cpu: Infinity, main: Infinity };
  });
  const end = performance.now() + ms;
  while (performance.now() < end) {
    for (const e of entries) {
      const c0 = process.cpuUsage(), m0 = mainThreadNs(), t0 = performance.now();
      for (let r = 0; r < e.reps; r++) e.fn();
      const wall = (performance.now() - t0) * 1000, c = process.cpuUsage(c0), main = (mainThreadNs() - m0) / 1000;
      e.main = Math.min(e.main, main / e.reps);
      e.wall = Math.min(e.wall, wall / e.reps);
      e.cpu = Math.min(e.cpu, (c.user + c.system) / e.reps);
    }
  }
  return Object.fromEntries(entries.map((e) => [e.name, e]));
}

console.log(
  `\nrows | ${contestants.map((c) => `${c.name}: µs wall/row  CPU/row  main thread CPU/row`).join(" | ")}` +
    contestants.slice(1).map((c) => ` | ours/${c.name} (wall, CPU, main CPU)`).join(""),
);
for (const rows of rowCounts) {
  const steps = Object.fromEntries(contestants.map((c) => [c.name, stepper(c.model, rows)]));
  const best = race(steps, budget);
  const cells = contestants.map((c) => [best[c.name].wall, best[c.name].cpu, best[c.name].main].map((us) => (us / rows).toFixed(1).padStart(7)).join("  "));
  const ratio = contestants.slice(1).map((c) => {
    const [a, b] = [best.ours, best[c.name]];
    return ` | ${(a.wall / b.wall).toFixed(3)}× ${(a.cpu / b.cpu).toFixed(3)}× ${(a.main / b.main).toFixed(3)}×`;
  }).join("");
  console.log(`${String(rows).padStart(4)} | ${cells.join(" | ")}${ratio}   (load ${load()})`);
}

// ── the profiled pass: our backend's kernel calls timed by name and shape
const timed = new Map();
function hook(name, key, flops) {
  const original = ours[name].bind(ours);
  ours[name] = (...args) => {
    const t0 = performance.now();
    const result = original(...args); // decodeLayers answers whether it ran
    const dt = performance.now() - t0;
    const k = key(...args);
    const e = timed.get(k) ?? { ms: 0, calls: 0, flops: 0 };
    e.ms += dt;
    e.calls++;
    e.flops += flops ? flops(...args) : 0;
    timed.set(k, e);
    return result;
  };
}
hook("linear", (_o, _x, _w, rows, i, o) => `linear ${i}→${o}`, (_o, _x, _w, rows, i, o) => 2 * rows * i * o);
// a block's q/k/v and gate/up projections, one call each (linearGroup: one job over several weights)
if (ours.linearGroup) {
  hook("linearGroup", (_x, _rows, i, _ws, outs) => `linearGroup ${i}→${outs.join("+")}`, (_x, rows, i, _ws, outs) => 2 * rows * i * outs.reduce((a, b) => a + b, 0));
}
// a SwiGLU block's gate/up projections with the SwiGLU in the same job (linearSwiglu)
if (ours.linearSwiglu) {
  hook("linearSwiglu", (_o, _up, _x, _wg, _wu, _rows, i, o) => `linearSwiglu ${i}→${o}+${o}`, (_o, _up, _x, _wg, _wu, rows, i, o) => 4 * rows * i * o);
}
hook("attention", () => "attention");
hook("rmsnorm", () => "rmsnorm");
hook("rope", () => "rope");
if (ours.attentionBatch) hook("attentionBatch", () => "attentionBatch");
// a batched step's attention with its o_proj in the same job (attentionBatchProject)
if (ours.attentionBatchProject) {
  hook("attentionBatchProject", (...a) => `attention+o_proj →${a[11]}`); // no GFLOP/s: attention is most of its time
}
if (ours.ropeBatch) hook("ropeBatch", () => "ropeBatch");
// every layer of a batched step in one job (decodeLayers: whole rows per thread)
if (ours.decodeLayers) hook("decodeLayers", () => "decodeLayers (all layers)");
hook("swiglu", () => "swiglu");
hook("add", () => "add");
for (const rows of rowCounts) {
  const step = stepper(loaded, rows);
  for (let i = 0; i < 20; i++) step();
  timed.clear();
  let n = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < budget / 4) {
    step();
    n++;
  }
  const total = ((performance.now() - t0) * 1000) / n / rows;
  console.log(`\n${rows} row(s), profiled: ${total.toFixed(1)} µs wall per row (load ${load()})`);
  let inKernels = 0;
  for (const [k, e] of [...timed].sort((a, b) => b[1].ms - a[1].ms)) {
    const us = (e.ms * 1000) / n / rows;
    inKernels += us;
    const gflops = e.flops ? `  ${(e.flops / (e.ms / 1000) / 1e9).toFixed(1).padStart(5)} GFLOP/s` : "";
    console.log(`  ${k.padEnd(18)} ${us.toFixed(1).padStart(7)} µs/row  ${((100 * us) / total).toFixed(0).padStart(3)} %  ${(e.calls / n).toFixed(0).padStart(3)} calls/step${gflops}`);
  }
  console.log(`  ${"JS around kernels".padEnd(18)} ${(total - inKernels).toFixed(1).padStart(7)} µs/row  ${((100 * (total - inKernels)) / total).toFixed(0).padStart(3)} %`);
}
for (const c of contestants) await c.backend?.dispose();
