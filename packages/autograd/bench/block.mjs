// Forward + backward of one pre-norm transformer block (batch 12, block 64, width 128, 4 heads),
// loss = mean(y²), against PyTorch (bench/block.py, float32 CPU, 1 and 2 threads) in the same run.
// Prints the median step time per backend (js, and wasm when @zero-llm/tensor exports it), the
// ratio to PyTorch, a per-op breakdown of forward and backward, and the heap after several steps.
//
//   cd packages/autograd && npx tsup && node --expose-gc bench/block.mjs
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import * as tensorPkg from "@zero-llm/tensor";
import { F, Var, nn, scratchScope, setBackwardProfile } from "../dist/index.js";

const { Rng, Tensor, getBackend, setBackend } = tensorPkg;
const BATCH = 12, SEQ = 64, WIDTH = 128, HEADS = 4, REPS = Number(process.env.REPS ?? 10);

const g = new Rng(0);
const linear = (i, o) => {
  const l = new nn.Linear(i, o, { std: 0.02, generator: g });
  return l;
};
const block = {
  ln1: new nn.LayerNorm(WIDTH), ln2: new nn.LayerNorm(WIDTH),
  qkv: linear(WIDTH, 3 * WIDTH), proj: linear(WIDTH, WIDTH), fc: linear(WIDTH, 4 * WIDTH), fc2: linear(4 * WIDTH, WIDTH),
};
const params = Object.values(block).flatMap((m) => m.parameters());
const xData = new Float32Array(BATCH * SEQ * WIDTH).map(() => g.normal());
const x = new Var(new Tensor(xData, [BATCH, SEQ, WIDTH]));

/**
 * One forward + backward, as a training step runs it: inside a scratch scope (activations and
 * interior gradients in one reusable block of backend memory). `forwardTimes` (a Map) gets
 * milliseconds per stage when given.
 */
function step(forwardTimes) {
  scratchScope(() => stepBody(forwardTimes));
  for (const p of params) p.zeroGrad();
}

function stepBody(forwardTimes) {
  let t = performance.now();
  const mark = (name) => {
    if (!forwardTimes) return;
    const now = performance.now();
    forwardTimes.set(name, (forwardTimes.get(name) ?? 0) + now - t);
    t = now;
  };
  const h1 = block.ln1.forward(x); mark("layerNorm");
  const qkv = block.qkv.forward(h1); mark("linear");
  const head = (i) => F.reshape(F.slice(qkv, -1, i * WIDTH, (i + 1) * WIDTH), [BATCH, SEQ, HEADS, WIDTH / HEADS]);
  const q = head(0), k = head(1), v = head(2); mark("slice");
  const att = F.reshape(F.attention(q, k, v), [BATCH, SEQ, WIDTH]); mark("attention");
  const r = F.add(x, block.proj.forward(att)); mark("linear");
  const h2 = block.ln2.forward(r); mark("layerNorm");
  const f = F.gelu(block.fc.forward(h2)); mark("linear");
  const out = F.add(r, block.fc2.forward(f)); mark("linear");
  const loss = F.mean(F.mul(out, out)); mark("loss");
  loss.backward();
}

function median(a) {
  const s = [...a].sort((p, q) => p - q);
  return s[Math.floor(s.length / 2)];
}

function measure() {
  for (let i = 0; i < 3; i++) step();
  const times = [];
  for (let i = 0; i < REPS; i++) {
    const t0 = performance.now();
    step();
    times.push(performance.now() - t0);
  }
  // breakdown over REPS extra steps
  const fwd = new Map(), bwd = new Map();
  setBackwardProfile(bwd);
  const t0 = performance.now();
  for (let i = 0; i < REPS; i++) step(fwd);
  const profiled = (performance.now() - t0) / REPS;
  setBackwardProfile(null);
  return { ms: median(times), profiled, fwd, bwd };
}

function torchTimes() {
  try {
    const script = fileURLToPath(new URL("./block.py", import.meta.url));
    const out = execFileSync("/usr/bin/python3", [script, String(BATCH), String(SEQ), String(WIDTH), String(HEADS), String(REPS)], { encoding: "utf8" });
    return JSON.parse(out.trim().split("\n").pop());
  } catch (e) {
    console.log(`PyTorch not measured (${e.message.split("\n")[0]})`);
    return null;
  }
}

const backends = [["js", getBackend()]];
if (typeof tensorPkg.createWasmBackend === "function") {
  try {
    backends.push(["wasm", await tensorPkg.createWasmBackend()]);
    backends.push(["wasm, 2 threads", await tensorPkg.createWasmBackend({ threads: 2 })]);
  } catch (e) {
    console.log(`wasm backend not available: ${e.message}`);
  }
} else {
  console.log("wasm backend: not exported by @zero-llm/tensor yet; js only");
}

const torch = torchTimes();
const flops = 2 * BATCH * SEQ * (WIDTH * 3 * WIDTH + WIDTH * WIDTH + 2 * WIDTH * 4 * WIDTH) * 3;
console.log(`\none pre-norm block, batch ${BATCH} x seq ${SEQ}, width ${WIDTH}, ${HEADS} heads: forward + backward of mean(y^2)`);
if (torch) console.log(`PyTorch 1.13 float32: ${torch["1"].toFixed(2)} ms (1 thread), ${torch["2"].toFixed(2)} ms (2 threads)`);
for (const [name, backend] of backends) {
  setBackend(backend);
  const { ms, profiled, fwd, bwd } = measure();
  const best = torch ? Math.min(torch["1"], torch["2"]) : 0;
  const ratio = torch ? `  = ${(best / ms).toFixed(2)}x PyTorch's speed (its faster thread count)` : "";
  console.log(`\n[${name}] ${ms.toFixed(2)} ms per step (${((BATCH * SEQ) / ms * 1000).toFixed(0)} tokens/s, linear layers ${(flops / ms / 1e6).toFixed(2)} GFLOP/s)${ratio}`);
  // per-op times of the profiled steps, as a share of those steps' whole time; what no op
  // accounts for is the graph walk, gradient-buffer allocation, zeroGrad and the timers
  const rows = [...[...fwd].map(([op, t]) => [`forward  ${op}`, t / REPS]), ...[...bwd].map(([op, t]) => [`backward ${op}`, t / REPS])];
  rows.sort((a, b) => b[1] - a[1]);
  const accounted = rows.reduce((a, [, t]) => a + t, 0);
  rows.push(["other (graph, allocation)", Math.max(0, profiled - accounted)]);
  for (const [label, t] of rows) console.log(`  ${label.padEnd(26)} ${t.toFixed(2).padStart(8)} ms  ${((100 * t) / profiled).toFixed(1).padStart(5)}%`);
}

if (typeof globalThis.gc === "function") {
  // memory discipline: after each step's backward the graph is freed, so the live heap stays flat
  setBackend(backends[0][1]);
  const heap = [];
  for (let i = 0; i < 30; i++) {
    step();
    globalThis.gc();
    heap.push(process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers);
  }
  console.log(`\nheap + array buffers after steps 10, 20, 30 (gc'd): ${[heap[9], heap[19], heap[29]].map((b) => (b / 2 ** 20).toFixed(1) + " MiB").join(", ")}`);
} else {
  console.log("\n(run with node --expose-gc to print the heap across steps)");
}

for (const [, backend] of backends) backend.dispose?.();
