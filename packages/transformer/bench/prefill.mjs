// Prompt processing (prefill) speed beside llama.cpp (node-llama-cpp, its CPU prebuilt) on the same
// F32 GGUF files, measured in the same run, plus what batch invariance costs at the kernel level:
// the model's projections run through Backend.linear (each row's result the same bits whatever
// the number of rows: tensor's assembly/linear.ts); the packed gemm behind Backend.matmul is the
// peer, timed on the same prefill shapes.
//   cd packages/transformer && npx tsup && node bench/prefill.mjs [--shape 15M|110M ...] [--prompt 128] [--threads 2] [--reps 3]
import { existsSync } from "node:fs";
import os from "node:os";
import { parseArgs } from "node:util";
import { createWasmBackend } from "@zero-llm/tensor";
import { BENCH_SHAPES, randomWeights } from "../dist/index.js";
import { loadModel, writeGgufModel } from "../dist/node.js";

const { values } = parseArgs({
  options: {
    shape: { type: "string", multiple: true, default: ["15M", "110M"] },
    prompt: { type: "string", default: "128" },
    threads: { type: "string", default: "2" },
    reps: { type: "string", default: "3" },
  },
});
const threads = Number(values.threads), promptLength = Number(values.prompt), reps = Number(values.reps);
const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
const std = (xs) => Math.sqrt(mean(xs.map((x) => (x - mean(xs)) ** 2)));
const fmt = (xs) => `${mean(xs).toFixed(1)} ± ${std(xs).toFixed(1)}`;

let llamaCpp;
try {
  llamaCpp = await import("node-llama-cpp");
} catch {
  llamaCpp = undefined;
}
const llama = llamaCpp ? await llamaCpp.getLlama({ gpu: false, build: "never", logLevel: llamaCpp.LlamaLogLevel.error }) : undefined;
const backend = await createWasmBackend({ threads });
console.log(`prefill of ${promptLength} tokens; ours: wasm, ${threads} thread(s); llama.cpp: ${llama ? `node-llama-cpp CPU, ${threads} thread(s)` : "not installed"}; load average ${os.loadavg().map((x) => x.toFixed(2)).join(" ")}`);

for (const shape of values.shape) {
  const config = BENCH_SHAPES[shape];
  if (!config) throw new Error(`unknown shape ${shape}: expected one of ${Object.keys(BENCH_SHAPES).join(", ")}`);
  const file = `/tmp/zllm-bench-${shape}.gguf`;
  if (!existsSync(file)) await writeGgufModel(file, { config, weights: randomWeights(config, { seed: 1 }) });
  const model = await loadModel(file, { backend, maxBatchRows: promptLength });
  const prompt = Array.from({ length: promptLength }, (_, i) => (i * 7919 + 1) % config.vocabSize);
  const ours = () => {
    const cache = model.newCache({ capacity: promptLength });
    const t0 = performance.now();
    model.prefill(prompt, cache);
    return (promptLength * 1000) / (performance.now() - t0);
  };
  let theirs;
  if (llama) {
    const lm = await llama.loadModel({ modelPath: file });
    const context = await lm.createContext({ contextSize: promptLength + 8, threads, batchSize: promptLength });
    theirs = async () => {
      const sequence = context.getSequence();
      const t0 = performance.now();
      await sequence.evaluateWithoutGeneratingNewTokens(prompt);
      const tps = (promptLength * 1000) / (performance.now() - t0);
      sequence.dispose();
      return tps;
    };
    theirs.dispose = async () => { await context.dispose(); await lm.dispose(); };
  }
  ours();
  if (theirs) await theirs();
  const mine = [], peer = [];
  for (let r = 0; r < reps; r++) {
    mine.push(ours());
    if (theirs) peer.push(await theirs());
  }
  console.log(
    `${shape} shape: prefill ${promptLength} tokens  ours ${fmt(mine)} tok/s` +
      (theirs ? ` | llama.cpp ${fmt(peer)} tok/s | ours / llama.cpp ${(mean(mine) / mean(peer)).toFixed(2)}x` : ""),
  );
  if (theirs) await theirs.dispose();

  // the cost of batch invariance: the projections of this prefill through linear vs the packed gemm
  const { dim, hiddenDim, vocabSize } = config;
  const kernels = [[dim, dim], [hiddenDim, dim], [dim, hiddenDim], [vocabSize, dim]];
  let linearMs = 0, gemmMs = 0;
  for (const [out, inF] of kernels) {
    const w = backend.allocF32(out * inF).fill(0.01), x = backend.allocF32(promptLength * inF).fill(0.02), y = backend.allocF32(promptLength * out);
    const time = (fn) => {
      fn();
      let best = Infinity;
      for (let r = 0; r < Math.max(3, reps); r++) {
        const t0 = performance.now();
        fn();
        best = Math.min(best, performance.now() - t0);
      }
      return best;
    };
    linearMs += time(() => backend.linear(y, x, w, promptLength, inF, out));
    gemmMs += time(() => backend.matmul(y, x, w, promptLength, inF, out, { transB: true }));
    backend.free(w); backend.free(x); backend.free(y);
  }
  console.log(`  projections of one ${promptLength}-row chunk (${kernels.map(([o, i]) => `${o}×${i}`).join(", ")}): linear ${linearMs.toFixed(2)} ms | packed gemm ${gemmMs.toFixed(2)} ms | linear / gemm time ${(linearMs / gemmMs).toFixed(2)}x`);
}
await backend.dispose();
if (llama) await llama.dispose();
