// Quantized models end to end (issue 14), beside llama.cpp (node-llama-cpp's CPU prebuilt) on the
// same files and thread count, in the same run:
//   1. decode tokens/s of random-weight models in the stories15M and stories110M shapes stored as
//      F32, Q8_0, Q4_0, Q4_1 and Q4_K (files written by our exporter, run as they are: ours keeps
//      the blocks in wasm memory, llama.cpp mmaps them); both with an f32 KV cache;
//   2. decode tokens/s with an f32, q8_0 and q4_0 KV cache (K and V) after 256 and 1024 tokens of
//      context (F32 weights; llama.cpp needs flash attention for a quantized V cache, so it runs
//      with flash attention on for every cache type here, and refuses a quantized cache whose head
//      size is not a multiple of 32: the 15M shape's 48). The context is prefilled once per cache
//      and cut back to it before each timed run (both engines);
//   3. peak resident memory while decoding each file (GNU time's maximum RSS of a child process),
//      minus the Node runtime's own (a child that loads nothing), against the target
//      1.25 × the file's weight bytes + the KV cache's bytes; and minus the runtime warmed (the
//      same run on the shape cut to one layer and a 512-token vocabulary, less its weights: V8
//      and our kernels compiled), which leaves what grows with the model. Then llama.cpp on the
//      same files the same way (bench/llama-memory-child.mjs: its runtime is node with
//      node-llama-cpp's addon loaded; it always builds the file's vocabulary, so it is also shown
//      above its runtime with that vocabulary loaded), against the same targets.
// Random weights: the speed of a kernel does not depend on the values. Each figure is the median
// of --reps runs, every contestant of a table measured once per round (ours and llama.cpp's
// interleaved); ratios are ours / llama.cpp's, or ours / our f32, from the same rounds. The speed
// table runs each measurement in a process of its own (bench/decode-once.mjs, below says why).
//   cd packages/transformer && npx tsup && node bench/quantized.mjs [--shape 15M --shape 110M] [--threads 2] [--tokens N] [--reps 5] [--part speed|kv|memory] [--types Q8_0,Q4_0]
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { GgufReader, createWasmBackend } from "@zero-llm/tensor";
import { openFileSource } from "@zero-llm/tensor/node";
import { BENCH_SHAPES, kvBytesPerValue, randomWeights } from "../dist/index.js";
import { loadModel, writeGgufModel } from "../dist/node.js";
import { LLAMA_KV_TYPES, llamaCpuBuild } from "./llama-cpp.mjs";
import { memoryChildSource } from "./memory-child.mjs";

const { values } = parseArgs({
  options: {
    shape: { type: "string", multiple: true, default: ["15M", "110M"] },
    threads: { type: "string", default: "2" },
    tokens: { type: "string" }, // default: speed 128, kv 32 (at most), memory 64
    reps: { type: "string", default: "3" },
    part: { type: "string", multiple: true, default: ["speed", "kv", "memory"] },
    contexts: { type: "string", default: "256,1024" },
    // weight types of the speed table (a subset: fewer processes when judging one kernel)
    types: { type: "string", default: "F32,Q8_0,Q4_0,Q4_1,Q4_K" },
  },
});
const threads = Number(values.threads), reps = Number(values.reps);
const genTokens = Number(values.tokens ?? 64), speedTokens = Number(values.tokens ?? 128);
const contexts = values.contexts.split(",").map(Number);
const WEIGHT_TYPES = ["F32", "Q8_0", "Q4_0", "Q4_1", "Q4_K"];
const KV_TYPES = ["f32", "q8_0", "q4_0"];
const here = path.dirname(fileURLToPath(import.meta.url));

let llamaCpp;
try {
  llamaCpp = await import("node-llama-cpp");
} catch {
  console.log("node-llama-cpp is not installed (devDependency of @zero-llm/transformer): nothing to compare against");
  process.exit(0);
}
const llama = await llamaCpp.getLlama({ gpu: false, build: "never", logLevel: llamaCpp.LlamaLogLevel.error });

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const MB = (bytes) => (bytes / 1e6).toFixed(1);
/** The machine is shared: every table says how busy it was when the table finished. */
const load = () => `load average ${os.loadavg().map((x) => x.toFixed(1)).join(" ")}`;

/** The shape's model in `type`, written once to /tmp (random weights, seed 1, as bench/vs-llama-cpp.mjs). */
async function fileFor(shape, type) {
  const file = `/tmp/zllm-bench-${shape}-${type}.gguf`;
  if (!existsSync(file)) {
    const config = BENCH_SHAPES[shape];
    await writeGgufModel(file, { config, weights: randomWeights(config, { seed: 1 }) }, { type });
  }
  return file;
}

/**
 * The same shape cut to one layer and a 512-token vocabulary, in `type`: it runs every kernel the
 * full model runs (so V8 has compiled them) with almost no weights, no vocabulary to speak of and
 * no cache: its peak, less its weights, is the fixed cost of the runtime and our code, warmed.
 */
async function tinyFileFor(shape, type) {
  const file = `/tmp/zllm-bench-${shape}-tiny-${type}.gguf`;
  if (!existsSync(file)) {
    const config = { ...BENCH_SHAPES[shape], nLayers: 1, vocabSize: 512 };
    await writeGgufModel(file, { config, weights: randomWeights(config, { seed: 1 }) }, { type });
  }
  return file;
}

async function weightBytesOf(file) {
  const source = await openFileSource(file);
  try {
    const reader = await GgufReader.open(source);
    return reader.tensors.reduce((n, t) => n + t.byteLength, 0);
  } finally {
    await source.close();
  }
}

const promptOf = (length, vocab) => Array.from({ length }, (_, i) => (i * 7919 + 1) % vocab);

const llamaVersion = JSON.parse(readFileSync(path.join(here, "../node_modules/node-llama-cpp/package.json"), "utf8")).version;
console.log(`ours: wasm backend, ${threads} thread(s); llama.cpp: node-llama-cpp ${llamaVersion} CPU, ${threads} thread(s); ${reps} reps, medians; ${new Date().toISOString()}`);

const backend = await createWasmBackend({ threads });

// Every contestant of a table is measured once per round, rounds repeated --reps times, so a
// change in the machine's load (it is shared) falls on all of them alike; medians per contestant.
// The speed table runs every measurement in a fresh process (bench/decode-once.mjs): an untimed
// decode, then the timed one, for both engines alike. Within one process our tokens/s is fixed
// by where the weights' pages landed (up to ±20 % between runs of the same build on the dev
// machine, a KVM guest); a process per round samples that as it falls for users, and llama.cpp
// gets the same treatment (a fresh process, the file in the page cache, the same warm-up).
// Each cell: the median over rounds, with the lowest and highest; "by CPU" divides tokens by the
// process's CPU time instead of the wall clock (less sensitive to other processes on the cores).
const decodeOnce = (engine, file, vocab) => {
  const args = [path.join(here, "decode-once.mjs"), "--engine", engine, "--file", file, "--threads", String(threads), "--tokens", String(speedTokens), "--vocab", String(vocab)];
  const r = spawnSync(process.execPath, args, { encoding: "utf8", cwd: here });
  if (r.status !== 0) throw new Error(`decode-once (${engine}, ${file}) failed: ${r.stderr.slice(-800)}`);
  return JSON.parse(r.stdout.trim().split("\n").pop());
};
const spread = (xs) => `${median(xs).toFixed(1)} (${Math.min(...xs).toFixed(1)}–${Math.max(...xs).toFixed(1)})`;

if (values.part.includes("speed")) {
  for (const shape of values.shape) {
    const vocab = BENCH_SHAPES[shape].vocabSize;
    const files = [];
    for (const type of WEIGHT_TYPES.filter((t) => values.types.toUpperCase().split(",").includes(t))) files.push({ type, file: await fileFor(shape, type), mine: [], peer: [] });
    for (let r = 0; r < reps; r++) {
      for (const row of files) {
        row.mine.push(decodeOnce("ours", row.file, vocab));
        row.peer.push(decodeOnce("llama.cpp", row.file, vocab));
      }
    }
    console.log(`\n## decode ${speedTokens} tokens after a 16-token prompt, ${shape} shape, f32 KV cache, a fresh process per engine and round (${reps} rounds: median (lowest–highest))`);
    console.log("| weights | file MB | ours tok/s | vs our F32 | llama.cpp tok/s | ours / llama.cpp | by CPU time: ours / llama.cpp | rounds ≥ 1.0× |");
    console.log("|---|---:|---:|---:|---:|---:|---:|---:|");
    const f32Row = files.find((row) => row.type === "F32");
    const ourF32 = f32Row ? median(f32Row.mine.map((m) => m.tps)) : NaN;
    for (const { type, file, mine, peer } of files) {
      const a = mine.map((m) => m.tps), b = peer.map((m) => m.tps);
      const cpu = median(mine.map((m) => m.cpuTps)) / median(peer.map((m) => m.cpuTps));
      const wins = a.filter((x, i) => x >= b[i]).length;
      console.log(`| ${type} | ${MB(statSync(file).size)} | ${spread(a)} | ${f32Row ? `${(median(a) / ourF32).toFixed(2)}×` : "—"} | ${spread(b)} | ${(median(a) / median(b)).toFixed(2)}× | ${cpu.toFixed(2)}× | ${wins}/${a.length} |`);
    }
    const huge = (side) => Math.max(...files.flatMap((row) => row[side].map((m) => m.hugeKb ?? 0)));
    const builds = [...new Set(files.flatMap((row) => row.peer.map((m) => m.cpuBuild ?? "unknown")))].join(", ");
    console.log(`(${load()}; largest memory in 2 MiB pages, ours ${huge("mine")} kB, llama.cpp ${huge("peer")} kB; llama.cpp's CPU build: ${builds})`);
  }
}

/**
 * A decode rate after `prompt`, prefilled once: each call cuts the cache back to the prompt and
 * times `n` decode steps from there (a 1024-token prefill per measurement would cost more than
 * all the decoding measured after it).
 */
function ourDecodeAfter(model, prompt, n, cacheOptions) {
  const cache = model.newCache({ capacity: prompt.length + n + 1, allowContextOverflow: true, ...cacheOptions });
  const promptLogits = Float32Array.from(model.prefill(prompt, cache).logits);
  return () => {
    cache.truncate(prompt.length);
    let logits = promptLogits;
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      let best = 0;
      for (let j = 1; j < logits.length; j++) if (logits[j] > logits[best]) best = j;
      logits = model.decode(best, cache);
    }
    return (n * 1000) / (performance.now() - t0);
  };
}

/**
 * llama.cpp's the same way: the sequence cut back to the prompt's first length − 1 tokens, its
 * last token and n more evaluated. `undefined` where llama.cpp refuses the cache: a quantized
 * cache needs a head size that is a multiple of the block (32); the 15M shape's is 48.
 */
async function theirDecodeAfter(lm, prompt, n, kvType) {
  let context;
  try {
    context = await lm.createContext({
      contextSize: prompt.length + n + 16, threads, batchSize: 512, flashAttention: true,
      experimentalKvCacheKeyType: LLAMA_KV_TYPES[kvType], experimentalKvCacheValueType: LLAMA_KV_TYPES[kvType],
    });
  } catch {
    return undefined;
  }
  const sequence = context.getSequence();
  await sequence.evaluateWithoutGeneratingNewTokens(prompt.slice(0, -1));
  const measure = async () => {
    await sequence.eraseContextTokenRanges([{ start: prompt.length - 1, end: sequence.nextTokenIndex }]);
    let count = 0, t1 = 0;
    for await (const _ of sequence.evaluate(prompt.slice(-1), { temperature: 0 })) {
      count++;
      if (count === 1) t1 = performance.now(); // the first is the prompt's last token
      if (count >= n + 1) break;
    }
    return ((count - 1) * 1000) / (performance.now() - t1);
  };
  return { measure, dispose: () => context.dispose() };
}

if (values.part.includes("kv")) {
  for (const shape of values.shape) {
    const file = await fileFor(shape, "F32");
    const model = await loadModel(file, { backend });
    const lm = await llama.loadModel({ modelPath: file });
    const { config } = model;
    const headDim = config.dim / config.nHeads;
    const n = Math.min(genTokens, 32);
    console.log(`\n## decode ${n} tokens after N tokens of context, ${shape} shape (F32 weights), K and V cache types`);
    console.log("| context | cache | cache MB (ours, whole context) | ours tok/s | vs our f32 cache | llama.cpp tok/s (flash attn) | ours / llama.cpp |");
    console.log("|---:|---|---:|---:|---:|---:|---:|");
    for (const context of contexts) {
      const prompt = promptOf(context, config.vocabSize);
      const rows = [];
      for (const kv of KV_TYPES) {
        const mine = ourDecodeAfter(model, prompt, n, { kType: kv, vType: kv });
        const peer = await theirDecodeAfter(lm, prompt, n, kv);
        mine(); // warm-up: the JIT, and the first use of each kernel
        await peer?.measure();
        rows.push({ kv, mineRun: mine, peer, mine: [], theirs: [] });
      }
      for (let r = 0; r < reps; r++) {
        for (const row of rows) {
          row.mine.push(row.mineRun());
          if (row.peer) row.theirs.push(await row.peer.measure());
        }
      }
      const ourF32 = median(rows[0].mine);
      for (const { kv, mine, theirs, peer } of rows) {
        const bytes = 2 * config.nLayers * config.nKvHeads * headDim * (context + n + 1) * kvBytesPerValue(kv);
        const a = median(mine);
        const versus = peer ? `${median(theirs).toFixed(1)} | ${(a / median(theirs)).toFixed(2)}×` : `refused (head size ${headDim}, not a multiple of 32) | —`;
        console.log(`| ${context} | ${kv} | ${MB(bytes)} | ${a.toFixed(1)} | ${(a / ourF32).toFixed(2)}× | ${versus} |`);
        await peer?.dispose();
      }
    }
    console.log(`(${load()}; llama.cpp's CPU build: ${llamaCpuBuild() ?? "unknown"})`);
    await lm.dispose();
  }
}

if (values.part.includes("memory")) {
  const gnuTime = existsSync("/usr/bin/time") && spawnSync("/usr/bin/time", ["-f", "%M", "true"]).status === 0 ? "/usr/bin/time" : null;
  const dist = pathToFileURL(path.join(here, "../dist")).href;
  const child = (file, kv) => memoryChildSource({ dist, file, kv, tokens: genTokens, threads });
  // llama.cpp's child (a script and its arguments): alone, or decoding a row's file as ours does
  const peerRuntimeChild = [path.join(here, "llama-memory-child.mjs"), "--threads", String(threads)];
  const peerChild = (row) => [...peerRuntimeChild, "--file", row.file, "--kv", row.kv, "--tokens", String(genTokens), "--context", String(BENCH_SHAPES[row.shape].seqLen)];
  // a child's peak: our child's module source, or a script and its arguments (llama.cpp's)
  const peak = (source) => {
    const args = typeof source === "string" ? ["--input-type=module", "-e", source] : source;
    const r = gnuTime ? spawnSync(gnuTime, ["-f", "%M", process.execPath, ...args], { encoding: "utf8", cwd: here }) : spawnSync(process.execPath, args, { encoding: "utf8", cwd: here });
    if (r.status !== 0) throw new Error(`child failed: ${r.stderr.slice(-800)}`);
    const report = JSON.parse(r.stdout.trim().split("\n").pop());
    const kb = gnuTime ? Number(r.stderr.trim().split("\n").pop()) : report.maxRssKb;
    return { ...report, peak: kb * 1024 };
  };
  // a child's peak, the median of 3 runs (a runtime moves ±1–3 MB from process to process)
  const peakOf = (source) => {
    const runs = [peak(source), peak(source), peak(source)];
    return { refused: runs[0].refused, peak: median(runs.map((r) => r.peak)) };
  };
  const runtime = peakOf(child(null)).peak;
  const peerRuntime = peakOf(peerRuntimeChild).peak;
  const verdict = (net, target) => (net <= target ? "yes" : `no (${(net / target).toFixed(2)}×)`);
  const rows = [];
  console.log(`\n## peak resident memory decoding ${genTokens} tokens (${gnuTime ? "GNU time" : "getrusage"} max RSS; the Node runtime alone: ${MB(runtime)} MB, subtracted)`);
  console.log("(warm runtime: the peak of the same run on the shape cut to 1 layer and 512 tokens of vocabulary, less its weights: the runtime with our kernels compiled)");
  console.log("| shape | weights | KV cache | file weights MB | KV cache MB | run state MB | peak RSS MB | peak − runtime MB | target 1.25 × weights + KV MB | within | warm runtime MB | peak − warm runtime MB | within |");
  console.log("|---|---|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---|");
  for (const shape of values.shape) {
    for (const [type, kv] of [["F32", "f32"], ["Q8_0", "f32"], ["Q4_0", "f32"], ["Q4_K", "f32"], ["Q4_0", "q8_0"], ["Q4_0", "q4_0"]]) {
      const file = await fileFor(shape, type);
      const weights = await weightBytesOf(file);
      const r = peak(child(file, kv));
      const tiny = await tinyFileFor(shape, type);
      const warm = peak(child(tiny, kv)).peak - (await weightBytesOf(tiny));
      const target = 1.25 * weights + r.cacheBytes;
      const net = r.peak - runtime;
      console.log(`| ${shape} | ${type} | ${kv} | ${MB(weights)} | ${MB(r.cacheBytes)} | ${MB(r.runState)} | ${MB(r.peak)} | ${MB(net)} | ${MB(target)} | ${verdict(net, target)} | ${MB(warm)} | ${MB(r.peak - warm)} | ${verdict(r.peak - warm, target)} |`);
      rows.push({ shape, type, kv, file, target, net });
    }
  }
  console.log(`(${load()})`);

  // llama.cpp on the same files, measured the same way: its runtime (node with node-llama-cpp's
  // addon loaded) and, since it always builds the file's vocabulary where our child builds none,
  // its runtime with the vocabulary (the same file loaded vocabulary-only); medians of 3 (its
  // runtime moves ±3 MB from process to process).
  console.log(`\n## the same for llama.cpp (node-llama-cpp ${llamaVersion} CPU, the file mmapped as it does by default; its runtime alone: ${MB(peerRuntime)} MB, subtracted; medians of 3 runs)`);
  console.log("(same prompt, steps, context and batch size; runtime + vocabulary: the same file loaded vocabulary-only; ours ÷ llama.cpp: what each engine adds to its runtime, ours beside llama.cpp's above its runtime and above its runtime + vocabulary)");
  console.log("| shape | weights | KV cache | peak RSS MB | peak − runtime MB | target MB | within | runtime + vocabulary MB | peak − runtime + vocabulary MB | within | ours ÷ llama.cpp above the runtime | above the runtime + vocabulary |");
  console.log("|---|---|---|---:|---:|---:|---|---:|---:|---|---:|---:|");
  for (const row of rows) {
    const r = peakOf(peerChild(row));
    if (r.refused) {
      const headDim = BENCH_SHAPES[row.shape].dim / BENCH_SHAPES[row.shape].nHeads;
      console.log(`| ${row.shape} | ${row.type} | ${row.kv} | refused: a ${row.kv} cache needs a head size that is a multiple of 32, this one's is ${headDim} | | | | | | | | |`);
      continue;
    }
    const vocab = peakOf([...peerChild(row), "--vocab-only"]).peak;
    const net = r.peak - peerRuntime, netVocab = r.peak - vocab;
    console.log(`| ${row.shape} | ${row.type} | ${row.kv} | ${MB(r.peak)} | ${MB(net)} | ${MB(row.target)} | ${verdict(net, row.target)} | ${MB(vocab)} | ${MB(netVocab)} | ${verdict(netVocab, row.target)} | ${(row.net / net).toFixed(2)}× | ${(row.net / netVocab).toFixed(2)}× |`);
  }
  console.log(`(${load()})`);
}

await backend.dispose();
await llama.dispose();
