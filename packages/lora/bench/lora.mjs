// What LoRA costs and saves, each figure beside a peer measured in the same run:
//
//   decode   tokens/s of the embedded default model (models/default) with a rank-8 adapter on
//            every linear module, against the same model without it and with it merged; and
//            llama.cpp (node-llama-cpp) running our GGUF export with our GGUF adapter, against
//            llama.cpp without the adapter
//   train    tokens/s of a LoRA training step (rank 8, every linear module) against a full
//            fine-tuning step of the same model, and against PyTorch (system python3 with torch)
//            training the same LoRA on the same shape
//
//   node bench/lora.mjs [--tokens 128] [--steps 10] [--threads 2]
//
// Needs the packages built (pnpm bench builds them).
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { optim, scratchScope } from "@zero-llm/autograd";
import { Rng, Tensor, createWasmBackend, setBackend } from "@zero-llm/tensor";
import { fromTokenizerJson } from "@zero-llm/tokenizer-bpe";
import { Model, trainableFrom } from "@zero-llm/transformer";
import { loadModel, writeGgufModel } from "@zero-llm/transformer/node";
import { LoraAdapter, LoraTrainer, TrainableLora, loraSettings, mergedWeights, withAdapters } from "../dist/index.js";
import { writeGgufAdapter } from "../dist/node.js";

const args = process.argv.slice(2);
const flag = (name, fallback) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1] : fallback; };
const nTokens = Number(flag("tokens", 128));
const steps = Number(flag("steps", 10));
const threads = Number(flag("threads", 2));
const here = path.dirname(fileURLToPath(import.meta.url));
const modelDir = path.resolve(here, "../../../models/default");
const BATCH = 16, SEQ = 64;

const backend = await createWasmBackend({ threads });
setBackend(backend);
const base = await loadModel(modelDir, { backend });
const adapter = LoraAdapter.create(base.config, { targetModules: "all-linear", r: 8, alpha: 16 }, { seed: 1 });
const g = new Rng(2);
for (const m of adapter.modules.values()) for (let i = 0; i < m.b.length; i++) m.b[i] = 0.02 * g.normal();

// ---- decode ---------------------------------------------------------------------------------
function decodeRate(model, reps = 3) {
  const tokens = Array.from({ length: nTokens }, (_, i) => (i * 7919 + 13) % model.config.vocabSize);
  const cache = model.newCache({ capacity: nTokens });
  for (const t of tokens.slice(0, 16)) model.decode(t, cache); // warm-up
  const rates = [];
  for (let r = 0; r < reps; r++) {
    cache.reset();
    const t0 = performance.now();
    for (const t of tokens) model.decode(t, cache);
    rates.push((nTokens * 1000) / (performance.now() - t0));
  }
  return Math.max(...rates);
}

const models = {
  base,
  lora: withAdapters(base, [{ adapter }]),
  merged: new Model(base.config, mergedWeights(base, [{ adapter }], backend), { backend }),
};
const rates = {};
// interleaved rounds, so a change in machine load hits every side
for (let round = 0; round < 2; round++) for (const [name, m] of Object.entries(models)) rates[name] = Math.max(rates[name] ?? 0, decodeRate(m));
console.log(`decode tg${nTokens}, wasm ${threads} thread(s), default model (${base.weights.parameterCount().toLocaleString("en-US")} parameters), adapter rank 8 on all ${adapter.modules.size} linear modules (${adapter.parameterCount().toLocaleString("en-US")} parameters):`);
console.log(`  base     ${rates.base.toFixed(1)} tokens/s`);
console.log(`  + lora   ${rates.lora.toFixed(1)} tokens/s   ratio lora / base ${(rates.lora / rates.base).toFixed(2)}x`);
console.log(`  merged   ${rates.merged.toFixed(1)} tokens/s   ratio merged / base ${(rates.merged / rates.base).toFixed(2)}x`);

async function llamaCpp() {
  if (process.env.ZLLM_LLAMA_CPP === "0") return { skipped: "ZLLM_LLAMA_CPP=0" };
  let llama;
  try {
    const { getLlama, LlamaLogLevel } = await import("node-llama-cpp");
    llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error });
  } catch (e) {
    return { skipped: `node-llama-cpp did not load: ${String(e).split("\n")[0]}` };
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), "zllm-lora-bench-"));
  try {
    const tokenizer = fromTokenizerJson(readFileSync(path.join(modelDir, "tokenizer.json"), "utf8"));
    const gguf = path.join(dir, "base.gguf"), ggufAdapter = path.join(dir, "adapter.gguf");
    await writeGgufModel(gguf, base, { tokenizer, tokenizerOptions: { addBosToken: true } });
    await writeGgufAdapter(ggufAdapter, base.config, adapter);
    const model = await llama.loadModel({ modelPath: gguf });
    const rate = async (lora) => {
      const context = await model.createContext({ contextSize: nTokens + 8, threads, ...(lora ? { lora: { adapters: [{ filePath: ggufAdapter }] } } : {}) });
      const tokens = Array.from({ length: nTokens }, (_, i) => (i * 7919 + 13) % base.config.vocabSize);
      let best = 0;
      for (let rep = 0; rep < 3; rep++) {
        const seq = context.getSequence();
        const t0 = performance.now();
        for (const t of tokens) await seq.evaluateWithoutGeneratingNewTokens([t]);
        best = Math.max(best, (nTokens * 1000) / (performance.now() - t0));
        seq.dispose();
      }
      await context.dispose();
      return best;
    };
    const plain = await rate(false), adapted = await rate(true);
    await model.dispose();
    return { plain, adapted };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
const lc = await llamaCpp();
if (lc.skipped) console.log(`  llama.cpp: skipped (${lc.skipped})`);
else {
  console.log(`  llama.cpp base ${lc.plain.toFixed(1)} tokens/s, + our GGUF adapter ${lc.adapted.toFixed(1)} tokens/s (its lora / base ${(lc.adapted / lc.plain).toFixed(2)}x)`);
  console.log(`  ratio ours + lora / llama.cpp + lora ${(rates.lora / lc.adapted).toFixed(2)}x`);
}

// ---- train ----------------------------------------------------------------------------------
const stream = Array.from({ length: 50_000 }, (_, i) => (i * 31 + (i >> 5)) % base.config.vocabSize);
function batchOf(step) {
  const r = new Rng(step + 1);
  const inputs = new Int32Array(BATCH * SEQ), targets = new Int32Array(BATCH * SEQ);
  for (let b = 0; b < BATCH; b++) {
    const s = r.int(stream.length - SEQ - 1);
    for (let t = 0; t < SEQ; t++) {
      inputs[b * SEQ + t] = stream[s + t];
      targets[b * SEQ + t] = stream[s + t + 1];
    }
  }
  return { inputs, targets, batch: BATCH, seqLen: SEQ };
}
const data = { seqLen: SEQ, trainBatch: (_s, step) => batchOf(step), validationBatches: () => [], fingerprint: () => ({ trainTokens: 0, valTokens: 0, fingerprint: "" }), describe: () => "" };

function loraStepMs() {
  const trainer = new LoraTrainer(base, new TrainableLora(base.config, LoraAdapter.create(base.config, { targetModules: "all-linear", r: 8 }, { seed: 3 })), data, loraSettings({ steps: 1000, batchSize: BATCH }));
  for (let i = 0; i < 3; i++) trainer.trainStep();
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) trainer.trainStep();
  return (performance.now() - t0) / steps;
}
function fullStepMs() {
  const lm = trainableFrom(base).train();
  const params = lm.parameters();
  const opt = new optim.AdamW(params, { lr: 1e-4, weightDecay: 0 });
  const seed = new Tensor(Float32Array.of(1), []);
  const step = (i) => {
    const b = batchOf(i);
    for (const p of params) p.zeroGrad();
    scratchScope(() => lm.loss(b.inputs, b.targets, b.batch, b.seqLen).backward(seed));
    optim.clipGradNorm(params, 1);
    opt.step();
  };
  for (let i = 0; i < 3; i++) step(i);
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) step(i);
  return (performance.now() - t0) / steps;
}

const PY = (threads) => `
import time, math, torch, torch.nn as nn, torch.nn.functional as F
torch.set_num_threads(${threads}); torch.manual_seed(0)
V, D, HID, L, H, KV, T, B, R = ${base.config.vocabSize}, ${base.config.dim}, ${base.config.hiddenDim}, ${base.config.nLayers}, ${base.config.nHeads}, ${base.config.nKvHeads}, ${SEQ}, ${BATCH}, 8
hd = D // H
class Lora(nn.Module):
    def __init__(s, i, o):
        super().__init__(); s.base = nn.Linear(i, o, bias=False); s.base.weight.requires_grad_(False)
        s.A = nn.Linear(i, R, bias=False); s.B = nn.Linear(R, o, bias=False); nn.init.zeros_(s.B.weight)
    def forward(s, x): return s.base(x) + s.B(s.A(x)) * (16 / R)
def rms(x, w): return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5) * w
def rope(x):
    inv = 10000 ** (-torch.arange(0, hd, 2).float() / hd); ang = torch.arange(x.shape[1]).float()[:, None] * inv[None]
    c, s_ = ang.cos()[None, :, None], ang.sin()[None, :, None]; a, b = x[..., : hd // 2], x[..., hd // 2:]
    return torch.cat([a * c - b * s_, a * s_ + b * c], -1)
class Block(nn.Module):
    def __init__(s):
        super().__init__(); s.n1 = nn.Parameter(torch.ones(D), requires_grad=False); s.n2 = nn.Parameter(torch.ones(D), requires_grad=False)
        s.q, s.k, s.v, s.o = Lora(D, D), Lora(D, KV * hd), Lora(D, KV * hd), Lora(D, D)
        s.gate, s.up, s.down = Lora(D, HID), Lora(D, HID), Lora(HID, D)
    def forward(s, x):
        b, t, _ = x.shape; h = rms(x, s.n1)
        q, k, v = rope(s.q(h).view(b, t, H, hd)), rope(s.k(h).view(b, t, KV, hd)), s.v(h).view(b, t, KV, hd)
        k, v = k.repeat_interleave(H // KV, 2), v.repeat_interleave(H // KV, 2)
        y = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), is_causal=True).transpose(1, 2).reshape(b, t, D)
        x = x + s.o(y); h = rms(x, s.n2)
        return x + s.down(F.silu(s.gate(h)) * s.up(h))
class M(nn.Module):
    def __init__(s):
        super().__init__(); s.emb = nn.Embedding(V, D); s.emb.weight.requires_grad_(False)
        s.blocks = nn.ModuleList([Block() for _ in range(L)]); s.n = nn.Parameter(torch.ones(D), requires_grad=False)
    def forward(s, i):
        x = s.emb(i)
        for blk in s.blocks: x = blk(x)
        return rms(x, s.n) @ s.emb.weight.t()
m = M(); ps = [p for p in m.parameters() if p.requires_grad]; opt = torch.optim.AdamW(ps, lr=1e-3, weight_decay=0)
data = torch.randint(0, V, (50000,))
def step():
    ix = torch.randint(0, len(data) - T - 1, (B,)); x = torch.stack([data[i:i + T] for i in ix]); y = torch.stack([data[i + 1:i + 1 + T] for i in ix])
    loss = F.cross_entropy(m(x).view(-1, V), y.view(-1)); opt.zero_grad(); loss.backward(); torch.nn.utils.clip_grad_norm_(ps, 1.0); opt.step()
for _ in range(3): step()
t0 = time.perf_counter()
for _ in range(${steps}): step()
print((time.perf_counter() - t0) / ${steps} * 1000, sum(p.numel() for p in ps))
`;
function pytorch(threads) {
  const python = "/usr/bin/python3";
  if (!existsSync(python)) return { skipped: `${python} not found` };
  const r = spawnSync(python, ["-c", PY(threads)], { encoding: "utf8" });
  if (r.status !== 0) return { skipped: r.stderr.trim().split("\n").pop() };
  const [ms, params] = r.stdout.trim().split(/\s+/).map(Number);
  return { ms, params };
}

const tps = (ms) => Math.round((BATCH * SEQ * 1000) / ms);
const lora = loraStepMs(), full = fullStepMs();
const torchBest = [1, 2].map(pytorch).filter((p) => !p.skipped).reduce((a, b) => (a === null || b.ms < a.ms ? b : a), null);
console.log(`train, batch ${BATCH} × ${SEQ} tokens, wasm ${threads} thread(s), ${steps} timed steps after 3 warm-up:`);
console.log(`  lora (rank 8, all linear)  ${lora.toFixed(1)} ms/step, ${tps(lora)} tokens/s`);
console.log(`  full fine-tuning           ${full.toFixed(1)} ms/step, ${tps(full)} tokens/s   ratio lora / full ${(full / lora).toFixed(2)}x tokens/s`);
if (torchBest === null) console.log("  pytorch: skipped (no /usr/bin/python3 with torch)");
else console.log(`  pytorch lora (best of 1, 2 threads) ${torchBest.ms.toFixed(1)} ms/step, ${tps(torchBest.ms)} tokens/s, ${torchBest.params} trainable   ratio ours / pytorch ${(torchBest.ms / lora).toFixed(2)}x tokens/s`);
await backend.dispose();
process.exit(0);
