// Matrix multiply and decode-shape matrix × vector throughput, in GFLOP/s, for the `js`
// reference, the `wasm` backend on 1 thread and on all threads, and two peers measured in the
// same run: @tensorflow/tfjs-backend-wasm (XNNPACK, SIMD build, 1 thread) and numpy's BLAS
// (OpenBLAS, all threads) when python3 + numpy are installed.
//
// Every figure is the best of repeated ~50 ms samples (~0.6 s per contestant, taken in
// interleaved rounds): on a shared machine the best sample is the least disturbed one, and all
// columns follow the same rule (numpy's in its own process, right after each row's race).
// Run: pnpm bench [--quick] (builds dist/ first when it is missing or stale), or node
// bench/kernels.mjs [--quick] after a build.
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createWasmBackend, jsBackend } from "../dist/index.js";
import { coresAvailable } from "./cpu-probe.mjs";
import { bestMsPerCall } from "../../../tools/bench-helpers/race.mjs";
import { fill } from "./fill.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const quick = process.argv.includes("--quick");
const budgetMs = quick ? 200 : 600;
const allThreads = Math.min(os.availableParallelism?.() ?? os.cpus().length, 64);

const squares = [64, 128, 256, 512, 1024];
// [rows, cols] of W in y = W·x: the per-token projections of llama2.c's stories15M
// (dim 288, hidden 768, vocab 32000) and stories110M (dim 768, hidden 2048).
const decode = [[288, 288], [768, 288], [32000, 288], [768, 768], [2048, 768], [32000, 768]];

// GFLOP/s of each contestant from its best interleaved sample (tools/bench-helpers/race.mjs).
function race(contestants, flops, budget = budgetMs) {
  const best = bestMsPerCall(contestants, budget);
  return Object.fromEntries(Object.entries(best).map(([key, ms]) => [key, flops / (ms / 1000) / 1e9]));
}

async function loadTfjs() {
  try {
    const tf = require("@tensorflow/tfjs-core");
    const tfWasm = require("@tensorflow/tfjs-backend-wasm");
    const dist = path.join(path.dirname(require.resolve("@tensorflow/tfjs-backend-wasm/package.json")), "dist") + path.sep;
    tfWasm.setWasmPaths(dist);
    // Node cannot start tfjs's Blob-URL pthreads, so its threaded build is off: 1 thread, SIMD build
    tf.env().set("WASM_HAS_MULTITHREAD_SUPPORT", false);
    tf.env().set("WASM_HAS_SIMD_SUPPORT", true);
    await tf.setBackend("wasm");
    await tf.ready();
    return tf;
  } catch (error) {
    console.log(`tfjs-backend-wasm unavailable (${error.message}); its column is empty`);
    return null;
  }
}

let peer; // { blas, threads } of the first successful numpy run; false once it failed
function numpyPeer(shapes) {
  if (peer === false) return null;
  const run = spawnSync("python3", [path.join(here, "numpy-peer.py"), JSON.stringify(shapes)], {
    encoding: "utf8", timeout: 600_000,
  });
  if (run.status !== 0) {
    console.log(`numpy peer unavailable (${(run.stderr || run.error?.message || "").trim().split("\n").pop()})`);
    peer = false;
    return null;
  }
  const result = JSON.parse(run.stdout);
  peer ??= result;
  return result;
}

const fmt = (x) => (x === undefined || x === null ? "—" : x >= 100 ? x.toFixed(0) : x.toFixed(1));
const ratio = (a, b) => (a && b ? (a / b).toFixed(2) : "—");

const coresBefore = await coresAvailable(allThreads);
const tf = await loadTfjs();
const wasm1 = await createWasmBackend({ threads: 1 });
const wasmN = await createWasmBackend({ threads: allThreads });

const rows = [];
for (const n of squares) {
  const a = fill(new Float32Array(n * n), 1), b = fill(new Float32Array(n * n), 2);
  const contestants = {};
  const out = new Float32Array(n * n);
  // the reference is ~1 GFLOP/s: one call of 1024³ takes seconds, so it gets one sample there
  const jsOnce = n >= 1024;
  if (!jsOnce) contestants.js = () => jsBackend.matmul(out, a, b, n, n, n);
  const owned = [];
  for (const [key, be] of [["wasm1", wasm1], ["wasmN", wasmN]]) {
    const wa = be.allocF32(n * n), wb = be.allocF32(n * n), wc = be.allocF32(n * n);
    wa.set(a); wb.set(b);
    owned.push([be, wa, wb, wc]);
    contestants[key] = () => be.matmul(wc, wa, wb, n, n, n);
  }
  let ta, tb;
  if (tf) {
    ta = tf.tensor2d(a, [n, n]); tb = tf.tensor2d(b, [n, n]);
    contestants.tfjs = () => { const c = tf.matMul(ta, tb); c.dataSync(); c.dispose(); };
  }
  const row = { shape: `${n}×${n}×${n}`, m: n, k: n, n, kind: "mm", ...race(contestants, 2 * n * n * n) };
  row.blas = numpyPeer([[n, n, n, "mm"]])?.gflops[0];
  if (jsOnce && !quick) {
    const t0 = performance.now();
    jsBackend.matmul(out, a, b, n, n, n);
    row.js = (2 * n * n * n) / ((performance.now() - t0) / 1000) / 1e9;
  }
  for (const [be, ...arrays] of owned) arrays.forEach((array) => be.free(array));
  ta?.dispose(); tb?.dispose();
  rows.push(row);
}
for (const [r, c] of decode) {
  const w = fill(new Float32Array(r * c), 3), x = fill(new Float32Array(c), 4);
  const out = new Float32Array(r);
  const contestants = { js: () => jsBackend.matvec(out, w, x, r, c) };
  const owned = [];
  for (const [key, be] of [["wasm1", wasm1], ["wasmN", wasmN]]) {
    const ww = be.allocF32(r * c), wx = be.allocF32(c), wy = be.allocF32(r);
    ww.set(w); wx.set(x);
    owned.push([be, ww, wx, wy]);
    contestants[key] = () => be.matvec(wy, ww, wx, r, c);
  }
  let tw, tx;
  if (tf) {
    // the decode step as tfjs would run it: x [1, cols] · Wᵀ with W [rows, cols]
    tw = tf.tensor2d(w, [r, c]); tx = tf.tensor2d(x, [1, c]);
    contestants.tfjs = () => { const y = tf.matMul(tx, tw, false, true); y.dataSync(); y.dispose(); };
  }
  const row = { shape: `${r}×${c} · x`, m: r, k: c, n: 1, kind: "mv", ...race(contestants, 2 * r * c) };
  row.blas = numpyPeer([[r, c, 1, "mv"]])?.gflops[0];
  rows.push(row);
  for (const [be, ...arrays] of owned) arrays.forEach((array) => be.free(array));
  tw?.dispose(); tx?.dispose();
}
await wasm1.dispose();
await wasmN.dispose();


console.log(`\n@zero-llm/tensor kernels — GFLOP/s, best ~50 ms sample of ~${budgetMs} ms each; ${os.cpus()[0]?.model ?? "cpu"}, ${allThreads} threads, Node ${process.version}`);
const coresAfter = await coresAvailable(allThreads);
console.log(`cores this process could get (${allThreads} spinning threads, cpu time / wall time): ${coresBefore.toFixed(2)} before, ${coresAfter.toFixed(2)} after`);
if (peer) console.log(`numpy BLAS: ${peer.blas}${peer.threads ? `, ${peer.threads} threads` : ""}`);
console.log("");
console.log(`| shape | js | wasm 1T | wasm ${allThreads}T | tfjs-wasm 1T | numpy BLAS | wasm 1T / tfjs | wasm ${allThreads}T / BLAS |`);
console.log("|---|---:|---:|---:|---:|---:|---:|---:|");
for (const row of rows) {
  console.log(`| ${row.shape} | ${fmt(row.js)} | ${fmt(row.wasm1)} | ${fmt(row.wasmN)} | ${fmt(row.tfjs)} | ${fmt(row.blas)} | ${ratio(row.wasm1, row.tfjs)} | ${ratio(row.wasmN, row.blas)} |`);
}
