// The non-product kernels of one batched decode step on the embedded model's shapes (dim 128,
// FFN 384, 4 heads / 2 KV heads of 32, 4 layers), 32 rows whose contexts spread over 10–80, each
// piece timed alone by process CPU time, in µs per row of the whole step (every layer): where
// the part of a decodeLayers step that is not matrix products goes (linear-rows.mjs times those).
//   node bench/decode-pieces.mjs [--peer DIR] [--rows 32] [--context 10-80] [--budget 300]
// Ours is this package's assembly build (src/backend/generated, one thread, the plain SIMD
// module); --peer DIR: another checkout's packages/tensor (e.g. /work/main/packages/tensor),
// raced in the same process and interleaved rounds, with ours/peer per piece. The modules are
// instantiated here on their own memories and called straight, so a figure is the kernel's
// alone, without the pool's hand-off. Each pair of outputs is compared bit for bit.
//   rmsnorm       both norms of every layer (2 × layers calls of [rows, dim])
//   rope          q and k of every row, every layer (ropeBatch: rope() once per row, as decode-rows.ts)
//   attention     attentionBatch over every row, every layer (scores, softmax, weighted values)
//   add           both residual adds of every layer
//   swiglu        every row's SwiGLU, every layer
//   kv write js   the new key and value row copied into each layer's cache (a JS copyWithin
//                 stand-in for decode-rows.ts' memory.copy: same bytes, host-side call cost)
import { readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { fill } from "./fill.mjs";
import { bestCpuMsPerCall } from "../../../tools/bench-helpers/race.mjs";

const { values } = parseArgs({
  options: {
    peer: { type: "string" },
    rows: { type: "string", default: "32" },
    context: { type: "string", default: "10-80" },
    budget: { type: "string", default: "300" },
    // a module file to run as ours instead of the generated one (e.g. built with --debug, so a
    // perf profile names its functions), and the pieces to run (comma-separated; all by default)
    "ours-wasm": { type: "string" },
    only: { type: "string" },
  },
});
const rows = Number(values.rows);
const [contextLo, contextHi] = values.context.includes("-") ? values.context.split("-").map(Number) : [Number(values.context), Number(values.context)];
const contextOf = (r) => (rows === 1 ? Math.round((contextLo + contextHi) / 2) : Math.round(contextLo + ((contextHi - contextLo) * r) / (rows - 1)));
const budget = Number(values.budget);
const load = () => os.loadavg().map((x) => x.toFixed(2)).join(" ");
const here = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const [dim, hidden, nHeads, nKvHeads, headDim, nLayers] = [128, 384, 4, 2, 32, 4];
// the embedded model is an HF Llama checkpoint: RoPE on halves (not interleaved pairs)
const interleaved = 0;
const kvDim = nKvHeads * headDim, maxSeq = contextHi + 1, ENTRY_BYTES = 16;

/** The plain-SIMD unshared module of a tensor package checkout, compiled from its generated file. */
function moduleOf(pkgDir) {
  if (pkgDir === here && values["ours-wasm"]) return new WebAssembly.Module(readFileSync(values["ours-wasm"]));
  const source = readFileSync(path.join(pkgDir, "src/backend/generated/kernels-wasm-unshared.ts"), "utf8");
  const base64 = [...source.matchAll(/"([A-Za-z0-9+/=]+)"/g)].map((m) => m[1]).join("");
  return new WebAssembly.Module(Buffer.from(base64, "base64"));
}

/** A module instance on its own memory, operands laid out by a bump allocator, inputs filled alike. */
function setUp(pkgDir) {
  const module = moduleOf(pkgDir);
  const memory = new WebAssembly.Memory({ initial: 256 });
  const env = { memory };
  for (const { module: from, name, kind } of WebAssembly.Module.imports(module)) {
    if (from === "env" && kind === "function" && name.startsWith("Math.")) env[name] = Math[name.slice(5)];
  }
  const k = new WebAssembly.Instance(module, { env }).exports;
  let top = 65536;
  const alloc = (bytes) => {
    const at = top;
    top += (bytes + 63) & ~63;
    if (top > memory.buffer.byteLength) memory.grow(Math.ceil((top - memory.buffer.byteLength) / 65536));
    return at;
  };
  const f32 = (n, seed) => {
    const at = alloc(n * 4);
    fill(new Float32Array(memory.buffer, at, n), seed);
    return at;
  };
  const x = f32(rows * dim, 1), xb = f32(rows * dim, 2), xb2 = f32(rows * dim, 3), q = f32(rows * dim, 4);
  const kNew = f32(rows * kvDim, 5), vNew = f32(rows * kvDim, 6), hb = f32(rows * hidden, 7), hb2 = f32(rows * hidden, 8);
  const norm = f32(dim, 9), scratch = alloc(1 << 16);
  const ropeTable = f32(maxSeq * (headDim / 2) * 2, 10);
  const positions = alloc(rows * 4);
  new Int32Array(memory.buffer, positions, rows).set(Array.from({ length: rows }, (_, r) => contextOf(r)));
  // every layer's entries: row r's caches hold contextOf(r) + 1 rows (the new one last)
  const entries = [];
  for (let l = 0; l < nLayers; l++) {
    const table = alloc(rows * ENTRY_BYTES);
    const view = new Int32Array(memory.buffer, table, rows * 4);
    for (let r = 0; r < rows; r++) {
      const keys = f32(maxSeq * kvDim, 100 + l * rows + r), vals = f32(maxSeq * kvDim, 5000 + l * rows + r);
      view.set([r, keys, vals, contextOf(r) + 1], r * 4);
    }
    entries.push(table);
  }
  const bytes = () => new Uint8Array(memory.buffer);
  return { k, memory, bytes, x, xb, xb2, q, kNew, vNew, hb, hb2, norm, scratch, ropeTable, positions, entries };
}

/** Each piece of a whole step (every layer), as a function of one set-up instance. */
const pieces = {
  rmsnorm: (s) => () => {
    for (let l = 0; l < 2 * nLayers; l++) s.k.rmsnorm(s.xb, s.x, s.norm, rows, dim, 1e-5);
  },
  rope: (s) => () => {
    // the table's angles are random: each layer rotates q and k of its own (rotations stay bounded)
    for (let l = 0; l < nLayers; l++) {
      s.k.ropeBatch(s.q, rows, nHeads, headDim, s.positions, s.ropeTable, interleaved);
      s.k.ropeBatch(s.kNew, rows, nKvHeads, headDim, s.positions, s.ropeTable, interleaved);
    }
  },
  "kv write js": (s) => () => {
    const b = s.bytes(), kvBytes = kvDim * 4;
    for (let l = 0; l < nLayers; l++) {
      const e = new Int32Array(s.memory.buffer, s.entries[l], rows * 4);
      for (let r = 0; r < rows; r++) {
        const pos = e[r * 4 + 3] - 1;
        b.copyWithin(e[r * 4 + 1] + pos * kvBytes, s.kNew + r * kvBytes, s.kNew + (r + 1) * kvBytes);
        b.copyWithin(e[r * 4 + 2] + pos * kvBytes, s.vNew + r * kvBytes, s.vNew + (r + 1) * kvBytes);
      }
    }
  },
  attention: (s) => () => {
    for (let l = 0; l < nLayers; l++) s.k.attentionBatch(s.xb, s.q, s.entries[l], nHeads, nKvHeads, headDim, kvDim, 0, rows, s.scratch);
  },
  add: (s) => () => {
    for (let l = 0; l < 2 * nLayers; l++) s.k.add(s.xb2, s.x, s.xb, rows * dim);
  },
  swiglu: (s) => () => {
    for (let l = 0; l < nLayers; l++) for (let r = 0; r < rows; r++) s.k.swiglu(s.hb2 + r * hidden * 4, s.hb + r * hidden * 4, s.hb2 + r * hidden * 4, hidden);
  },
};

/** Output regions each piece writes, compared bit for bit between the contestants. */
const outputs = { rmsnorm: ["xb", dim], rope: ["q", dim], attention: ["xb", dim], add: ["xb2", dim], swiglu: ["hb2", hidden] };

const contestants = [{ name: "ours", s: setUp(here) }];
if (values.peer) contestants.push({ name: "peer", s: setUp(path.resolve(values.peer)) });
console.log(
  `decode-step pieces, ${rows} rows, context ${values.context}, dim ${dim}, FFN ${hidden}, ${nHeads}/${nKvHeads} heads of ${headDim}, ` +
    `${nLayers} layers; process CPU µs per row per step; load average ${load()}`,
);
console.log(`piece       | ours µs/row${values.peer ? " | peer µs/row | ours/peer  same bits" : ""}`);
let totals = contestants.map(() => 0);
const chosen = values.only ? values.only.split(",") : Object.keys(pieces);
for (const [name, make] of Object.entries(pieces).filter(([name]) => chosen.includes(name))) {
  // µs per call: fastest process-CPU time over interleaved ~20 ms samples, after 20 warm-up calls
  const bestMs = bestCpuMsPerCall(Object.fromEntries(contestants.map((c) => [c.name, make(c.s)])), budget, { sampleMs: 20, warmUp: 20 });
  const best = Object.fromEntries(Object.entries(bestMs).map(([name, ms]) => [name, ms * 1000]));
  const us = contestants.map((c) => best[c.name] / rows);
  totals = totals.map((t, i) => t + us[i]);
  let same = "";
  if (values.peer && outputs[name]) {
    // one fresh call of each on identical inputs (re-set up), then the output regions compared
    const [a, b] = [setUp(here), setUp(path.resolve(values.peer))];
    make(a)();
    make(b)();
    const [field, width] = outputs[name];
    const va = new Uint32Array(a.memory.buffer, a[field], rows * width), vb = new Uint32Array(b.memory.buffer, b[field], rows * width);
    same = va.every((v, i) => v === vb[i]) ? "yes" : "NO";
  }
  console.log(`${name.padEnd(11)} | ${us.map((u) => u.toFixed(2).padStart(8)).join(" | ")}${values.peer ? ` | ${(us[0] / us[1]).toFixed(3)}×  ${same}` : ""}`);
}
console.log(`${"sum".padEnd(11)} | ${totals.map((u) => u.toFixed(2).padStart(8)).join(" | ")}${values.peer ? ` | ${(totals[0] / totals[1]).toFixed(3)}×` : ""}   (load ${load()})`);
