// Inference throughput of the KV-cache engine on the reference (js) backend.
//   cd packages/transformer && npx tsup && node bench/decode.mjs
// stories260K (real checkpoint, if ../shared/fixtures is present) and random weights in the
// stories15M shape (dim 288, 6 layers, 6 heads, vocab 32000), the shape llama2.c's figures use.
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Model, allocateWeights, generate, loadModel } from "../dist/index.js";
import { jsBackend } from "@zero-llm/tensor";

const here = path.dirname(fileURLToPath(import.meta.url));
const checkpoint = path.resolve(here, "../../../../shared/fixtures/llama2c/stories260K.bin");
// llama2.c run.c, f32, 2 threads, stories15M shape, this machine kind (DESIGN.md; not re-measured here)
const LLAMA2C_15M_TOKENS_PER_S = 850;

function randomModel(config) {
  const weights = allocateWeights(config, jsBackend);
  let seed = 12345;
  for (const name of weights.names()) {
    const { data, shape } = weights.get(name);
    const scale = name.endsWith("norm.weight") ? 0 : 1 / Math.sqrt(shape[shape.length - 1]);
    for (let i = 0; i < data.length; i++) {
      seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
      data[i] = name.endsWith("norm.weight") ? 1 : ((seed / 2 ** 32) * 2 - 1) * scale;
    }
  }
  return new Model(config, weights, { maxBatchRows: 64 });
}

function measure(label, model, promptLen, genTokens) {
  const prompt = Array.from({ length: promptLen }, (_, i) => (i * 7919 + 1) % model.config.vocabSize);
  for (const _ of generate(model, prompt.slice(0, 8), { maxTokens: 4 })); // warm the JIT
  const run = generate(model, prompt, { maxTokens: genTokens });
  for (const _ of run); // drain
  const s = run.stats;
  // batched decode: 8 sequences, one token each per step
  const caches = Array.from({ length: 8 }, () => model.newCache());
  caches.forEach((c, b) => model.prefill([1, b + 2], c));
  const steps = Math.max(4, Math.floor(genTokens / 4));
  const t0 = performance.now();
  for (let t = 0; t < steps; t++) model.decodeBatch(caches.map((_, b) => (t * 31 + b) % model.config.vocabSize), caches);
  const batchTps = (steps * 8 * 1000) / (performance.now() - t0);
  console.log(
    `${label.padEnd(28)} prefill ${s.promptTokensPerSecond.toFixed(0).padStart(7)} tok/s | ` +
      `decode ${s.generateTokensPerSecond.toFixed(1).padStart(7)} tok/s | batch-8 decode ${batchTps.toFixed(1).padStart(7)} tok/s | ` +
      `TTFT ${s.timeToFirstTokenMs.toFixed(1)} ms`,
  );
  return s.generateTokensPerSecond;
}

console.log(`backend: ${jsBackend.name} (reference loops), ${jsBackend.threads} thread`);
if (existsSync(checkpoint)) measure("stories260K", await loadModel(checkpoint), 64, 256);
const tps15 = measure(
  "stories15M shape (random)",
  randomModel({
    arch: "llama", dim: 288, hiddenDim: 768, nLayers: 6, nHeads: 6, nKvHeads: 6, vocabSize: 32000, seqLen: 256,
    normEps: 1e-5, ropeTheta: 10000, ropeStyle: "interleaved", tiedEmbeddings: true,
  }),
  32, 32,
);
console.log(`stories15M decode vs llama2.c run.c (~${LLAMA2C_15M_TOKENS_PER_S} tok/s, DESIGN.md figure): ${(tps15 / LLAMA2C_15M_TOKENS_PER_S).toFixed(3)}x`);
