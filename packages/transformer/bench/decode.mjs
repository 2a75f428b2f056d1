// Inference throughput of the KV-cache engine: prefill, decode and batched decode.
//   cd packages/transformer && npx tsup && node bench/decode.mjs [--backend js|wasm] [--threads 2] [--tokens 32]
// stories260K (the real checkpoint, if ../shared/fixtures is present) and random weights in the
// stories15M shape (dim 288, 6 layers, 6 heads, vocab 32000), the shape llama2.c's figures use.
// The peers of these figures, measured in the same run, are in vs-c.mjs (our C forward pass)
// and vs-llama-cpp.mjs (node-llama-cpp).
import { existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { createWasmBackend, jsBackend } from "@zero-llm/tensor";
import { BENCH_SHAPES, Model, generate, randomWeights } from "../dist/index.js";
import { loadModel } from "../dist/node.js";

const { values } = parseArgs({
  options: {
    backend: { type: "string", default: "js" },
    threads: { type: "string", default: "2" },
    tokens: { type: "string", default: "32" },
  },
});
const here = path.dirname(fileURLToPath(import.meta.url));
const checkpoint = path.resolve(here, "../../../../shared/fixtures/llama2c/stories260K.bin");
const backend = values.backend === "wasm" ? await createWasmBackend({ threads: Number(values.threads) }) : jsBackend;
const genTokens = Number(values.tokens);

function measure(label, model, promptLen, newTokens) {
  const prompt = Array.from({ length: promptLen }, (_, i) => (i * 7919 + 1) % model.config.vocabSize);
  for (const _ of generate(model, prompt.slice(0, 8), { maxTokens: 4 })); // warm the JIT
  const run = generate(model, prompt, { maxTokens: newTokens });
  for (const _ of run); // drain
  const s = run.stats;
  // batched decode: 8 sequences, one token each per step
  const caches = Array.from({ length: 8 }, () => model.newCache());
  caches.forEach((c, b) => model.prefill([1, b + 2], c));
  const steps = Math.max(4, Math.floor(newTokens / 4));
  const tokens = new Int32Array(8);
  const t0 = performance.now();
  for (let t = 0; t < steps; t++) {
    for (let b = 0; b < 8; b++) tokens[b] = (t * 31 + b) % model.config.vocabSize;
    model.decodeBatch(tokens, caches);
  }
  const batchTps = (steps * 8 * 1000) / (performance.now() - t0);
  console.log(
    `${label.padEnd(28)} prefill ${s.promptTokensPerSecond.toFixed(0).padStart(7)} tok/s | ` +
      `decode ${s.generateTokensPerSecond.toFixed(1).padStart(7)} tok/s | batch-8 decode ${batchTps.toFixed(1).padStart(7)} tok/s | ` +
      `TTFT ${s.timeToFirstTokenMs.toFixed(1)} ms`,
  );
}

console.log(`backend: ${backend.name}, ${backend.threads} thread(s); load average ${os.loadavg().map((x) => x.toFixed(2)).join(" ")}`);
if (existsSync(checkpoint)) measure("stories260K", await loadModel(checkpoint, { backend }), 64, 8 * genTokens);
const config = BENCH_SHAPES["15M"];
measure("stories15M shape (random)", new Model(config, randomWeights(config, { seed: 1, backend }), { backend }), 32, genTokens);
if (backend.dispose) await backend.dispose();
