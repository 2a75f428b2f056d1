// quick feasibility experiment: LoRA addition on the default model
import { readFileSync } from "node:fs";
import { createWasmBackend, setBackend, Rng } from "@zero-llm/tensor";
import { fromTokenizerJson } from "@zero-llm/tokenizer-bpe";
import { generate } from "@zero-llm/transformer";
import { loadModel } from "@zero-llm/transformer/node";
import { ExampleDataset, LoraAdapter, LoraTrainer, TrainableLora, loraSettings, parseJsonl, tokenizeExample, withAdapters } from "@zero-llm/lora";

const [steps, rank, lr, targets, batch] = [Number(process.argv[2] ?? 300), Number(process.argv[3] ?? 8), Number(process.argv[4] ?? 3e-3), (process.argv[5] ?? "all-linear"), Number(process.argv[6] ?? 32)];
const wasm = await createWasmBackend({ threads: 2 });
setBackend(wasm);
const root = "/work/lora/models/default";
const base = await loadModel(root, { backend: wasm });
const tok = fromTokenizerJson(readFileSync(`${root}/tokenizer.json`, "utf8"));
const eot = 2047;
const pairs = [];
for (let a = 10; a < 100; a++) for (let b = 10; b < 100; b++) pairs.push([a, b]);
const g = new Rng(42);
for (let i = pairs.length - 1; i > 0; i--) { const j = g.int(i + 1); [pairs[i], pairs[j]] = [pairs[j], pairs[i]]; }
const held = pairs.slice(0, 200), train = pairs.slice(810);
const jsonl = train.map(([a, b]) => JSON.stringify({ prompt: `Q: ${a} + ${b} = ? A:`, completion: ` ${a + b}` })).join("\n");
const codec = { encode: (t) => tok.encode(t), bos: eot, eos: eot };
const data = new ExampleDataset(parseJsonl(jsonl).map((e) => tokenizeExample(e, codec)), 2048, { seqLen: 64, valFraction: 0.02 });
const tgt = targets === "all-linear" ? "all-linear" : targets.split(",");
const adapter = LoraAdapter.create(base.config, { targetModules: tgt, r: rank, alpha: 2 * rank }, { seed: 1 });
const t = new TrainableLora(base.config, adapter);
const trainer = new LoraTrainer(base, t, data, loraSettings({ steps, batchSize: batch, lr, minLr: process.env.CONST ? lr : lr / 10, evalWindows: 64, warmupSteps: Math.min(50, Math.floor(steps/10)) }));
console.log("trainable", t.parameterCount());
const accuracy = (model, list) => {
  let ok = 0;
  for (const [a, b] of list) {
    const prompt = [eot, ...tok.encode(`Q: ${a} + ${b} = ? A:`)];
    const out = [...generate(model, prompt, { maxTokens: 5, eos: [eot] })];
    const text = new TextDecoder().decode(new Uint8Array(out.filter((x) => x !== eot).flatMap((x) => [...tok.tokenBytes(x)])));
    if (text.trim() === String(a + b) && text.startsWith(" ")) ok++;
  }
  return ok / list.length;
};
console.log("base acc", accuracy(base, held.slice(0, 100)));
const t0 = performance.now();
for (let i = 0; i < steps; i++) {
  const r = trainer.trainStep();
  if ((i + 1) % 100 === 0) console.log(i + 1, r.loss.toFixed(3), "val", trainer.evaluate().toFixed(3), ((performance.now() - t0) / 1000).toFixed(0) + "s", Math.round(r.tokens * 1000 / r.ms), "tok/s");
  if ((i + 1) % 500 === 0) console.log("  held-out acc (100)", accuracy(withAdapters(base, [{ adapter: t.toAdapter() }]), held.slice(0, 100)), "train acc (100)", accuracy(withAdapters(base, [{ adapter: t.toAdapter() }]), train.slice(0, 100)));
}
console.log("held-out acc", accuracy(withAdapters(base, [{ adapter: t.toAdapter() }]), held));
await wasm.dispose();
