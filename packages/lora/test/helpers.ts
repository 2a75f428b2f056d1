import { Rng, jsBackend, type Backend } from "@zero-llm/tensor";
import { Model, randomWeights, type Config } from "@zero-llm/transformer";
import { LoraAdapter, type LoraConfig } from "../src/index";

/** Small models of each family: every code path, fast on the shared machine. */
export function tinyConfig(arch: "llama" | "gpt2", overrides: Partial<Config> = {}): Config {
  return arch === "llama"
    ? { arch, dim: 32, hiddenDim: 64, nLayers: 2, nHeads: 4, nKvHeads: 2, vocabSize: 64, seqLen: 32, normEps: 1e-5, ropeTheta: 10000, ropeStyle: "half", tiedEmbeddings: true, ...overrides }
    : { arch, dim: 32, hiddenDim: 128, nLayers: 2, nHeads: 4, nKvHeads: 4, vocabSize: 64, seqLen: 32, normEps: 1e-5, ropeTheta: 10000, ropeStyle: "interleaved", tiedEmbeddings: true, ...overrides };
}

/** A model with random weights (gpt2: random biases too, so a bias bug cannot hide). */
export function tinyModel(config: Config, options: { seed?: number; backend?: Backend; maxBatchRows?: number } = {}): Model {
  const backend = options.backend ?? jsBackend;
  const weights = randomWeights(config, { seed: options.seed ?? 1, backend });
  const g = new Rng(options.seed ?? 1);
  for (const name of weights.names()) {
    if (!name.endsWith(".bias")) continue;
    const bias = weights.get(name).data;
    for (let i = 0; i < bias.length; i++) bias[i] = 0.1 * g.normal();
  }
  return new Model(config, weights, { backend, ...(options.maxBatchRows ? { maxBatchRows: options.maxBatchRows } : {}) });
}

/** An adapter whose B is random too (a fresh one has B = 0 and changes nothing). */
export function randomAdapter(config: Config, lora: Partial<LoraConfig> = {}, seed = 5): LoraAdapter {
  const adapter = LoraAdapter.create(config, lora, { seed });
  const g = new Rng(seed + 1000);
  for (const m of adapter.modules.values()) for (let i = 0; i < m.b.length; i++) m.b[i] = 0.05 * g.normal();
  return adapter;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

export function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

/** Logits at every position of `tokens` through a prefill (allLogits). */
export function allLogits(model: Model, tokens: readonly number[]): Float32Array {
  const out = new Float32Array(tokens.length * model.config.vocabSize);
  model.prefill(tokens, model.newCache(), { allLogits: out });
  return out;
}

export const TOKENS = [3, 17, 42, 5, 9, 63, 0, 21, 33, 8, 12, 50];
