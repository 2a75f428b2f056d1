// Peak resident memory while decoding a llama2.c checkpoint (random f32 weights in the stories15M
// and stories110M shapes), beside a C peer measured in the same run: llama2.c's run.c when given
// (--runc PATH or ZLLM_RUNC; it is not part of this repository: build it yourself from
// karpathy/llama2.c), else our own C forward (bench/c-forward, which holds the same weights in
// malloc'd memory). Each side runs in its own process: ours loads the file with loadModel on the
// wasm backend (2 threads) and decodes --tokens tokens after a 3-token prompt.
//
// Peak RSS comes from GNU time (`/usr/bin/time -f %M`) when present, else from the process
// itself (process.resourceUsage().maxRSS; getrusage in forward.c). The target (issue 11): peak
// ≤ 1.25 × weight bytes + KV-cache bytes. Node's own runtime (V8, the wasm module and its
// worker thread) takes a fixed ~60 MB before any model: the "runtime" row measures it, and the
// last column is the peak minus it.
//   cd packages/transformer && npx tsup && node bench/memory.mjs [--shape 15M --shape 110M] [--tokens 32] [--runc PATH]
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { BENCH_SHAPES, randomWeights, serializeLlama2c } from "../dist/index.js";

const { values } = parseArgs({
  options: {
    shape: { type: "string", multiple: true, default: ["15M", "110M"] },
    tokens: { type: "string", default: "32" },
    runc: { type: "string", default: process.env.ZLLM_RUNC ?? "" },
    tokenizer: { type: "string" },
  },
});
const here = path.dirname(fileURLToPath(import.meta.url));
const newTokens = Number(values.tokens);
const PROMPT = 3;
const gnuTime = existsSync("/usr/bin/time") && spawnSync("/usr/bin/time", ["-f", "%M", "true"]).status === 0 ? "/usr/bin/time" : null;
const tokenizer = values.tokenizer ?? path.resolve(here, "../../../../shared/fixtures/llama2c/llama2-tokenizer.bin");

/** Runs a command; peak RSS in bytes from GNU time, else from `selfReport(stdout)` (KB). */
function peak(command, args, env, selfReport) {
  const r = gnuTime
    ? spawnSync(gnuTime, ["-f", "%M", command, ...args], { encoding: "utf8", env: { ...process.env, ...env }, maxBuffer: 1 << 26 })
    : spawnSync(command, args, { encoding: "utf8", env: { ...process.env, ...env }, maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`${command} failed (${r.status}): ${r.stderr.slice(-500)}`);
  const kb = gnuTime ? Number(r.stderr.trim().split("\n").pop()) : selfReport(r.stdout);
  return { bytes: kb * 1024, stdout: r.stdout };
}

const dist = pathToFileURL(path.join(here, "../dist")).href;
const ourChild = (file) => `
import { createWasmBackend } from "@zero-llm/tensor";
import { generate } from "${dist}/index.js";
import { loadModel } from "${dist}/node.js";
const backend = await createWasmBackend({ threads: 2 });
${file ? `const model = await loadModel(${JSON.stringify(file)}, { backend });
const run = generate(model, [1, 2, 3], { maxTokens: ${newTokens}, cache: model.newCache({ capacity: ${PROMPT + newTokens} }) });
const tokens = [...run];
console.log(JSON.stringify({ tokens: tokens.length, tps: run.stats.generateTokensPerSecond, maxRssKb: process.resourceUsage().maxRSS }));` : `console.log(JSON.stringify({ maxRssKb: process.resourceUsage().maxRSS }));`}
await backend.dispose();
`;

function compileForward() {
  const source = path.join(here, "c-forward/forward.c");
  const binary = path.join(os.tmpdir(), `zllm-c-forward-${createHash("sha256").update(readFileSync(source)).digest("hex").slice(0, 12)}`);
  if (existsSync(binary)) return binary;
  for (const cc of ["cc", "gcc", "clang"]) {
    if (spawnSync(cc, ["-Ofast", "-march=native", "-fopenmp", source, "-o", binary, "-lm"]).status === 0) return binary;
  }
  return null;
}

const runc = values.runc && existsSync(values.runc) && existsSync(tokenizer) ? values.runc : null;
const forward = runc ? null : compileForward();
const mb = (b) => (b / 1e6).toFixed(0);
console.log(`peak RSS${gnuTime ? " (GNU time)" : " (self-reported)"}; peer: ${runc ? `run.c at ${runc}` : forward ? "our C forward (bench/c-forward)" : "none (no C compiler)"}; decode ${newTokens} tokens after ${PROMPT}; load average ${os.loadavg().map((x) => x.toFixed(2)).join(" ")}`);
const runtime = peak(process.execPath, ["--input-type=module", "-e", ourChild(null)], {}, (out) => JSON.parse(out).maxRssKb).bytes;
console.log(`runtime alone (node + the wasm backend, 2 threads, no model): ${mb(runtime)} MB`);
console.log("| shape | weights | KV cache | target 1.25·w + kv | ours peak | ours / (w + kv) | ours − runtime | peer peak | peer / (w + kv) |");
console.log("|---|---|---|---|---|---|---|---|---|");

for (const shape of values.shape) {
  const config = BENCH_SHAPES[shape];
  if (!config) throw new Error(`unknown shape ${shape}: expected one of ${Object.keys(BENCH_SHAPES).join(", ")}`);
  const file = path.join(os.tmpdir(), `zllm-random-${shape}.bin`);
  if (!existsSync(file)) writeFileSync(file, serializeLlama2c(config, randomWeights(config, { seed: 1 })));
  const headDim = config.dim / config.nHeads;
  // the file holds the weights and llama2.c's RoPE tables (2 · seqLen · headDim/2 floats), which nobody keeps
  const weights = statSync(file).size - 28 - 4 * config.seqLen * headDim;
  const kvDim = headDim * config.nKvHeads;
  const kv = 2 * config.nLayers * (PROMPT + newTokens) * kvDim * 4;
  const ours = peak(process.execPath, ["--input-type=module", "-e", ourChild(file)], {}, (out) => JSON.parse(out).maxRssKb).bytes;
  let peer = null;
  if (runc) {
    peer = peak(runc, [file, "-z", tokenizer, "-n", String(PROMPT + newTokens), "-t", "0", "-i", "Once"], { OMP_NUM_THREADS: "2" }, () => NaN).bytes;
  } else if (forward) {
    const args = [config.dim, config.hiddenDim, config.nLayers, config.nHeads, config.nKvHeads, config.vocabSize, config.seqLen, PROMPT, newTokens, 1].map(String);
    peer = peak(forward, args, { OMP_NUM_THREADS: "2" }, (out) => JSON.parse(out).max_rss_kb).bytes;
  }
  const base = weights + kv;
  console.log(
    `| ${shape} | ${mb(weights)} MB | ${(kv / 1e6).toFixed(1)} MB | ${mb(1.25 * weights + kv)} MB | ${mb(ours)} MB | ${(ours / base).toFixed(2)}× | ${mb(ours - runtime)} MB (${((ours - runtime) / base).toFixed(2)}×) | ` +
      (peer === null ? "— | — |" : `${mb(peer)} MB | ${(peer / base).toFixed(2)}× |`),
  );
}
