// Per-token cost of constrained decoding on a real 32,000-token vocabulary (Llama's), ours against
// llama.cpp's grammar sampler (node-llama-cpp, its CPU prebuilt) on the same grammars, measured in
// the same run.
//   cd packages/sampling && npx tsup && node bench/constrain.mjs [--tokens 600] [--peer-tokens 200]
//
// Ours: a random-noise "model" (uniform draw among the allowed tokens, closing tokens favoured so
// outputs finish) drives mask + accept; cold = a fresh compile, so the lazily filled mask cache is
// paid for inside the run; warm = the next outputs with the cache filled.
// llama.cpp: a random-weight Llama (dim 64, 1 layer, the same vocabulary) generates with and without
// the grammar (the GBNF text our compiler prints, so both engines run the same grammar); the
// grammar's cost is the difference per token. node-llama-cpp samples first and applies the grammar
// to the whole vocabulary only when that token is rejected; asking for the token's confidence
// makes it apply the grammar to the whole vocabulary every step, which is what a mask is.
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { fromGgufMetadata } from "@zero-llm/tokenizer-bpe";
import { compileConstraint, constraintGrammar, formatGbnf, tokenVocabulary } from "../dist/index.js";

const { values } = parseArgs({ options: { tokens: { type: "string", default: "600" }, "peer-tokens": { type: "string", default: "200" } } });
const TOKENS = Number(values.tokens), PEER_TOKENS = Number(values["peer-tokens"]);
const here = path.dirname(fileURLToPath(import.meta.url));
const packages = path.resolve(here, "../..");
const VOCAB_GGUF = path.resolve(packages, "../../shared/fixtures/ggml-vocab/ggml-vocab-llama-spm.gguf");

const CONSTRAINTS = [
  {
    name: "JSON Schema: list of people",
    spec: {
      type: "json",
      schema: {
        type: "array", minItems: 1, maxItems: 4,
        items: {
          type: "object",
          properties: {
            name: { type: "string", minLength: 1, maxLength: 40 },
            age: { type: "integer", minimum: 0, maximum: 120 },
            email: { type: "string", pattern: "^[a-z0-9.]+@[a-z]+\\.(com|org|net)$", maxLength: 40 },
            born: { type: "string", format: "date" },
            tags: { type: "array", items: { enum: ["admin", "user", "guest"] }, maxItems: 3 },
            score: { type: "number", minimum: 0, maximum: 1 },
          },
          required: ["name", "age", "born"],
          additionalProperties: false,
        },
      },
    },
  },
  { name: "JSON: any value", spec: { type: "json" } },
  {
    name: "GBNF: arithmetic",
    spec: { type: "gbnf", grammar: 'root ::= (expr "=" ws term "\\n")+\nexpr ::= term ([-+*/] term)*\nterm ::= ident | num | "(" ws expr ")" ws\nident ::= [a-z] [a-z0-9_]* ws\nnum ::= [0-9]+ ws\nws ::= [ \\t\\n]*\n' },
  },
  { name: "regex: dated log lines", spec: { type: "regex", pattern: "(\\d{4}-\\d{2}-\\d{2} (INFO|WARN|ERROR) [A-Za-z ,.]{1,60}\\n){1,8}" } },
];

// ---------------------------------------------------------------------------------------------
let vocab, vocabName;
if (existsSync(VOCAB_GGUF)) {
  const { GgufFile } = await import(pathToFileURL(path.join(packages, "tensor/dist/index.js")).href);
  const gguf = GgufFile.parse(readFileSync(VOCAB_GGUF));
  const meta = Object.fromEntries([...gguf.metadata].map(([k, v]) => [k, v.value]));
  vocab = tokenVocabulary(fromGgufMetadata(meta));
  vocabName = `Llama SPM (${vocab.tokens.length} tokens, ggml-vocab-llama-spm.gguf)`;
  globalThis.vocabGguf = gguf;

} else {
  const { fromTiktoken } = await import("@zero-llm/tokenizer-bpe");
  const ranks = (await import("js-tiktoken/ranks/cl100k_base")).default;
  const full = tokenVocabulary(fromTiktoken({ ranks, encoding: "cl100k_base" }));
  vocab = { tokens: [...full.tokens.slice(0, 32000), null], eos: [32000] };
  vocabName = "cl100k_base, ids < 32,000 (shared fixtures absent: no llama.cpp peer)";
}
console.log(`vocabulary: ${vocabName}`);
{
  // the vocabulary's byte trie is built once per vocabulary and shared by every constraint on it
  const t0 = performance.now();
  compileConstraint({ type: "choice", choices: ["x"] }, vocab);
  console.log(`byte trie of the vocabulary: ${(performance.now() - t0).toFixed(0)} ms (once per vocabulary)`);
}

function lcg(seed) {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296);
}
const closing = vocab.tokens.map((b) => b !== null && b.some((x) => x === 0x22 || x === 0x7d || x === 0x5d || x === 0x2c || x === 0x0a));
const isEos = new Uint8Array(vocab.tokens.length);
for (const t of vocab.eos) isEos[t] = 1;

/** Generates until `tokens` tokens were produced (restarting at each end); returns ms per token of mask + accept. */
function ours(constraint, seed, tokens) {
  const random = lcg(seed);
  const mask = constraint.createMask();
  const allowed = new Int32Array(vocab.tokens.length), closers = new Int32Array(vocab.tokens.length);
  let state = constraint.initialState();
  let ms = 0, outputs = 0;
  for (let n = 0; n < tokens; n++) {
    if (constraint.isComplete(state)) {
      state = constraint.initialState();
      outputs++;
    }
    const t0 = performance.now();
    constraint.mask(state, mask);
    ms += performance.now() - t0;
    let na = 0, nc = 0, eos = -1;
    for (let w = 0; w < mask.length; w++) {
      let bits = mask[w];
      while (bits !== 0) {
        const t = (w << 5) | (31 - Math.clz32(bits & -bits));
        bits &= bits - 1;
        if (isEos[t]) eos = t;
        else {
          allowed[na++] = t;
          if (closing[t]) closers[nc++] = t;
        }
      }
    }
    const pick = eos >= 0 && (na === 0 || random() < 0.5) ? eos : nc > 0 && random() < 0.3 ? closers[Math.floor(random() * nc)] : allowed[Math.floor(random() * na)];
    const t1 = performance.now();
    constraint.accept(state, pick);
    ms += performance.now() - t1;
    if (isEos[pick]) {
      state = constraint.initialState();
      outputs++;
    }
  }
  return { msPerToken: ms / tokens, outputs };
}

// ---------------------------------------------------------------------------------------------
async function llamaCppPeer() {
  if (globalThis.vocabGguf === undefined) return null;
  const transformerDist = path.join(packages, "transformer/dist/index.js");
  let llamaCpp;
  try {
    const requireFromTransformer = createRequire(path.join(packages, "transformer/package.json"));
    llamaCpp = await import(pathToFileURL(requireFromTransformer.resolve("node-llama-cpp")).href);
  } catch {
    console.log("llama.cpp peer skipped: node-llama-cpp (a devDependency of @zero-llm/transformer) is not installed");
    return null;
  }
  if (!existsSync(transformerDist)) {
    console.log("llama.cpp peer skipped: packages/transformer is not built (its exporter writes the model file)");
    return null;
  }
  const { randomWeights, writeGgufModel } = await import(pathToFileURL(transformerDist).href);
  const file = "/tmp/zllm-bench-grammar-llama-spm.gguf";
  if (!existsSync(file)) {
    const config = { arch: "llama", dim: 64, hiddenDim: 128, nLayers: 1, nHeads: 4, nKvHeads: 4, vocabSize: vocab.tokens.length, seqLen: 2048, normEps: 1e-5, ropeTheta: 10000, ropeStyle: "interleaved", tiedEmbeddings: true };
    const entries = [...globalThis.vocabGguf.metadata].filter(([k]) => k.startsWith("tokenizer."));
    await writeGgufModel(file, { config, weights: randomWeights(config, { seed: 1 }) }, { tokenizer: entries });
  }
  const llama = await llamaCpp.getLlama({ gpu: false, build: "never", logLevel: llamaCpp.LlamaLogLevel.error });
  const model = await llama.loadModel({ modelPath: file });
  const context = await model.createContext({ contextSize: 2048, threads: 1, batchSize: 64 });
  const sequence = context.getSequence();
  const prompt = model.tokenize("The answer:");
  /** ms per generated token, with the grammar applied to every candidate each step (or no grammar). */
  async function run(grammarText, tokens) {
    const grammar = grammarText === null ? null : await llama.createGrammar({ grammar: grammarText });
    let produced = 0, ms = 0;
    while (produced < tokens) {
      await sequence.clearHistory();
      const options = { temperature: 1, seed: produced + 1 };
      if (grammar !== null) options.grammarEvaluationState = new llamaCpp.LlamaGrammarEvaluationState({ model, grammar });
      let last = performance.now(), first = true;
      for await (const _ of sequence.evaluateWithMetadata(prompt, { confidence: true }, options)) {
        const now = performance.now();
        if (!first) {
          ms += now - last; // the first step includes the prompt's prefill
          produced++;
        }
        first = false;
        last = now;
        if (produced >= tokens || sequence.nextTokenIndex > 1900) break;
      }
    }
    return ms / produced;
  }
  return { run, dispose: async () => { await context.dispose(); await model.dispose(); } };
}

// ---------------------------------------------------------------------------------------------
const peer = await llamaCppPeer();
const rows = [];
let baseline = null;
if (peer !== null) {
  await peer.run(null, 20); // warm-up
  baseline = await peer.run(null, PEER_TOKENS);
  console.log(`llama.cpp without a grammar: ${baseline.toFixed(3)} ms/token (model forward + sampling, subtracted below)`);
}
for (const { name, spec } of CONSTRAINTS) {
  const t0 = performance.now();
  const constraint = compileConstraint(spec, vocab);
  const compileMs = performance.now() - t0;
  const cold = ours(constraint, 1, TOKENS);
  const warm = ours(constraint, 2, TOKENS);
  const stats = constraint.stats();
  let theirs = null;
  if (peer !== null) theirs = (await peer.run(formatGbnf(constraintGrammar(spec)), PEER_TOKENS)) - baseline;
  rows.push({ name, compileMs, cold, warm, stats, theirs });
  if (process.env.ZLLM_BENCH_GRAMMAR === "print") console.log(formatGbnf(constraintGrammar(spec)));
  console.log(
    `${name.padEnd(30)} compile ${compileMs.toFixed(0).padStart(5)} ms | ours ${cold.msPerToken.toFixed(3)} ms/token cold, ${warm.msPerToken.toFixed(3)} warm` +
    ` (${cold.outputs + warm.outputs} outputs, ${stats.states} states, ${stats.cachedPositions} cached positions)` +
    (theirs === null ? "" : ` | llama.cpp ${theirs.toFixed(3)} ms/token: ${(theirs / warm.msPerToken).toFixed(1)}× ours warm, ${(theirs / cold.msPerToken).toFixed(1)}× cold`),
  );
}
const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
console.log(`average over the ${rows.length} constraints: ours ${mean(rows.map((r) => r.cold.msPerToken)).toFixed(3)} ms/token cold, ${mean(rows.map((r) => r.warm.msPerToken)).toFixed(3)} warm` +
  (peer === null ? "" : `; llama.cpp ${mean(rows.map((r) => r.theirs)).toFixed(3)} ms/token`));
await peer?.dispose();
