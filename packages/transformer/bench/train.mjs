// Training throughput: the 0.8M-parameter GPT of DESIGN.md (4 layers, 4 heads, width 128,
// block 64, batch 12, vocab 65 as nanoGPT's character-level Shakespeare, AdamW, clipping at 1),
// ours on the wasm backend (1 and 2 threads) beside PyTorch (system python3 with torch, 1 and 2
// threads) measured in the same run. The ratio compares each side's faster thread count.
//
//   node bench/train.mjs [--steps 20] [--threads 1,2] [--backend wasm|js] [--breakdown]
//
// --breakdown times every backend kernel call of the ours-side steps (2 threads) and prints
// where a step goes. Needs `npx tsup` in tensor, autograd and transformer (pnpm bench does it).
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { createWasmBackend, jsBackend, setBackend } from "@zero-llm/tensor";
import { TokenDataset, Trainer, TransformerLM, modelConfig, resolveSettings } from "../dist/index.js";

const args = process.argv.slice(2);
const flag = (name, fallback) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1] : fallback; };
const steps = Number(flag("steps", 20));
const warm = 5;
const threadCounts = flag("threads", "1,2").split(",").map(Number);
const backendName = flag("backend", "wasm");
const breakdown = args.includes("--breakdown");
const SHAPE = { arch: "gpt2", dim: 128, nLayers: 4, nHeads: 4, vocabSize: 65, seqLen: 64, hiddenDim: 512, tiedEmbeddings: true };
const BATCH = 12, TOKENS = BATCH * 64;

/** Wraps every kernel of the Backend contract on `backend` to add its wall time into `stats` (name -> { ms, calls }). */
function timeKernels(backend, stats) {
  for (const name of Object.keys(jsBackend)) {
    if (name === "allocF32" || typeof backend[name] !== "function") continue;
    const inner = backend[name].bind(backend);
    backend[name] = (...a) => {
      const t0 = performance.now();
      const r = inner(...a);
      const s = stats.get(name) ?? { ms: 0, calls: 0 };
      s.ms += performance.now() - t0;
      s.calls++;
      stats.set(name, s);
      return r;
    };
  }
}

async function ours(threads) {
  const backend = backendName === "wasm" ? await createWasmBackend({ threads }) : jsBackend;
  setBackend(backend);
  const stats = new Map();
  const model = new TransformerLM(modelConfig(SHAPE));
  const tokens = Array.from({ length: 100_000 }, (_, i) => (i * 31 + (i >> 7)) % 65);
  const trainer = new Trainer(model, new TokenDataset(tokens, 65, { seqLen: 64 }), resolveSettings({ steps: 2 * (steps + warm), batchSize: BATCH, lr: 1e-3, warmupSteps: 0, weightDecay: 0.1, gradClip: 1 }));
  for (let i = 0; i < warm; i++) trainer.trainStep();
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) trainer.trainStep();
  const ms = (performance.now() - t0) / steps;
  let kernels = null;
  if (breakdown && threads === Math.max(...threadCounts)) {
    timeKernels(backend, stats);
    const t1 = performance.now();
    for (let i = 0; i < steps; i++) trainer.trainStep();
    kernels = { ms: (performance.now() - t1) / steps, stats };
  }
  await backend.dispose?.();
  setBackend(jsBackend);
  return { ms, params: model.numParameters(), kernels };
}

const PY = (threads) => `
import time, math, torch, torch.nn as nn, torch.nn.functional as F
torch.set_num_threads(${threads}); torch.manual_seed(0)
V, D, L, H, T, B = 65, 128, 4, 4, 64, 12
class Block(nn.Module):
    def __init__(s):
        super().__init__(); s.ln1 = nn.LayerNorm(D); s.qkv = nn.Linear(D, 3 * D); s.o = nn.Linear(D, D)
        s.ln2 = nn.LayerNorm(D); s.up = nn.Linear(D, 4 * D); s.down = nn.Linear(4 * D, D)
    def forward(s, x):
        b, t, _ = x.shape
        q, k, v = s.qkv(s.ln1(x)).split(D, 2)
        q, k, v = [z.view(b, t, H, D // H).transpose(1, 2) for z in (q, k, v)]
        a = (q @ k.transpose(-2, -1)) / math.sqrt(D // H)
        a = a.masked_fill(torch.ones(t, t, dtype=torch.bool).triu(1), float("-inf")).softmax(-1)
        x = x + s.o((a @ v).transpose(1, 2).reshape(b, t, D))
        return x + s.down(F.gelu(s.up(s.ln2(x)), approximate="tanh"))
class GPT(nn.Module):
    def __init__(s):
        super().__init__(); s.wte = nn.Embedding(V, D); s.wpe = nn.Embedding(T, D)
        s.blocks = nn.ModuleList([Block() for _ in range(L)]); s.ln = nn.LayerNorm(D)
    def forward(s, idx):
        x = s.wte(idx) + s.wpe(torch.arange(idx.shape[1]))
        for blk in s.blocks: x = blk(x)
        return s.ln(x) @ s.wte.weight.t()
m = GPT(); opt = torch.optim.AdamW(m.parameters(), lr=1e-3, weight_decay=0.1)
data = torch.randint(0, V, (100000,))
def step():
    ix = torch.randint(0, len(data) - T - 1, (B,))
    x = torch.stack([data[i:i + T] for i in ix]); y = torch.stack([data[i + 1:i + 1 + T] for i in ix])
    loss = F.cross_entropy(m(x).view(-1, V), y.view(-1)); opt.zero_grad(); loss.backward()
    torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0); opt.step()
for _ in range(${warm}): step()
t0 = time.perf_counter()
for _ in range(${steps}): step()
print((time.perf_counter() - t0) / ${steps} * 1000, sum(p.numel() for p in m.parameters()))
`;

function pytorch(threads) {
  const python = "/usr/bin/python3";
  if (!existsSync(python)) return { skipped: `${python} not found` };
  const r = spawnSync(python, ["-c", PY(threads)], { encoding: "utf8" });
  if (r.status !== 0) return { skipped: r.stderr.trim().split("\n").pop() };
  const [ms, params] = r.stdout.trim().split(/\s+/).map(Number);
  return { ms, params };
}

const tps = (ms) => Math.round((TOKENS * 1000) / ms).toLocaleString("en-US");
console.log(`training the ${SHAPE.nLayers}-layer GPT (width ${SHAPE.dim}, block 64, batch ${BATCH}, AdamW): ${steps} timed steps after ${warm} warm-up, each side`);
const mine = [], theirs = [];
for (const threads of backendName === "wasm" ? threadCounts : [1]) {
  // alternate the two sides, so a change in machine load hits both
  const o = await ours(threads);
  mine.push({ threads, ...o });
  console.log(`ours     ${backendName}${backendName === "wasm" ? ` ${threads} thread(s)` : ""}: ${o.params} parameters, ${o.ms.toFixed(1)} ms/step, ${tps(o.ms)} tokens/s`);
  const p = pytorch(threads);
  if (p.skipped) console.log(`pytorch  ${threads} thread(s): skipped (${p.skipped})`);
  else {
    theirs.push({ threads, ...p });
    console.log(`pytorch  ${threads} thread(s): ${p.params} parameters, ${p.ms.toFixed(1)} ms/step, ${tps(p.ms)} tokens/s`);
  }
}
const best = (list) => list.reduce((a, b) => (b.ms < a.ms ? b : a));
if (theirs.length > 0) {
  const o = best(mine), p = best(theirs);
  console.log(`ratio    ours (${o.threads} thread(s)) / pytorch (${p.threads} thread(s)), tokens/s = ${(p.ms / o.ms).toFixed(2)}x`);
}
const profiled = mine.find((m) => m.kernels);
if (profiled) {
  const { ms, stats } = profiled.kernels;
  const rows = [...stats].sort((a, b) => b[1].ms - a[1].ms);
  const inKernels = rows.reduce((s, [, v]) => s + v.ms / steps, 0);
  console.log(`\nwhere a step goes (${profiled.threads} thread(s), ${ms.toFixed(1)} ms/step with timers):`);
  for (const [name, v] of rows.slice(0, 12)) console.log(`  ${name.padEnd(22)} ${(v.ms / steps).toFixed(2).padStart(7)} ms  ${String(Math.round(v.calls / steps)).padStart(4)} calls  ${((100 * v.ms) / steps / ms).toFixed(1).padStart(5)} %`);
  console.log(`  ${"(outside kernels)".padEnd(22)} ${(ms - inKernels).toFixed(2).padStart(7)} ms             ${((100 * (ms - inKernels)) / ms).toFixed(1).padStart(5)} %`);
}
process.exit(0);
