import { QuantizedLinear, type QuantType } from "@zero-llm/quant";
import { jsBackend } from "@zero-llm/tensor";
import { Model, Weights, type Config } from "@zero-llm/transformer";
import { describe, expect, it } from "vitest";
import {
  ExampleDataset, LoraAdapter, LoraTrainer, TrainableLora, linearModules, loraSettings, loraTrainingModel, mergedWeights, parseJsonl,
  tokenizeExample, withAdapters,
} from "../src/index";
import { rowBlocksOf } from "../src/train/row-blocks";
import { TOKENS, allLogits, maxAbs, maxAbsDiff, randomAdapter, tinyConfig, tinyModel } from "./helpers";

/**
 * QLoRA in our stack: the base's matrices stay Q8_0 / Q4_0 / Q4_K blocks (@zero-llm/quant),
 * decoded a block of rows at a time inside the training model's forward and backward passes.
 * The reference is the same model with those matrices decoded to f32 once (its "dequantized
 * twin"): training on the blocks must compute what training on the twin computes.
 */

/** `model` with every adaptable matrix quantized to `type`, and its twin with those matrices decoded to f32. */
function quantized(model: Model, type: QuantType): { q: Model; twin: Model } {
  const names = new Set(linearModules(model.config).flatMap((m) => m.parts.map((p) => p.weight)));
  const qw = new Weights(), tw = new Weights();
  for (const name of model.weights.names()) {
    const { shape, data } = model.weights.get(name);
    if (names.has(name)) {
      const q = QuantizedLinear.quantize(data, shape[0] ?? 0, shape[1] ?? 0, type, jsBackend);
      qw.setLinear(name, q);
      tw.set(name, shape, q.dequantize());
    } else {
      qw.set(name, shape, data);
      tw.set(name, shape, data);
    }
  }
  return { q: new Model(model.config, qw), twin: new Model(model.config, tw) };
}

const CASES: [QuantType, Config][] = [
  ["q8_0", tinyConfig("llama")],
  ["q4_0", tinyConfig("llama")],
  ["q4_0", tinyConfig("gpt2")],
  ["q4_k", tinyConfig("llama", { dim: 256, hiddenDim: 512, nLayers: 1, nHeads: 4, nKvHeads: 2 })],
];

describe.each(CASES)("a %s base (%s)", (type, config) => {
  const { q, twin } = quantized(tinyModel(config), type);

  it("decodes rows block by block: the same values as the whole matrix decoded", () => {
    const name = [...q.weights.names()].find((n) => q.weights.linear(n)) as string;
    const w = q.weights.linear(name) as QuantizedLinear;
    const blocks = rowBlocksOf(w, name);
    const rows = new Float32Array(3 * w.inFeatures);
    blocks.readRows(rows, 5, 3);
    expect(rows).toEqual(w.dequantize().subarray(5 * w.inFeatures, 8 * w.inFeatures));
  });

  it("the training model on the blocks computes the twin's logits and the same adapter gradients", () => {
    const adapter = randomAdapter(config, { targetModules: "all-linear", r: 4 });
    const onBlocks = new TrainableLora(config, adapter), onTwin = new TrainableLora(config, adapter);
    const a = loraTrainingModel(q, onBlocks), b = loraTrainingModel(twin, onTwin);
    const ids = Int32Array.from(TOKENS), targets = Int32Array.from([...TOKENS.slice(1), 0]);
    const la = a.loss(ids, targets, 1, TOKENS.length), lb = b.loss(ids, targets, 1, TOKENS.length);
    expect(Math.abs(la.item() - lb.item())).toBeLessThan(1e-5 * lb.item());
    la.backward();
    lb.backward();
    onBlocks.modules.forEach((m, i) => {
      const t = onTwin.modules[i]!;
      expect(maxAbsDiff(m.a.grad!.data, t.a.grad!.data), m.module.key).toBeLessThan(1e-5 * Math.max(1e-3, maxAbs(t.a.grad!.data)));
      expect(maxAbsDiff(m.b.grad!.data, t.b.grad!.data), m.module.key).toBeLessThan(1e-5 * Math.max(1e-3, maxAbs(t.b.grad!.data)));
    });
  });

  it("trains with the blocks left bit-identical; runs the adapter on the blocks and merges into f32", () => {
    const before = new Map(q.weights.names().filter((n) => q.weights.linear(n)).map((n) => [n, (q.weights.linear(n) as QuantizedLinear).bytes.slice()]));
    const idCodec = { encode: (t: string) => t.trim().split(/\s+/).map(Number), bos: 1, eos: 2 };
    const lines = Array.from({ length: 16 }, (_, i) => JSON.stringify({ prompt: `5 ${10 + i}`, completion: ` ${20 + i}` })).join("\n");
    const data = new ExampleDataset(parseJsonl(lines).map((e) => tokenizeExample(e, idCodec)), config.vocabSize, { seqLen: config.seqLen });
    const lora = new TrainableLora(config, LoraAdapter.create(config, { r: 4 }, { seed: 2 }));
    const trainer = new LoraTrainer(q, lora, data, loraSettings({ steps: 4, batchSize: 4, lr: 1e-2 }));
    for (let i = 0; i < 4; i++) trainer.trainStep();
    for (const [n, bytes] of before) expect((q.weights.linear(n) as QuantizedLinear).bytes, n).toEqual(bytes);

    const adapter = lora.toAdapter();
    // merging decodes an adapted matrix to f32 and adds the update: the twin's merge, bit for bit
    const mergedQ = mergedWeights(q, [{ adapter }]), mergedTwin = mergedWeights(twin, [{ adapter }]);
    for (const m of adapter.modules.values()) {
      for (const part of linearModules(config).find((x) => x.key === m.key)?.parts ?? []) {
        expect(mergedQ.get(part.weight).data, part.weight).toEqual(mergedTwin.get(part.weight).data);
      }
    }
    // the adapter on the blocks: the quantized kernels round the activations to 8 bits (as ggml
    // does), so close to, not equal to, the f32 twin
    const onBlocks = allLogits(withAdapters(q, [{ adapter }]), TOKENS);
    const onTwin = allLogits(withAdapters(twin, [{ adapter }]), TOKENS);
    expect(maxAbsDiff(onBlocks, onTwin)).toBeLessThan(0.05 * maxAbs(onTwin));
    expect(maxAbsDiff(onTwin, allLogits(new Model(config, mergedTwin), TOKENS))).toBeLessThan(2e-5 * maxAbs(onTwin));
  });
});
