import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Tensor } from "@zero-llm/tensor";
import { describe, expect, it } from "vitest";
import { TransformerLM, type Config } from "../src/index";

/**
 * Logits, loss and every parameter's gradient of a 2-layer model of each family against
 * PyTorch autograd in float64 (tools/fixtures/make_train_fixture.py). Our arithmetic is float32,
 * so the bound is relative to each tensor's scale: max |ours − torch| ≤ tol · max |torch|.
 */
interface Fixture {
  config: Config;
  batch: number;
  seq: number;
  inputs: number[];
  targets: number[];
  weights: Record<string, { shape: number[]; data: number[] }>;
  logits: number[];
  loss: number;
  grads: Record<string, number[]>;
}

const load = (name: string): Fixture => JSON.parse(readFileSync(fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url)), "utf8")) as Fixture;

function maxRelError(ours: ArrayLike<number>, ref: readonly number[]): number {
  let scale = 0, err = 0;
  for (let i = 0; i < ref.length; i++) {
    scale = Math.max(scale, Math.abs(ref[i]));
    err = Math.max(err, Math.abs(ours[i] - ref[i]));
  }
  // The key bias's gradient is exactly zero (softmax ignores a shift shared by all keys):
  // PyTorch's is ~1e-17, so a floor on the scale keeps that comparison absolute.
  return err / Math.max(scale, 1e-3);
}

describe.each(["train-llama.json", "train-gpt2.json"])("%s against PyTorch", (file) => {
  const fx = load(file);
  const model = new TransformerLM(fx.config);
  model.loadStateDict(new Map(Object.entries(fx.weights).map(([n, w]) => [n, new Tensor(Float32Array.from(w.data), w.shape)])));
  const inputs = Int32Array.from(fx.inputs), targets = Int32Array.from(fx.targets);

  it("has the fixture's parameters, by name", () => {
    expect(model.namedParameters().map(([n]) => n).sort()).toEqual(Object.keys(fx.weights).sort());
  });

  it("matches the logits and the loss", () => {
    const logits = model.forward(inputs, fx.batch, fx.seq);
    expect(logits.shape).toEqual([fx.batch, fx.seq, fx.config.vocabSize]);
    expect(maxRelError(logits.data, fx.logits)).toBeLessThan(2e-6);
    const loss = model.loss(inputs, targets, fx.batch, fx.seq);
    expect(Math.abs(loss.item() - fx.loss)).toBeLessThan(2e-6 * fx.loss);
  });

  it("matches every parameter's gradient", () => {
    model.zeroGrad();
    model.loss(inputs, targets, fx.batch, fx.seq).backward();
    for (const [name, p] of model.namedParameters()) {
      expect(p.grad, name).not.toBeNull();
      expect(maxRelError(p.grad!.data, fx.grads[name]), name).toBeLessThan(2e-5);
    }
  });
});
