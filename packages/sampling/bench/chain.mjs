// Cost of the sampler chain per token on a 32,000-entry vocabulary (the Llama 2 size), against
// the same chain written with full sorts (bench/naive-chain.mjs), measured in the same run on the
// same rows. Prints µs per token for each and the ratio naive / ours.
//
//   cd packages/sampling && npx tsup && node bench/chain.mjs [--vocab 32000] [--tokens 400] [--reps 5]
import { loadavg } from "node:os";
import { Rng } from "@zero-llm/tensor";
import { Sampler } from "../dist/index.js";
import { naiveSample } from "./naive-chain.mjs";

const args = process.argv.slice(2);
const flag = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const VOCAB = flag("vocab", 32000);
const TOKENS = flag("tokens", 400);
// the naive chain takes ~100× longer per token; its cost per token does not depend on the count
const NAIVE_TOKENS = Math.max(10, Math.round(TOKENS / 10));
const REPS = flag("reps", 5);

// Rows shaped like a language model's logits: a broad N(0, 2²) body and a few dozen plausible
// tokens 6–12 above it, so top-p 0.95 keeps tens of tokens, as with real models.
const rng = new Rng(2026);
const rows = Array.from({ length: 8 }, () => {
  const row = new Float32Array(VOCAB);
  for (let i = 0; i < VOCAB; i++) row[i] = rng.normal(0, 2);
  for (let k = 0; k < 40; k++) row[rng.int(VOCAB)] += 6 + 6 * rng.uniform();
  return row;
});
// a history with repeats, as the penalties and DRY see it after some generation
const history = Array.from({ length: 256 }, (_, i) => (i % 37 < 20 ? (i * 7) % 500 : rng.int(VOCAB)));

const configs = [
  { name: "llama.cpp CLI defaults: top-k 40, top-p 0.95, min-p 0.05, temp 0.8", options: { topK: 40, topP: 0.95, minP: 0.05, temperature: 0.8 } },
  {
    name: "every step but XTC: penalties (last 64), DRY, top-k 40, typical 0.95, top-p 0.95, min-p 0.05, temp 0.8",
    options: {
      repetitionPenalty: 1.1, frequencyPenalty: 0.1, presencePenalty: 0.1, repetitionWindow: 64, dryMultiplier: 0.8,
      topK: 40, typicalP: 0.95, topP: 0.95, minP: 0.05, temperature: 0.8,
    },
  },
  { name: "no top-k: top-p 0.95, min-p 0.05, temp 0.8 over the whole vocabulary", options: { topP: 0.95, minP: 0.05, temperature: 0.8 } },
  { name: "no truncation: temperature 0.8 over the whole vocabulary", options: { temperature: 0.8 } },
  { name: "greedy", options: { temperature: 0 } },
  { name: "XTC 0.5 / 0.1 after top-k 40 (ours only: the naive chain has no XTC)", options: { topK: 40, xtcProbability: 0.5, xtcThreshold: 0.1, temperature: 0.8 }, oursOnly: true },
  { name: "Mirostat 2.0, temp 0.8 (ours only)", options: { mirostat: 2, temperature: 0.8 }, oursOnly: true },
];

function timePerToken(step, tokens) {
  for (let i = 0; i < Math.min(tokens, 100); i++) step(i); // warm-up
  const runs = [];
  for (let r = 0; r < REPS; r++) {
    const t0 = performance.now();
    for (let i = 0; i < tokens; i++) step(i);
    runs.push(((performance.now() - t0) * 1000) / tokens);
  }
  runs.sort((a, b) => a - b);
  return runs[runs.length >> 1];
}

console.log(`sampler chain, vocabulary ${VOCAB}, ${TOKENS} tokens (naive: ${NAIVE_TOKENS}) × ${REPS} runs (median), Node ${process.versions.node}, load average ${loadavg()[0].toFixed(1)}`);
// the floor any chain pays: copy the row once and look at every logit once
const scratch = new Float32Array(VOCAB);
const floor = timePerToken((i) => {
  scratch.set(rows[i % rows.length]);
  let finite = 0;
  for (let j = 0; j < VOCAB; j++) if (scratch[j] > -Infinity) finite++;
  if (finite < 0) console.log(finite);
}, TOKENS);
console.log(`floor (copy the row, read every logit once): ${floor.toFixed(1)} µs/token`);
console.log("| chain | ours µs/token | naive full-sort µs/token | naive / ours |");
console.log("|---|---:|---:|---:|");
for (const { name, options, oursOnly } of configs) {
  const sampler = new Sampler({ ...options, seed: 1 });
  let sink = 0;
  const ours = timePerToken((i) => { sink += sampler.sample(rows[i % rows.length], history); }, TOKENS);
  let naive = NaN;
  if (!oursOnly) {
    const u = new Rng(1);
    naive = timePerToken((i) => { sink += naiveSample(rows[i % rows.length], history, options, u.uniform()); }, NAIVE_TOKENS);
  }
  const ratio = oursOnly ? "—" : `${(naive / ours).toFixed(1)}×`;
  console.log(`| ${name} | ${ours.toFixed(1)} | ${oursOnly ? "—" : naive.toFixed(0)} | ${ratio} |`);
  if (sink === -1) console.log(sink); // keep the work observable
}
