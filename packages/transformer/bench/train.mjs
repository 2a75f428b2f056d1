// Training throughput: the 0.8M-parameter GPT of DESIGN.md (4 layers, 4 heads, width 128,
// block 64, batch 12, vocab 65 as nanoGPT's character-level Shakespeare, AdamW), ours on the
// wasm backend beside PyTorch (system python3 with torch) measured in the same run.
//
//   node bench/train.mjs [--steps 30] [--threads 1] [--backend wasm|js]
//
// Needs `npx tsup` in tensor, autograd and transformer. Prints tokens/s for both and the ratio.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { createWasmBackend, setBackend } from "@zero-llm/tensor";
import { TokenDataset, Trainer, TransformerLM, modelConfig, resolveSettings } from "../dist/index.js";

const args = process.argv.slice(2);
const flag = (name, fallback) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1] : fallback; };
const steps = Number(flag("steps", 30));
const warm = 5;
const threads = Number(flag("threads", 1));
const backendName = flag("backend", "wasm");
const SHAPE = { arch: "gpt2", dim: 128, nLayers: 4, nHeads: 4, vocabSize: 65, seqLen: 64, hiddenDim: 512, tiedEmbeddings: true };
const BATCH = 12;

if (backendName === "wasm") setBackend(await createWasmBackend({ threads }));
const config = modelConfig(SHAPE);
const tokens = Array.from({ length: 100_000 }, (_, i) => (i * 31 + (i >> 7)) % 65);
const model = new TransformerLM(config);
const trainer = new Trainer(model, new TokenDataset(tokens, 65, { seqLen: 64 }), resolveSettings({ steps: steps + warm, batchSize: BATCH, lr: 1e-3, warmupSteps: 0, weightDecay: 0.1 }));
for (let i = 0; i < warm; i++) trainer.trainStep();
const t0 = performance.now();
for (let i = 0; i < steps; i++) trainer.trainStep();
const ms = (performance.now() - t0) / steps;
const ours = (BATCH * 64 * 1000) / ms;
console.log(`ours     ${backendName}${backendName === "wasm" ? ` ${threads} thread(s)` : ""}: ${model.numParameters()} parameters, ${ms.toFixed(1)} ms/step, ${Math.round(ours)} tokens/s`);

const PY = `
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
const python = "/usr/bin/python3";
if (!existsSync(python)) {
  console.log("pytorch  skipped: /usr/bin/python3 not found");
} else {
  const r = spawnSync(python, ["-c", PY], { encoding: "utf8" });
  if (r.status !== 0) {
    console.log(`pytorch  skipped: ${r.stderr.trim().split("\n").pop()}`);
  } else {
    const [pyMs, pyParams] = r.stdout.trim().split(/\s+/).map(Number);
    const theirs = (BATCH * 64 * 1000) / pyMs;
    console.log(`pytorch  ${threads} thread(s): ${pyParams} parameters, ${pyMs.toFixed(1)} ms/step, ${Math.round(theirs)} tokens/s`);
    console.log(`ratio    ours / pytorch = ${(ours / theirs).toFixed(2)}x`);
  }
}
process.exit(0);
