// Decode speed and greedy agreement against llama.cpp (node-llama-cpp, its CPU prebuilt), on the
// same GGUF file written by our exporter, measured in the same run.
//   cd packages/transformer && npx tsup && node bench/vs-llama-cpp.mjs [--shape 15M|110M|260K ...] [--threads 2] [--tokens 128] [--reps 3] [--backend wasm|js]
// Random-weight F32 GGUFs in the llama2.c shapes are written to /tmp/zllm-bench-<shape>.gguf once.
// With ../shared/fixtures present, stories260K is also checked token for token and probability
// for logit (llama.cpp's logits vs ours).
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { createWasmBackend, jsBackend } from "@zero-llm/tensor";
import { BENCH_SHAPES, generate, randomWeights } from "../dist/index.js";
import { loadModel, writeGgufModel } from "../dist/node.js";
import { llamaCpuBuild } from "./llama-cpp.mjs";

const { values } = parseArgs({
  options: {
    shape: { type: "string", multiple: true, default: ["15M", "110M"] },
    threads: { type: "string", default: "2" },
    tokens: { type: "string", default: "128" },
    reps: { type: "string", default: "3" },
    backend: { type: "string", default: "wasm" },
  },
});
const threads = Number(values.threads), genTokens = Number(values.tokens), reps = Number(values.reps);

let llamaCpp;
try {
  llamaCpp = await import("node-llama-cpp");
} catch {
  console.log("node-llama-cpp is not installed (devDependency of @zero-llm/transformer): nothing to compare against");
  process.exit(0);
}
const llama = await llamaCpp.getLlama({ gpu: false, build: "never", logLevel: llamaCpp.LlamaLogLevel.error });
const backend = values.backend === "js" ? jsBackend : await createWasmBackend({ threads });

const here = path.dirname(fileURLToPath(import.meta.url));
const stories260K = path.resolve(here, "../../../../shared/fixtures/llama2c/stories260K.bin");

async function ggufFor(shape) {
  const file = `/tmp/zllm-bench-${shape}.gguf`;
  if (!existsSync(file)) {
    const config = BENCH_SHAPES[shape];
    await writeGgufModel(file, { config, weights: randomWeights(config, { seed: 1 }) });
  }
  return file;
}

const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
const std = (xs) => Math.sqrt(mean(xs.map((x) => (x - mean(xs)) ** 2)));
const fmt = (xs) => `${mean(xs).toFixed(1)} ± ${std(xs).toFixed(1)}`;

/** llama.cpp: greedy tokens after `prompt` and the decode rate (tokens 2…n, the first includes the prefill). */
async function theirs(model, prompt, n) {
  const context = await model.createContext({ contextSize: Math.min(1024, prompt.length + n + 8), threads, batchSize: 512 });
  const sequence = context.getSequence();
  const tokens = [];
  let t1 = 0;
  for await (const t of sequence.evaluate(prompt, { temperature: 0 })) {
    tokens.push(t);
    if (tokens.length === 1) t1 = performance.now();
    if (tokens.length >= n) break;
  }
  const tps = ((tokens.length - 1) * 1000) / (performance.now() - t1);
  await context.dispose();
  return { tokens, tps };
}

function ours(model, prompt, n) {
  const run = generate(model, prompt, { maxTokens: n, cache: model.newCache({ capacity: prompt.length + n + 1 }) });
  const tokens = [...run];
  return { tokens, tps: run.stats.generateTokensPerSecond };
}

const sameUntil = (a, b) => {
  let i = 0;
  while (i < Math.min(a.length, b.length) && a[i] === b[i]) i++;
  return i;
};

console.log(`ours: ${backend.name} backend, ${backend.threads} thread(s); llama.cpp: node-llama-cpp CPU, ${threads} thread(s); f32 GGUF`);

if (existsSync(stories260K)) {
  const file = "/tmp/zllm-stories260K.gguf";
  const ref = await loadModel(stories260K);
  await writeGgufModel(file, ref);
  const m = await loadModel(file, { backend });
  const lm = await llama.loadModel({ modelPath: file });
  const prompt = [1, 100, 200];
  const a = ours(m, prompt, 60), b = await theirs(lm, prompt, 60);
  // llama.cpp's raw logits after each input token vs ours (KV-cache decode path)
  // f32 KV cache, no flash attention (llama.cpp does both in f16 by default: ~1e-2 on logits)
  const ctx = await lm.createContext({ contextSize: 64, threads, flashAttention: false, experimentalKvCacheKeyType: "F32", experimentalKvCacheValueType: "F32" });
  const seq = ctx.getSequence();
  const input = [1, 100, 200, 300, 400, 42, 7, 500, 13, 256];
  const out = await seq.controlledEvaluate(input.map((t) => [t, { generateNext: { logits: true } }]));
  const cache = m.newCache();
  let worst = 0, largest = 0;
  input.forEach((t, p) => {
    const logits = m.decode(t, cache);
    for (const [token, logit] of out[p].next.logits) {
      worst = Math.max(worst, Math.abs(logit - logits[token]));
      largest = Math.max(largest, Math.abs(logit));
    }
  });
  await ctx.dispose();
  console.log(
    `stories260K GGUF: greedy tokens identical for ${sameUntil(a.tokens, b.tokens)}/${a.tokens.length}; ` +
      `max |Δ logit| over ${input.length} positions × 512 = ${worst.toExponential(2)} (logits up to ${largest.toFixed(1)})`,
  );
  await lm.dispose();
}

for (const shape of values.shape) {
  const file = await ggufFor(shape);
  const model = await loadModel(file, { backend });
  const lm = await llama.loadModel({ modelPath: file });
  const prompt = Array.from({ length: 16 }, (_, i) => (i * 7919 + 1) % model.config.vocabSize);
  ours(model, prompt.slice(0, 4), 8); // warm the JIT
  await theirs(lm, prompt.slice(0, 4), 8);
  const mine = [], peer = [];
  let agree = 0, total = 0;
  for (let r = 0; r < reps; r++) {
    const a = ours(model, prompt, genTokens), b = await theirs(lm, prompt, genTokens);
    mine.push(a.tps);
    peer.push(b.tps);
    agree = sameUntil(a.tokens, b.tokens);
    total = a.tokens.length;
  }
  const params = (model.weights.parameterCount() / 1e6).toFixed(1);
  console.log(
    `${shape} shape (${params}M params, random weights): decode ${genTokens} tokens  ours ${fmt(mine)} tok/s | ` +
      `llama.cpp ${fmt(peer)} tok/s (its ${llamaCpuBuild() ?? "unknown"} CPU build) | ratio ${(mean(mine) / mean(peer)).toFixed(2)}x | greedy identical for ${agree}/${total}`,
  );
  await lm.dispose();
}
if (backend.dispose) await backend.dispose();
await llama.dispose();

