import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { F, Var } from "@zero-llm/autograd";
import { Rng, Tensor } from "@zero-llm/tensor";
import { Weights, type Config } from "@zero-llm/transformer";
import { describe, expect, it } from "vitest";
import { LoraAdapter, loraConfig } from "../src/index";
import { FrozenLinear, LoraInput, LoraLinear } from "../src/train/layers";
import { TrainableLora, loraTrainingModel } from "../src/train/trainable";

/**
 * The training path against PyTorch autograd in float64 (tools/fixtures/make_lora_fixture.py,
 * PEFT's LoraLayer rule): a LoRA-wrapped linear layer, then whole models of each family with
 * adapters on every linear module. Our arithmetic is float32, so each bound is relative to the
 * reference's scale: max |ours − torch| ≤ tol · max |torch|.
 */

const load = <T>(name: string): T => JSON.parse(readFileSync(fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url)), "utf8")) as T;

function maxRelError(ours: ArrayLike<number>, ref: readonly number[]): number {
  let scale = 0, err = 0;
  for (let i = 0; i < ref.length; i++) {
    scale = Math.max(scale, Math.abs(ref[i]));
    err = Math.max(err, Math.abs(ours[i] - ref[i]));
  }
  return err / Math.max(scale, 1e-3);
}

interface LinearFixture {
  x: number[]; xShape: number[]; weight: number[]; bias: number[]; a: number[]; b: number[];
  rank: number; alpha: number; inFeatures: number; outFeatures: number;
  cotangent: number[]; y: number[]; gradX: number[]; gradA: number[]; gradB: number[];
}

describe("a LoRA-wrapped linear layer against PyTorch", () => {
  const fx = load<LinearFixture>("lora-linear.json");
  it("y = W·x + b + (alpha/r)·B·(A·x); gradients of x, A and B, none for the frozen W", () => {
    const base = new FrozenLinear(fx.inFeatures, fx.outFeatures, Float32Array.from(fx.weight), Float32Array.from(fx.bias));
    const a = new Var(new Tensor(Float32Array.from(fx.a), [fx.rank, fx.inFeatures]), { requiresGrad: true });
    const b = new Var(new Tensor(Float32Array.from(fx.b), [fx.outFeatures, fx.rank]), { requiresGrad: true });
    const layer = new LoraLinear(base, new LoraInput(a, 0, { generator: new Rng(0) }), b, [0, fx.outFeatures], fx.alpha / fx.rank);
    const x = new Var(new Tensor(Float32Array.from(fx.x), fx.xShape), { requiresGrad: true });
    const y = layer.forward(x);
    expect(maxRelError(y.data, fx.y)).toBeLessThan(1e-6);
    F.sum(F.mul(y, new Var(new Tensor(Float32Array.from(fx.cotangent), y.shape)))).backward();
    expect(maxRelError(x.grad!.data, fx.gradX)).toBeLessThan(1e-5);
    expect(maxRelError(a.grad!.data, fx.gradA)).toBeLessThan(1e-5);
    expect(maxRelError(b.grad!.data, fx.gradB)).toBeLessThan(1e-5);
    expect(base.weight?.grad ?? null).toBeNull();
    expect(base.bias?.grad ?? null).toBeNull();
  });
});

interface ModelFixture {
  config: Config; batch: number; seq: number; rank: number; alpha: number; useRslora: boolean;
  inputs: number[]; targets: number[];
  weights: Record<string, { shape: number[]; data: number[] }>;
  lora: Record<string, { a: number[]; b: number[]; shape: [number, number] }>;
  logits: number[]; loss: number;
  grads: Record<string, { a: number[]; b: number[] }>;
}

describe.each(["lora-llama.json", "lora-gpt2.json"])("%s: a model with adapters on every linear module against PyTorch", (file) => {
  const fx = load<ModelFixture>(file);
  const weights = new Weights();
  for (const [name, w] of Object.entries(fx.weights)) weights.set(name, w.shape, Float32Array.from(w.data));
  if (fx.config.tiedEmbeddings) weights.set("lm_head.weight", [fx.config.vocabSize, fx.config.dim], weights.get("model.embed_tokens.weight").data);
  const config = loraConfig(fx.config, { r: fx.rank, alpha: fx.alpha, useRslora: fx.useRslora, targetModules: "all-linear" });
  const adapter = new LoraAdapter(fx.config.arch, config, Object.entries(fx.lora).map(([key, m]) => ({
    key, rank: fx.rank, alpha: fx.alpha, outFeatures: m.shape[0], inFeatures: m.shape[1], a: Float32Array.from(m.a), b: Float32Array.from(m.b),
  })));
  const lora = new TrainableLora(fx.config, adapter);
  const model = loraTrainingModel({ config: fx.config, weights }, lora);
  const inputs = Int32Array.from(fx.inputs), targets = Int32Array.from(fx.targets);

  it("matches the logits and the loss (prompt positions ignored)", () => {
    const logits = model.forward(inputs, fx.batch, fx.seq);
    expect(maxRelError(logits.data, fx.logits)).toBeLessThan(3e-6);
    lora.resetInputs();
    expect(Math.abs(model.loss(inputs, targets, fx.batch, fx.seq).item() - fx.loss)).toBeLessThan(3e-6 * fx.loss);
    lora.resetInputs();
  });

  it("matches the gradient of every lora_A and lora_B; the base holds none", () => {
    for (const p of lora.parameters()) p.zeroGrad();
    model.loss(inputs, targets, fx.batch, fx.seq).backward();
    lora.resetInputs();
    for (const t of lora.modules) {
      const ref = fx.grads[t.module.key];
      expect(maxRelError(t.a.grad!.data, ref.a), `${t.module.key} lora_A`).toBeLessThan(3e-5);
      expect(maxRelError(t.b.grad!.data, ref.b), `${t.module.key} lora_B`).toBeLessThan(3e-5);
    }
    const base = model.namedParameters();
    expect(base.length).toBeGreaterThan(0);
    for (const [name, p] of base) {
      expect(p.requiresGrad, name).toBe(false);
      expect(p.grad, name).toBeNull();
    }
  });
});
