// Matrix × vector (the decode step) of a previous build of @zero-llm/tensor against this one.
// Each measurement runs in a process of its own, old and new alternating round by round, and
// times the kernel by the process's CPU time (the best ~50 ms sample of --budget ms), so being
// descheduled on the shared cores does not count; the figure per build is the median over rounds.
// Why not both builds in one process: on the dev machine (a KVM guest) two backends in one
// process were measured 1.2–2× apart with identical code, whichever build each was; where a
// process's buffers land decides, so every round takes a fresh process for each build.
// Each call cycles through ≥ 96 MiB of copies of the weights, so that it reads them from DRAM.
//
// Keep a copy of the old build first, then rebuild and run:
//   cp -r packages/tensor/dist /tmp/tensor-old   # before changing assembly/
//   node bench/matvec-ab.mjs --old /tmp/tensor-old/index.js [--new /tmp/tensor-new/index.js] [--types f32,q4_k] [--shapes 2048x768] [--rounds 5] [--stream-mib 0]
// Type q4_0x4: q4_0 packed into tiles of four rows where the build has them (packQ4_0Tiles), its
// q4_0 rows where it does not: `--types q4_0x4` races the tiles against an older build's rows.
import { spawnSync } from "node:child_process";
import os from "node:os";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    old: { type: "string" },
    // the build to compare with it (default: this checkout's packages/tensor/dist)
    new: { type: "string" },
    types: { type: "string", default: "f32,q8_0,q4_0,q4_1,q4_k" },
    threads: { type: "string", default: "1" },
    budget: { type: "string", default: "400" },
    rounds: { type: "string", default: "5" },
    // MiB of weight copies each call cycles through: 96 reads from DRAM, as a decode step does; 0
    // keeps one copy, in cache, which isolates the instruction count (less noisy under load)
    "stream-mib": { type: "string", default: "96" },
    shapes: { type: "string", default: "768x768,2048x768,768x2048,32000x768,768x288,288x768,32000x288" },
    // a child's own arguments: measure one build
    child: { type: "string" },
    type: { type: "string" },
    shape: { type: "string" },
  },
});
const threads = Number(values.threads), budgetMs = Number(values.budget);
const STREAM_BYTES = Number(values["stream-mib"]) * 2 ** 20;

const cpuMs = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };

/** The best CPU ms per call of fn over ~50 ms samples for budgetMs (tools/bench-helpers/race.mjs's rule, by CPU time). */
function bestCpuMsPerCall(fn) {
  fn();
  let reps = 1;
  for (;;) {
    const t0 = cpuMs();
    for (let r = 0; r < reps; r++) fn();
    if (cpuMs() - t0 > 50 || reps > 1 << 20) break;
    reps *= 2;
  }
  let best = Infinity;
  const end = performance.now() + budgetMs;
  while (performance.now() < end) {
    const t0 = cpuMs();
    for (let r = 0; r < reps; r++) fn();
    best = Math.min(best, (cpuMs() - t0) / reps);
  }
  return best;
}

if (values.child) {
  const tensor = await import(pathToFileURL(values.child).href);
  const [rows, cols] = values.shape.split("x").map(Number);
  // "q4_0x4": q4_0 blocks packed into tiles of four rows (a build without them measures its q4_0 rows)
  const tiled = values.type === "q4_0x4" && typeof tensor.packQ4_0Tiles === "function";
  const type = values.type === "q4_0x4" ? "q4_0" : values.type;
  let seed = 1;
  const next = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 4294967296);
  const backend = await tensor.createWasmBackend({ threads });
  const x = backend.allocF32(cols);
  for (let i = 0; i < cols; i++) x[i] = next() - 0.5;
  const y = backend.allocF32(rows);
  const bytes = type === "f32" ? rows * cols * 4 : rows * tensor.quantRowBytes(type, cols);
  const copies = Math.max(1, Math.ceil(STREAM_BYTES / bytes));
  const calls = [];
  for (let c = 0; c < copies; c++) {
    if (type === "f32") {
      const w = backend.allocF32(rows * cols);
      for (let i = 0; i < w.length; i++) w[i] = (next() - 0.5) * 0.1;
      calls.push(() => backend.matvec(y, w, x, rows, cols));
    } else {
      // random valid blocks: every code, scales of either sign (speed does not depend on values)
      const w = backend.allocBytes(bytes);
      for (let i = 0; i < w.length; i++) w[i] = (next() * 256) | 0;
      const { blockBytes } = tensor.QUANT_TYPES[type];
      const halves = type === "q4_1" || type === "q4_k" ? 2 : 1;
      for (let b = 0; b < w.length; b += blockBytes) {
        for (let h = 0; h < halves; h++) {
          const v = tensor.f32ToF16((next() - 0.5) * 0.02);
          w[b + 2 * h] = v & 0xff;
          w[b + 2 * h + 1] = v >> 8;
        }
      }
      if (tiled) tensor.packQ4_0Tiles(w, rows, cols);
      calls.push(tiled ? () => backend.matmulQuant(y, x, w, type, 1, cols, rows, "q4_0x4") : () => backend.matmulQuant(y, x, w, type, 1, cols, rows));
    }
  }
  let i = 0;
  const ms = bestCpuMsPerCall(() => calls[i++ % copies]());
  // a checksum of the first copy's output: both builds must give the same bits unless numerics changed
  calls[0]();
  const bits = new Uint32Array(y.buffer, y.byteOffset, y.length);
  let sum = 0;
  for (let j = 0; j < bits.length; j++) sum = (Math.imul(sum, 31) + bits[j]) >>> 0;
  console.log(JSON.stringify({ ms, sum }));
  await backend.dispose();
  process.exit(0);
}

if (!values.old) throw new Error("matvec-ab: --old <path to a previous build's dist/index.js> is required");
const here = fileURLToPath(import.meta.url);
const newDist = values.new ?? fileURLToPath(new URL("../../tensor/dist/index.js", import.meta.url));
const measure = (dist, type, shape) => {
  const r = spawnSync(process.execPath, [here, "--child", dist, "--type", type, "--shape", shape, "--threads", String(threads), "--budget", String(budgetMs), "--stream-mib", values["stream-mib"]], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`matvec-ab child failed: ${r.stderr.slice(-600)}`);
  return JSON.parse(r.stdout.trim().split("\n").pop());
};
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const types = values.types.split(",");
console.log(`matvec, ${values.old} (old) vs ${values.new ?? "this build"} (new), ${threads} thread(s), ${values.rounds} rounds of a fresh process each, the order alternating: median CPU µs per call, new / old speed (lowest–highest ratio of a round)`);
console.log(`| shape | ${types.join(" | ")} |`);
console.log(`|---|${types.map(() => "---:").join("|")}|`);
for (const shape of values.shapes.split(",")) {
  const cols = Number(shape.split("x")[1]);
  const cells = [];
  for (const type of types) {
    if ((type === "q4_k" && cols % 256 !== 0) || (type !== "f32" && cols % 32 !== 0) || (type === "q4_0x4" && Number(shape.split("x")[0]) % 4 !== 0)) {
      cells.push("—");
      continue;
    }
    const old = [], fresh = [];
    let same = true;
    for (let r = 0; r < Number(values.rounds); r++) {
      // ABBA: which build goes first alternates (the second process of a pair was often slower)
      let a, b;
      if (r % 2 === 0) { a = measure(values.old, type, shape); b = measure(newDist, type, shape); }
      else { b = measure(newDist, type, shape); a = measure(values.old, type, shape); }
      old.push(a.ms);
      fresh.push(b.ms);
      same &&= a.sum === b.sum;
    }
    const ratios = old.map((o, r) => o / fresh[r]);
    cells.push(`${(median(old) * 1000).toFixed(0)} → ${(median(fresh) * 1000).toFixed(0)} µs, **${(median(old) / median(fresh)).toFixed(2)}×** (${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)})${same ? "" : " (outputs differ!)"}`);
  }
  console.log(`| ${shape} | ${cells.join(" | ")} |`);
}
console.log(`(load average ${os.loadavg().map((x) => x.toFixed(1)).join(" ")})`);
