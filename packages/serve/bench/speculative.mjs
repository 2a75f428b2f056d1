// Speculative decoding inside the batch loop, measured on the engine (no HTTP): tokens per
// CPU-second of the engine with a draft model, against the same engine without one in the same
// run, at 1 and 32 sequences, greedy and at temperature 0.8, up to 4 drafts per step with
// llama.cpp's p-min 0.75 (draft only where the draft is sure) and with p-min 0 (always draft).
//   cd packages/serve && npx tsup && node bench/speculative.mjs [--model PATH] [--draft PATH] [--tokens 96] [--rounds 3]
//
// Default pair: the embedded model drafting for itself (a draft as costly as the model: this
// shows the mechanism's overhead and its best-case acceptance, not a speed-up), and a random
// 1-layer, 32-wide draft with the same vocabulary (nearly free, nearly always wrong). A real
// pair is a small draft for a larger model with the same tokenizer (--model PATH --draft PATH).
import { parseArgs } from "node:util";
import { Sampler } from "@zero-llm/sampling";
import { createWasmBackend } from "@zero-llm/tensor";
import { Model, randomWeights } from "@zero-llm/transformer";
import { Engine, loadServedModel } from "../dist/index.js";
import { DEFAULT_MODEL } from "./model.mjs";

const { values } = parseArgs({
  options: {
    model: { type: "string", default: DEFAULT_MODEL },
    draft: { type: "string" },
    tokens: { type: "string", default: "96" },
    rounds: { type: "string", default: "3" },
  },
});
const backend = await createWasmBackend({ threads: 1 });
const target = await loadServedModel(values.model, { backend, id: "target", maxBatchRows: 128 });
const drafts = [];
if (values.draft) {
  drafts.push([values.draft, (await loadServedModel(values.draft, { backend, id: "draft", maxBatchRows: 128 })).model]);
} else {
  drafts.push(["the model itself", (await loadServedModel(values.model, { backend, id: "draft", maxBatchRows: 128 })).model]);
  const tiny = { ...target.model.config, dim: 32, hiddenDim: 64, nLayers: 1, nHeads: 2, nKvHeads: 1 };
  drafts.push(["random 1-layer, 32 wide", new Model(tiny, randomWeights(tiny, { seed: 5, backend }), { backend, maxBatchRows: 128 })]);
}
const maxTokens = Number(values.tokens);
const rounds = Number(values.rounds);

/** Runs `streams` sequences to maxTokens on `engine`; tokens per CPU-second and per wall second. */
async function run(engine, streams, temperature) {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let tokens = 0;
  await Promise.all(
    Array.from({ length: streams }, (_, i) => new Promise((resolve) => {
      const sampler = new Sampler({ temperature, seed: i });
      engine.submit(
        { prompt: [2047, 10 + i, 20 + i, 30 + i], maxTokens, chooser: { choose: (logits, history) => sampler.sample(logits, history) }, prefixCache: false },
        { token: () => tokens++, finished: resolve },
      );
    })),
  );
  const cpu = process.cpuUsage(cpu0);
  return { perCpuSecond: (tokens * 1e6) / (cpu.user + cpu.system), perSecond: (tokens * 1000) / (performance.now() - t0) };
}

console.log(`target ${values.model}; ${maxTokens} tokens per sequence, wasm 1 thread, best of ${rounds} rounds (tokens per CPU-second of this process)`);
console.log("| streams | sampling | draft | draft tokens | accepted | tokens per CPU-second | × without draft |");
console.log("|---:|---|---|---:|---:|---:|---:|");
for (const streams of [1, 32]) {
  for (const temperature of [0, 0.8]) {
    const configs = [
      ["none", undefined],
      ...drafts.flatMap(([name, model]) => [0.75, 0].map((pMin) => [`${name}, p-min ${pMin}`, { model, maxTokens: 4, pMin }])),
    ];
    const best = new Map();
    const counts = new Map();
    for (let r = 0; r < rounds; r++) {
      for (const [name, draft] of configs) {
        const engine = new Engine(target.model, { parallel: 32, ...(draft ? { draft } : {}) });
        const out = await run(engine, streams, temperature);
        best.set(name, Math.max(best.get(name) ?? 0, out.perCpuSecond));
        if (engine.drafter) counts.set(name, [engine.drafter.proposed, engine.drafter.accepted]);
      }
    }
    const plain = best.get("none");
    for (const [name] of configs) {
      const [proposed, accepted] = counts.get(name) ?? [0, 0];
      console.log(`| ${streams} | ${temperature === 0 ? "greedy" : `temperature ${temperature}`} | ${name} | ${proposed} | ${accepted} | ${best.get(name).toFixed(0)} | ${(best.get(name) / plain).toFixed(2)}× |`);
    }
  }
}
await backend.dispose();
