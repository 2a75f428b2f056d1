// diagnostic: full fine-tuning of the default model on the addition examples (same data, same batches)
import { readFileSync } from "node:fs";
import { createWasmBackend, setBackend, Rng, Tensor } from "@zero-llm/tensor";
import { optim, scratchScope } from "@zero-llm/autograd";
import { fromTokenizerJson } from "@zero-llm/tokenizer-bpe";
import { generate, trainableFrom } from "@zero-llm/transformer";
import { loadModel } from "@zero-llm/transformer/node";
import { ExampleDataset, learnedLoss, parseJsonl, tokenizeExample } from "@zero-llm/lora";

const steps = Number(process.argv[2] ?? 400), lr = Number(process.argv[3] ?? 1e-3);
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
const held = pairs.slice(0, 100), train = pairs.slice(810);
const jsonl = train.map(([a, b]) => JSON.stringify({ prompt: `Q: ${a} + ${b} = ? A:`, completion: ` ${a + b}` })).join("\n");
const codec = { encode: (t) => tok.encode(t), bos: eot, eos: eot };
const data = new ExampleDataset(parseJsonl(jsonl).map((e) => tokenizeExample(e, codec)), 2048, { seqLen: 64, valFraction: 0.02 });
const lm = trainableFrom(base); lm.train();
const params = lm.parameters();
const opt = new optim.AdamW(params, { lr, weightDecay: 0 });
const one = new Tensor(Float32Array.of(1), []);
const t0 = performance.now();
for (let s = 0; s < steps; s++) {
  const b = data.trainBatch(1337, s, 0, 32);
  for (const p of params) p.zeroGrad();
  let loss = 0;
  scratchScope(() => { const l = lm.loss(b.inputs, b.targets, b.batch, b.seqLen); loss = l.item(); l.backward(one); });
  optim.clipGradNorm(params, 1);
  opt.step();
  if ((s + 1) % 100 === 0) console.log(s + 1, loss.toFixed(3), "val", learnedLoss(lm, data.validationBatches(64, 32)).toFixed(3), ((performance.now() - t0) / 1000).toFixed(0) + "s");
}
const { Model, Weights } = await import("@zero-llm/transformer");
const tuned = new Model(base.config, lm.toWeights(), { backend: wasm });
const acc = (list) => { let ok = 0; for (const [a, b] of list) { const out = [...generate(tuned, [eot, ...tok.encode(`Q: ${a} + ${b} = ? A:`)], { maxTokens: 5, eos: [eot] })]; const text = new TextDecoder().decode(new Uint8Array(out.filter((x) => x !== eot).flatMap((x) => [...tok.tokenBytes(x)]))); if (text === ` ${a + b}`) ok++; } return ok / list.length; };
console.log("full FT held-out acc", acc(held), "train acc", acc(train.slice(0, 100)));
await wasm.dispose();
