// The batched f32 projection `linear` (assembly/linear.ts) on the embedded model's shapes
// (dim 128, FFN 384, 2 KV heads of 32, vocab 2048: in → out 128→128, 128→64, 128→384, 384→128,
// 128→2048) at 1, 8, 32 and 64 rows, in GFLOP/s, against a peer build of this package measured
// in the same process and the same interleaved rounds, so a ratio compares two kernels under the
// same machine conditions. On one thread each figure is of process CPU time (the fastest of
// ~30 ms samples): a shared machine's other jobs take wall time from a run but little CPU time.
//   node bench/linear-rows.mjs [--peer DIR | --peer none] [--threads 1] [--rows 1,8,32,64] [--budget 400]
// --peer: another build's dist/, e.g. a checkout of main's packages/tensor/dist (none by default).
// --threads N > 1: wall time (the workers' CPU time includes their idle spinning), and no peer
// in the process (two pools would spin against each other on the same cores): run ours and the
// peer's build in alternating processes instead (--ours DIR measures another build's dist/ alone).
// Operands live in each backend's own wasm memory (allocF32), as a model's weights do, so the
// figures are the kernel's and not the copy of a foreign array. Every pair of outputs is also
// compared bit for bit (the kernels must agree exactly: batch invariance fixes the order).
import { existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { bestCpuMsPerCall, bestMsPerCall } from "../../../tools/bench-helpers/race.mjs";
import { fill } from "./fill.mjs";

const { values } = parseArgs({
  options: {
    peer: { type: "string" },
    threads: { type: "string", default: "1" },
    rows: { type: "string", default: "1,8,32,64" },
    budget: { type: "string", default: "400" },
    ours: { type: "string" },
  },
});
const threads = Number(values.threads);
const rowCounts = values.rows.split(",").map(Number);
const budget = Number(values.budget);
const shapes = [[128, 128], [128, 64], [128, 384], [384, 128], [128, 2048]];
const load = () => os.loadavg().map((x) => x.toFixed(2)).join(" ");

const oursDir = path.resolve(values.ours ?? path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "dist"));
const { createWasmBackend } = await import(pathToFileURL(path.join(oursDir, "index.js")).href);
if (values.peer && values.peer !== "none" && !existsSync(path.join(values.peer, "index.js"))) {
  throw new Error(`linear-rows: --peer ${values.peer} has no index.js (expected a build's dist/ directory)`);
}
const peerDir = threads === 1 && values.peer && values.peer !== "none" ? path.resolve(values.peer) : null;
const contestants = [{ name: "ours", backend: await createWasmBackend({ threads }) }];
if (peerDir) {
  const peerTensor = await import(pathToFileURL(path.join(peerDir, "index.js")).href);
  contestants.push({ name: "peer", backend: await peerTensor.createWasmBackend({ threads }) });
}
const timing = threads === 1 ? "process CPU time" : "wall time";
console.log(`linear (batched f32 projection) of ${oursDir}, ${threads} thread(s), ${timing}; peer ${peerDir ?? "none"}; load average ${load()}`);
console.log(`in→out     rows | ours GFLOP/s${peerDir ? " | peer GFLOP/s | ours/peer" : ""}`);
for (const [k, n] of shapes) {
  for (const rows of rowCounts) {
    const fns = {};
    const outs = [];
    for (const { name, backend } of contestants) {
      const w = fill(backend.allocF32(n * k), 1);
      const x = fill(backend.allocF32(rows * k), 2);
      const out = backend.allocF32(rows * n);
      fns[name] = () => backend.linear(out, x, w, rows, k, n);
      outs.push(out);
    }
    const best = threads === 1 ? bestCpuMsPerCall(fns, budget) : bestMsPerCall(fns, budget);
    if (outs.length === 2 && !outs[0].every((v, i) => Object.is(v, outs[1][i]))) {
      throw new Error(`linear ${k}→${n} × ${rows}: ours and the peer differ in some output bits`);
    }
    const gflops = (name) => (2 * rows * k * n) / (best[name] / 1000) / 1e9;
    const line = `${`${k}→${n}`.padEnd(10)} ${String(rows).padStart(4)} | ${gflops("ours").toFixed(1).padStart(12)}`;
    console.log(peerDir ? `${line} | ${gflops("peer").toFixed(1).padStart(12)} | ${(best.peer / best.ours).toFixed(2).padStart(8)}×` : line);
  }
}
console.log(`load average at the end ${load()}`);
