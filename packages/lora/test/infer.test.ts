import { createWasmBackend, type WasmBackend } from "@zero-llm/tensor";
import { Model, Weights, halfToInterleaved, headDimOf } from "@zero-llm/transformer";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LoraAdapter, LoraModel, mergeAdapters, mergedWeights, unmergeAdapters, withAdapters } from "../src/index";
import { TOKENS, allLogits, maxAbs, maxAbsDiff, randomAdapter, tinyConfig, tinyModel } from "./helpers";

/**
 * Inference with adapters: the LoraModel (base + Σ scale·B·A per row) against the base model
 * (B = 0) and against a model whose weights have the adapters merged into them.
 */

const FAMILIES = [
  ["llama (HF half RoPE order)", tinyConfig("llama")],
  ["llama (interleaved RoPE order, as from GGUF)", tinyConfig("llama", { ropeStyle: "interleaved" })],
  ["gpt2 (fused c_attn)", tinyConfig("gpt2")],
] as const;

describe.each(FAMILIES)("%s", (_name, config) => {
  const base = tinyModel(config);
  const baseLogits = allLogits(base, TOKENS);
  const snapshot = new Map(base.weights.names().map((n) => [n, base.weights.linear(n) ? null : base.weights.get(n).data.slice()]));

  it("B = 0 (a fresh adapter on every linear module) leaves every logit unchanged, bit for bit", () => {
    const fresh = LoraAdapter.create(config, { targetModules: "all-linear", r: 4 });
    const model = withAdapters(base, [{ adapter: fresh }]);
    expect(allLogits(model, TOKENS)).toEqual(baseLogits);
    const cache = model.newCache();
    for (const [p, t] of TOKENS.entries()) expect(model.decode(t, cache)).toEqual(baseLogits.subarray(p * config.vocabSize, (p + 1) * config.vocabSize));
  });

  it("runs the adapters as the merged model does (within float32 rounding), and at scale 0 as the base", () => {
    const adapter = randomAdapter(config, { targetModules: "all-linear", r: 4, alpha: 8 });
    const ours = allLogits(withAdapters(base, [{ adapter }]), TOKENS);
    const merged = allLogits(new Model(config, mergedWeights(base, [{ adapter }])), TOKENS);
    expect(maxAbsDiff(ours, baseLogits)).toBeGreaterThan(1e-2); // the adapter does something
    expect(maxAbsDiff(ours, merged)).toBeLessThan(2e-5 * maxAbs(merged));
    expect(allLogits(withAdapters(base, [{ adapter, scale: 0 }]), TOKENS)).toEqual(baseLogits);
  });

  it("two adapters with scales are the sum of their updates (merged together)", () => {
    const a = randomAdapter(config, { r: 2, useRslora: true }, 11);
    const b = randomAdapter(config, { targetModules: config.arch === "llama" ? ["o_proj", "down_proj"] : ["c_fc"], r: 3 }, 12);
    const uses = [{ adapter: a, scale: 0.7 }, { adapter: b, scale: -1.5 }];
    const ours = allLogits(withAdapters(base, uses), TOKENS);
    const merged = allLogits(new Model(config, mergedWeights(base, uses)), TOKENS);
    expect(maxAbsDiff(ours, merged)).toBeLessThan(2e-5 * maxAbs(merged));
  });

  it("merge then unmerge in place restores the base weights within float32 rounding", () => {
    const adapter = randomAdapter(config, { targetModules: "all-linear", r: 8, alpha: 32 });
    const copy = tinyModel(config);
    const before = new Map(copy.weights.names().map((n) => [n, copy.weights.get(n).data.slice()]));
    mergeAdapters(copy.weights, config, [{ adapter, scale: 2 }]);
    const changed = [...before].filter(([n, w]) => maxAbsDiff(copy.weights.get(n).data, w) > 0).length;
    expect(changed).toBe(config.nLayers * (config.arch === "llama" ? 7 : 6)); // gpt2: c_attn is q, k and v
    unmergeAdapters(copy.weights, config, [{ adapter, scale: 2 }]);
    for (const [n, w] of before) expect(maxAbsDiff(copy.weights.get(n).data, w), n).toBeLessThan(1e-6);
    expect(allLogits(copy, TOKENS).every((v, i) => Math.abs(v - baseLogits[i]) < 1e-5)).toBe(true);
  });

  it("switches adapters per sequence: one batched decode, three sets, each row as if alone", () => {
    const a = randomAdapter(config, { r: 4 }, 21);
    const b = randomAdapter(config, { targetModules: "all-linear", r: 2 }, 22);
    const model = new LoraModel(base);
    const sets = [model.adapterSet([{ adapter: a }]), model.adapterSet([{ adapter: b, scale: 0.5 }]), model.adapterSet([])];
    const caches = sets.map((set) => {
      const cache = model.newCache();
      model.useAdapters(cache, set);
      model.prefill(TOKENS.slice(0, 5), cache);
      return cache;
    });
    const batched = model.decodeBatch([7, 8, 9], caches).slice();
    const alone = [[{ adapter: a }], [{ adapter: b, scale: 0.5 }], []].map((uses, r) => {
      const single = withAdapters(base, uses);
      const cache = single.newCache();
      single.prefill(TOKENS.slice(0, 5), cache);
      return single.decode([7, 8, 9][r], cache).slice();
    });
    alone.forEach((row, r) => expect(batched.subarray(r * config.vocabSize, (r + 1) * config.vocabSize)).toEqual(row));
    // logitRows: the lm_head of the listed rows only, each row still under its own adapters
    for (const cache of caches) cache.truncate(5);
    const picked = model.decodeBatch([7, 8, 9], caches, undefined, [1, 2]).slice();
    expect(picked.length).toBe(2 * config.vocabSize);
    expect(picked.subarray(0, config.vocabSize)).toEqual(alone[1]);
    expect(picked.subarray(config.vocabSize)).toEqual(alone[2]);
    expect(alone[2]).toEqual((() => {
      const cache = base.newCache();
      base.prefill(TOKENS.slice(0, 5), cache);
      return base.decode(9, cache).slice();
    })());
  });

  it("never writes to the base weights", () => {
    for (const [n, w] of snapshot) if (w) expect(base.weights.get(n).data, n).toEqual(w);
  });
});

describe("RoPE order", () => {
  it("an adapter (Hugging Face q/k row order) gives the same logits on the base in half and in interleaved order", () => {
    const half = tinyConfig("llama");
    const base = tinyModel(half);
    // the same model with its q/k rows in interleaved order, as a GGUF file holds it
    const interleaved = { ...half, ropeStyle: "interleaved" as const };
    const weights = new Weights();
    for (const name of base.weights.names()) {
      const { shape, data } = base.weights.get(name);
      const heads = name.endsWith("q_proj.weight") ? half.nHeads : name.endsWith("k_proj.weight") ? half.nKvHeads : 0;
      weights.set(name, shape, heads > 0 ? halfToInterleaved(data, heads, headDimOf(half), half.dim) : data);
    }
    const other = new Model(interleaved, weights);
    expect(maxAbsDiff(allLogits(other, TOKENS), allLogits(base, TOKENS))).toBeLessThan(1e-4);
    const adapter = randomAdapter(half, { targetModules: ["q_proj", "k_proj"], r: 4 });
    const a = allLogits(withAdapters(base, [{ adapter }]), TOKENS);
    expect(maxAbsDiff(a, allLogits(base, TOKENS))).toBeGreaterThan(1e-2);
    expect(maxAbsDiff(allLogits(withAdapters(other, [{ adapter }]), TOKENS), a)).toBeLessThan(1e-4);
  });
});

describe("wasm backend: adapters keep decode, prefill and batched decode bit-identical", () => {
  let wasm: WasmBackend;
  beforeAll(async () => {
    wasm = await createWasmBackend({ threads: 2 });
  });
  afterAll(() => wasm.dispose());

  it("the same logits bits whichever path a token takes", () => {
    const config = tinyConfig("llama", { dim: 64, hiddenDim: 128, nHeads: 4, nKvHeads: 2 });
    const base = tinyModel(config, { backend: wasm });
    const adapter = randomAdapter(config, { targetModules: "all-linear", r: 8 });
    const model = withAdapters(base, [{ adapter }]);
    const prefilled = allLogits(model, TOKENS);
    const cache = model.newCache();
    for (const [p, t] of TOKENS.entries()) expect(model.decode(t, cache)).toEqual(prefilled.subarray(p * config.vocabSize, (p + 1) * config.vocabSize));
    const caches = [model.newCache(), model.newCache()];
    model.prefill(TOKENS.slice(0, 3), caches[0]);
    model.prefill(TOKENS.slice(0, 3), caches[1]);
    const rows = model.decodeBatch([TOKENS[3], TOKENS[3]], caches);
    const row = prefilled.subarray(3 * config.vocabSize, 4 * config.vocabSize);
    expect(rows.subarray(0, config.vocabSize)).toEqual(row);
    expect(rows.subarray(config.vocabSize)).toEqual(row);
  });
});
