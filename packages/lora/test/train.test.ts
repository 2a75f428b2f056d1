import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Model, generate } from "@zero-llm/transformer";
import { afterAll, describe, expect, it } from "vitest";
import {
  ExampleDataset, LoraAdapter, LoraTrainer, TrainableLora, learnedLoss, loraSettings, mergedWeights, parseJsonl, tokenizeExample, trainingMemory,
  withAdapters, type TextCodec,
} from "../src/index";
import { loraTrainRun, readLoraCheckpoint, readPeftAdapter } from "../src/node/index";
import { TOKENS, allLogits, maxAbs, maxAbsDiff, tinyConfig, tinyModel } from "./helpers";

/**
 * Training: a tiny random model learns a mapping it cannot know (a "prompt" token followed by
 * its "answer": id + 7 mod vocab) from prompt/completion pairs, with only the completion in the
 * loss. The base must come out bit-identical, the training model must compute what the
 * inference engine computes with the adapter, and the merged model must agree with both.
 */

const dir = mkdtempSync(path.join(os.tmpdir(), "zllm-lora-train-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A "tokenizer" over ids written as text: "12 40 7" → [12, 40, 7]. */
const idCodec: TextCodec = { encode: (text) => text.trim() === "" ? [] : text.trim().split(/\s+/).map(Number), bos: 1, eos: 2 };

function task(n: number, vocab: number): string {
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    const x = 3 + ((i * 13) % (vocab - 3));
    lines.push(JSON.stringify({ prompt: `5 ${x} 6`, completion: ` ${((x + 7) % (vocab - 3)) + 3}` }));
  }
  return lines.join("\n");
}

describe.each([
  ["llama", tinyConfig("llama"), { targetModules: "all-linear", r: 4, alpha: 8 }],
  ["gpt2", tinyConfig("gpt2"), { targetModules: ["c_attn", "c_fc"], r: 4, alpha: 8, dropout: 0.05 }],
] as const)("%s: a LoRA fine-tune", (_name, config, lora) => {
  const base = tinyModel(config);
  const before = new Map(base.weights.names().map((n) => [n, base.weights.get(n).data.slice()]));
  const examples = parseJsonl(task(60, config.vocabSize)).map((e) => tokenizeExample(e, idCodec));
  const data = new ExampleDataset(examples, config.vocabSize, { seqLen: config.seqLen, valFraction: 0.2 });
  const adapter = LoraAdapter.create(config, lora, { seed: 3 });
  const trainable = new TrainableLora(config, adapter);
  const trainer = new LoraTrainer(base, trainable, data, loraSettings({ steps: 60, batchSize: 8, lr: 1e-2, evalWindows: 16 }));
  // the learned tokens of a fixed sample of training examples (held-out ones need arithmetic on random embeddings)
  const sample = data.trainBatch(999, 0, 0, 48);
  const fitLoss = (): number => learnedLoss(trainer.model, [sample], trainable);
  const firstFit = fitLoss();
  const losses: number[] = [];
  for (let i = 0; i < 60; i++) losses.push(trainer.trainStep().loss);
  const trained = trainable.toAdapter();

  it("learns: the loss of the learned tokens falls well below where it started", () => {
    expect(fitLoss()).toBeLessThan(0.75 * firstFit); // measured: 4.1 → 2.7 (llama), 4.4 → 2.8 (gpt2); an untrained adapter stays at 1.0×
    expect(losses.slice(-5).reduce((a, b) => a + b) / 5).toBeLessThan(losses.slice(0, 5).reduce((a, b) => a + b) / 5);
  });

  it("leaves every base weight bit-identical, and gives the base no gradient or optimizer state", () => {
    for (const [n, w] of before) expect(base.weights.get(n).data, n).toEqual(w);
    expect(trainer.optimizer.params.length).toBe(2 * adapter.modules.size);
    for (const [name, p] of trainer.model.namedParameters()) expect([name, p.requiresGrad, p.grad]).toEqual([name, false, null]);
  });

  it("the training model computes what the inference engine computes with the adapter", () => {
    const inference = allLogits(withAdapters(base, [{ adapter: trained }]), TOKENS);
    trainer.model.eval();
    const training = trainer.model.forward(Int32Array.from(TOKENS), 1, TOKENS.length).data;
    trainable.resetInputs();
    expect(maxAbsDiff(training, inference)).toBeLessThan(2e-5 * maxAbs(inference));
  });

  it("--lora and the merged model agree: logits within float32 rounding, the same greedy tokens", () => {
    const adapted = withAdapters(base, [{ adapter: trained }]);
    const merged = new Model(config, mergedWeights(base, [{ adapter: trained }]));
    expect(maxAbsDiff(allLogits(adapted, TOKENS), allLogits(merged, TOKENS))).toBeLessThan(2e-5 * maxAbs(allLogits(merged, TOKENS)));
    const prompt = [1, 5, 20, 6];
    expect([...generate(adapted, prompt, { maxTokens: 10 })]).toEqual([...generate(merged, prompt, { maxTokens: 10 })]);
  });

  it("reports trainable parameters and the memory LoRA saves", () => {
    const m = trainingMemory(base.weights, trainable.parameterCount());
    expect(m.trainableParameters).toBe(adapter.parameterCount());
    expect(m.trainableFraction).toBeLessThan(0.2);
    expect(m.savedBytes).toBe(12 * (m.baseParameters - m.trainableParameters));
  });
});

describe("data", () => {
  it("prompt/completion: only the completion and eos are learned; chats: only assistant contents", () => {
    const [pc, chat] = parseJsonl([
      JSON.stringify({ prompt: "10 11", completion: " 12 13" }),
      "",
      JSON.stringify({ messages: [{ role: "system", content: "9" }, { role: "user", content: "10" }, { role: "assistant", content: "11" }] }),
    ].join("\n"));
    const a = tokenizeExample(pc!, idCodec);
    expect([...a.ids]).toEqual([1, 10, 11, 12, 13, 2]);
    expect([...a.learned]).toEqual([0, 0, 0, 1, 1, 1]);
    expect(chat!.line).toBe(3);
    expect(chat!.segments.map((s) => [s.text, s.loss])).toEqual([["system:", false], [" 9\n", false], ["user:", false], [" 10\n", false], ["assistant:", false], [" 11\n", true]]);
  });

  it("batches pad after each example with ignored targets", () => {
    const ex = parseJsonl([JSON.stringify({ prompt: "10", completion: " 12" }), JSON.stringify({ prompt: "10 11 12 13", completion: " 14" })].join("\n")).map((e) => tokenizeExample(e, idCodec));
    const ds = new ExampleDataset([...ex, ...ex], 64, { seqLen: 16, valFraction: 0.5 });
    const [batch] = ds.validationBatches(2, 2);
    expect(batch!.seqLen).toBe(Math.max(...ds.val.map((e) => e.ids.length - 1)));
    for (let r = 0; r < batch!.batch; r++) {
      const e = ds.val[r]!;
      const row = [...batch!.targets.subarray(r * batch!.seqLen, (r + 1) * batch!.seqLen)];
      expect(row).toEqual(Array.from({ length: batch!.seqLen }, (_, t) => (t < e.ids.length - 1 && e.learned[t + 1] ? e.ids[t + 1] : -100)));
    }
  });

  it("bad lines are BAD_DATA naming the line", () => {
    expect(() => parseJsonl('{"prompt": "a", "completion": "b"}\n{"prompt": 3}')).toThrow(expect.objectContaining({ code: "BAD_DATA", message: expect.stringMatching(/line 2: expected \{"prompt"/) }));
    expect(() => parseJsonl("not json")).toThrow(/line 1: expected one JSON object per line/);
    expect(() => parseJsonl(JSON.stringify({ messages: [{ role: "user", content: "hi" }] }))).toThrow(/line 1: expected at least one assistant message/);
    expect(() => parseJsonl(JSON.stringify({ messages: [{ role: "robot", content: "hi" }] }))).toThrow(/line 1, message 0: expected role system, user, assistant or tool/);
    const long = tokenizeExample(parseJsonl(JSON.stringify({ prompt: Array(40).fill("3").join(" "), completion: " 4" }))[0]!, idCodec);
    expect(() => new ExampleDataset([long, long], 64, { seqLen: 32 })).toThrow(/line 1: expected at most 33 tokens \(the model's context \+ 1\), found 43/);
  });
});

describe("a run on disk", () => {
  const config = tinyConfig("llama");
  const base = tinyModel(config);
  const examples = parseJsonl(task(40, config.vocabSize)).map((e) => tokenizeExample(e, idCodec));
  const data = (): ExampleDataset => new ExampleDataset(examples, config.vocabSize, { seqLen: config.seqLen });
  const settings = loraSettings({ steps: 12, batchSize: 4, lr: 5e-3, checkpointEvery: 4, evalEvery: 6, evalWindows: 4 });
  const lora = { targetModules: ["q_proj", "v_proj"], r: 2, alpha: 4, dropout: 0.1 };

  it("interrupted and resumed, ends bit-identical to a run never stopped; the directory is a PEFT adapter", async () => {
    const whole = await loraTrainRun({ outDir: path.join(dir, "whole"), base, baseModel: "tiny", data: data(), lora, settings });
    const part = path.join(dir, "part");
    await loraTrainRun({ outDir: part, base, baseModel: "tiny", data: data(), lora, settings, stopAtStep: 5 });
    expect((await readLoraCheckpoint(path.join(part, "checkpoint.safetensors"))).step).toBe(5);
    const resumed = await loraTrainRun({ outDir: part, base, baseModel: "tiny", data: data(), lora, settings, resume: true });
    for (const m of whole.adapter.modules.values()) {
      expect(resumed.adapter.module(m.key).a, m.key).toEqual(m.a);
      expect(resumed.adapter.module(m.key).b, m.key).toEqual(m.b);
    }
    expect(resumed.trainer.history.map((r) => r.loss)).toEqual(whole.trainer.history.map((r) => r.loss));
    const onDisk = await readPeftAdapter(part);
    expect(onDisk.module("model.layers.1.self_attn.v_proj").b).toEqual(whole.adapter.module("model.layers.1.self_attn.v_proj").b);
    expect(onDisk.baseModel).toBe("tiny");
    expect(readFileSync(path.join(part, "loss.csv"), "utf8").trim().split("\n")).toHaveLength(13);
  });

  it("refuses to resume onto another base model or other data, and to start over a checkpoint", async () => {
    const at = path.join(dir, "mismatch");
    await loraTrainRun({ outDir: at, base, baseModel: "tiny", data: data(), lora, settings, stopAtStep: 2 });
    await expect(loraTrainRun({ outDir: at, base: tinyModel(config, { seed: 9 }), baseModel: "tiny", data: data(), lora, settings, resume: true })).rejects.toThrow(
      expect.objectContaining({ code: "RESUME_MISMATCH", message: expect.stringMatching(/expected the base model the checkpoint was trained on/) }),
    );
    const other = new ExampleDataset(examples.slice(1), config.vocabSize, { seqLen: config.seqLen });
    await expect(loraTrainRun({ outDir: at, base, baseModel: "tiny", data: other, lora, settings, resume: true })).rejects.toThrow(/expected the data the checkpoint was trained on/);
    await expect(loraTrainRun({ outDir: at, base, baseModel: "tiny", data: data(), lora, settings })).rejects.toThrow(/found one in/);
  });
});
