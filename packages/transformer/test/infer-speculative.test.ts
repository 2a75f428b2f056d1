// Speculative decoding with real models (ModelSequence: one batched verify pass, KV rewind):
// greedy output is the target's own greedy output for any draft, on the js backend and on wasm
// with 1 and 2 threads, for GPT-2 and Llama; the target as its own draft accepts every draft
// (its one-token decode and the batched verify agree bit for bit); at temperature > 0 the
// emitted sequences follow the target's distribution (chi-square, fixed seed budget).
import {
  ModelDrafter, PromptLookupDrafter, Sampler, speculativeGenerate, type Drafter, type SamplerOptions,
} from "@zero-llm/sampling";
import { Rng, createWasmBackend, jsBackend, type Backend, type WasmBackend } from "@zero-llm/tensor";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Model, ModelSequence, TransformerError, Weights, generate, optionalWeightShapes, weightShapes, type Config } from "../src/index";
import { chi2Quantile999, pooledChiSquare } from "../../../tools/test-helpers/chi-square";

const GPT2: Config = {
  arch: "gpt2", dim: 48, hiddenDim: 96, nLayers: 2, nHeads: 4, nKvHeads: 4, vocabSize: 301, seqLen: 96,
  normEps: 1e-5, ropeTheta: 10000, ropeStyle: "interleaved", tiedEmbeddings: true,
};
const LLAMA: Config = {
  arch: "llama", dim: 48, hiddenDim: 70, nLayers: 2, nHeads: 6, nKvHeads: 2, vocabSize: 301, seqLen: 96,
  normEps: 1e-5, ropeTheta: 500, ropeStyle: "half", tiedEmbeddings: false,
};
// wide enough that the wasm backend splits its projections across 2 threads
const LLAMA_WIDE: Config = {
  arch: "llama", dim: 128, hiddenDim: 344, nLayers: 2, nHeads: 4, nKvHeads: 4, vocabSize: 1024, seqLen: 96,
  normEps: 1e-5, ropeTheta: 10000, ropeStyle: "interleaved", tiedEmbeddings: true,
};

/**
 * Every tensor seeded, biases too (gpt2 has them all); `sharpness` scales the matrices, so the
 * logits spread and greedy decoding does not sit on near-ties (and a sampled distribution is
 * far from uniform).
 */
function seededWeights(c: Config, backend: Backend, seed: number, sharpness = 2): Weights {
  const w = new Weights();
  const rng = new Rng(seed);
  const fill = (name: string, shape: readonly number[]): void => {
    const data = backend.allocF32(shape.reduce((a, b) => a * b, 1));
    const norm = name.endsWith("norm.weight");
    const scale = norm || name.endsWith(".bias") ? 0.2 : sharpness / Math.sqrt(shape[shape.length - 1]);
    for (let i = 0; i < data.length; i++) data[i] = (norm ? 1 : 0) + scale * (rng.uniform() - 0.5);
    w.set(name, shape, data);
  };
  for (const [name, shape] of weightShapes(c)) if (!(name === "lm_head.weight" && c.tiedEmbeddings)) fill(name, shape);
  if (c.tiedEmbeddings) w.set("lm_head.weight", [c.vocabSize, c.dim], w.get("model.embed_tokens.weight").data);
  if (c.arch === "gpt2") for (const [name, shape] of optionalWeightShapes(c)) fill(name, shape);
  return w;
}

/** A drafter that proposes random tokens: a useless draft must still give the exact output. */
class RandomDrafter implements Drafter {
  tokens = new Int32Array(64);
  readonly probs = null;
  private readonly rng: Rng;
  constructor(readonly vocabSize: number, seed: number) {
    this.rng = new Rng(seed);
  }
  propose(_sequence: readonly number[], max: number): number {
    const k = this.rng.int(max + 1);
    for (let i = 0; i < k; i++) this.tokens[i] = this.rng.int(this.vocabSize);
    return k;
  }
}

const PROMPT = [5, 17, 250, 3, 99, 42, 7, 7, 120, 33, 1, 64, 200];
const GREEDY = { temperature: 0, repetitionPenalty: 1.15 }; // the penalty makes every draft's history matter

describe.each([
  ["js", 0],
  ["wasm, 1 thread", 1],
  ["wasm, 2 threads", 2],
] as const)("greedy speculative decoding = the target alone, bit for bit (%s)", (_label, threads) => {
  let backend: Backend;
  let wasm: WasmBackend | undefined;
  beforeAll(async () => {
    wasm = threads > 0 ? await createWasmBackend({ threads }) : undefined;
    backend = wasm ?? jsBackend;
  });
  afterAll(async () => { await wasm?.dispose(); });

  for (const [name, config] of [["gpt2", GPT2], ["llama (GQA)", LLAMA], ["llama wide (threaded kernels)", LLAMA_WIDE]] as const) {
    it(name, () => {
      const target = new Model(config, seededWeights(config, backend, 7), { backend });
      const maxTokens = 60;
      const alone = [...generate(target, PROMPT, { maxTokens, sampler: new Sampler(GREEDY) })];
      expect(alone).toHaveLength(maxTokens);
      const other: Config = { ...config, dim: 32, hiddenDim: 64, nLayers: 1, nHeads: 2, nKvHeads: config.arch === "gpt2" ? 2 : 1 };
      const drafts: [string, () => Model | Drafter][] = [
        ["a different, smaller model", () => new Model(other, seededWeights(other, backend, 8), { backend })],
        ["the target's weights as the draft", () => new Model(config, target.weights, { backend })],
        ["random tokens", () => new RandomDrafter(config.vocabSize, 9)],
        ["prompt lookup (3-grams)", () => new PromptLookupDrafter(3)],
      ];
      for (const [label, draft] of drafts) {
        for (const draftMax of [1, 4, 16]) {
          const run = generate(target, PROMPT, { maxTokens, sampler: new Sampler(GREEDY), draft: draft(), draftMax });
          expect([...run], `${label}, draftMax ${draftMax}`).toEqual(alone);
          expect(run.stats.generatedTokens).toBe(maxTokens);
          expect(run.stats.stopReason).toBe("maxTokens");
          if (label === "the target's weights as the draft") {
            // its one-token decode gives the verify pass's bits: never a rejection
            expect(run.stats.draftTokens).toBeGreaterThan(0);
            expect(run.stats.acceptedDraftTokens, label).toBe(run.stats.draftTokens);
            expect(run.stats.targetPasses).toBe(Math.ceil(maxTokens / (draftMax + 1)));
          }
        }
      }
    });
  }
});

describe("ModelSequence: verify is one batched pass whose rows are one-token decoding's logits", () => {
  it("rows equal decode's bits, rewind drops positions, the cache is the model's", () => {
    const model = new Model(LLAMA, seededWeights(LLAMA, jsBackend, 3));
    const seq = new ModelSequence(model);
    expect([seq.vocabSize, seq.length, seq.capacity]).toEqual([301, 0, 96]);
    seq.prefill([1, 2, 3]);
    const rows = seq.verify([4, 5, 6]).slice();
    expect(seq.length).toBe(6);
    const cache = model.newCache();
    const V = LLAMA.vocabSize;
    [1, 2, 3].forEach((t) => model.decode(t, cache));
    [4, 5, 6].forEach((t, i) => {
      const bits = new Uint32Array(model.decode(t, cache).slice().buffer);
      expect(Array.from(new Uint32Array(rows.slice(i * V, (i + 1) * V).buffer)), `row ${i}`).toEqual(Array.from(bits));
    });
    seq.rewind(4);
    expect(seq.length).toBe(4);
    // the position rewound to is written again, with the same bits as before
    const again = seq.verify([5]);
    expect(Array.from(again)).toEqual(Array.from(rows.slice(V, 2 * V)));
  });
});

describe("sampled speculative decoding: the emitted sequences follow the target's distribution", () => {
  // a vocabulary of 5 and 3 new tokens: 125 sequences whose exact probabilities come from the target
  const TINY: Config = {
    arch: "llama", dim: 16, hiddenDim: 32, nLayers: 1, nHeads: 2, nKvHeads: 1, vocabSize: 5, seqLen: 32,
    normEps: 1e-5, ropeTheta: 10000, ropeStyle: "half", tiedEmbeddings: false,
  };
  const L = 3;
  const sampling: SamplerOptions = { temperature: 0.9, topP: 0.97, repetitionPenalty: 1.2 };
  const target = new Model(TINY, seededWeights(TINY, jsBackend, 11, 6));
  const prompt = [0, 1, 2, 0, 1];

  /** Exact probability of every sequence of L tokens, decoding each prefix with the target. */
  function exact(): Map<string, number> {
    const out = new Map<string, number>();
    const s = new Sampler(sampling);
    const walk = (tokens: number[], p: number): void => {
      if (tokens.length === prompt.length + L) return void out.set(tokens.slice(prompt.length).join(), p);
      const logits = target.prefill(tokens, target.newCache()).logits;
      const dist = s.probabilities(new Float64Array(TINY.vocabSize), logits, tokens);
      for (let t = 0; t < TINY.vocabSize; t++) if (dist[t] > 0) walk([...tokens, t], p * dist[t]);
    };
    walk(prompt, 1);
    return out;
  }

  const drafters: [string, (seed: number) => Drafter][] = [
    ["a sampled draft model", (seed) => new ModelDrafter(new ModelSequence(new Model(TINY, seededWeights(TINY, jsBackend, 12, 6))), { sampling: { temperature: 1.3, seed } })],
    ["a greedy draft model", () => new ModelDrafter(new ModelSequence(new Model(TINY, seededWeights(TINY, jsBackend, 13, 6))))],
    ["prompt lookup", () => new PromptLookupDrafter(2)],
  ];
  it.each(drafters)("%s: chi-square over all sequences below the 0.999 quantile", (_, makeDrafter) => {
    const want = exact();
    const runs = 6000;
    const counts = new Map<string, number>();
    let drafted = 0, accepted = 0;
    for (let seed = 0; seed < runs; seed++) {
      const run = speculativeGenerate(new ModelSequence(target), makeDrafter(seed + 1), prompt, { sampling: { ...sampling, seed }, maxTokens: L, draftMax: 3 });
      const key = [...run].join();
      counts.set(key, (counts.get(key) ?? 0) + 1);
      drafted += run.stats.draftTokens;
      accepted += run.stats.acceptedDraftTokens;
    }
    for (const key of counts.keys()) expect(want.has(key), `sequence ${key} has probability 0`).toBe(true);
    const { chi2, cells } = pooledChiSquare(want, counts, runs); // cells expected below 5 pooled into one
    expect(cells).toBeGreaterThan(15);
    expect(chi2).toBeLessThan(chi2Quantile999(cells - 1));
    expect(accepted).toBeGreaterThan(0);
    expect(accepted).toBeLessThan(drafted);
  });
});

describe("generate with a draft: checks before generation", () => {
  const target = new Model(LLAMA, seededWeights(LLAMA, jsBackend, 1));
  const codeOf = (f: () => unknown): string | undefined => {
    try {
      f();
    } catch (e) {
      return e instanceof TransformerError ? e.code : `not a TransformerError: ${String(e)}`;
    }
    return undefined;
  };

  it("a draft model of another vocabulary is refused by generate() itself, naming both sizes", () => {
    const other: Config = { ...LLAMA, vocabSize: 300 };
    const draft = new Model(other, seededWeights(other, jsBackend, 2));
    expect(() => generate(target, [1, 2], { draft })).toThrow(
      expect.objectContaining({ code: "VOCAB_MISMATCH", message: "draft model: expected the target's vocabulary of 301 tokens, found 300" }),
    );
  });

  it("a draft with a shorter context than the target's cache, a used cache, a custom sampler, draft options without a draft", () => {
    const short: Config = { ...LLAMA, seqLen: 32 };
    expect(() => generate(target, [1, 2], { draft: new Model(short, seededWeights(short, jsBackend, 2)) })).toThrow(/^draft model: KV cache capacity: expected ≤ 32/);
    const cache = target.newCache();
    target.prefill([1], cache);
    expect(codeOf(() => generate(target, [1, 2], { draft: new PromptLookupDrafter(2), cache }))).toBe("BAD_CACHE");
    expect(codeOf(() => generate(target, [1, 2], { draft: new PromptLookupDrafter(2), sampler: { sample: () => 0 } }))).toBe("BAD_CONFIG");
    expect(codeOf(() => generate(target, [1, 2], { draftMax: 4 }))).toBe("BAD_CONFIG");
  });

  it("the context rule: a prompt past the cache is CONTEXT_OVERFLOW; a full cache stops as without a draft (contextFull)", () => {
    const small = target.newCache({ capacity: 20 });
    expect(codeOf(() => generate(target, Array.from({ length: 21 }, (_, i) => i), { draft: new PromptLookupDrafter(2), cache: small }))).toBe("CONTEXT_OVERFLOW");
    for (const promptLength of [PROMPT.length, 19, 20]) {
      const prompt = Array.from({ length: promptLength }, (_, i) => PROMPT[i % PROMPT.length]);
      const plain = generate(target, prompt, { maxTokens: 50, cache: target.newCache({ capacity: 20 }) });
      const want = [...plain];
      const run = generate(target, prompt, { maxTokens: 50, cache: target.newCache({ capacity: 20 }), draft: new Model(LLAMA, target.weights), draftMax: 4 });
      expect([...run], `prompt of ${promptLength}`).toEqual(want);
      expect(run.stats.stopReason).toBe("contextFull");
      expect(plain.stats.stopReason).toBe("contextFull");
    }
  });

  it("stats: passes, drafts and timing fill in; the history holds prompt and output", () => {
    let clock = 0;
    const run = generate(target, PROMPT, { maxTokens: 30, draft: new Model(LLAMA, target.weights), draftMax: 4, now: () => (clock += 1) });
    const out = [...run];
    expect(run.history).toEqual([...PROMPT, ...out]);
    expect(run.stats).toMatchObject({ promptTokens: PROMPT.length, generatedTokens: 30, targetPasses: 6, draftTokens: 24, acceptedDraftTokens: 24, stopReason: "maxTokens" });
    expect(run.stats.promptMs).toBeGreaterThan(0);
    expect(run.stats.generateMs).toBeGreaterThan(0);
    expect(run.stats.timeToFirstTokenMs).toBeGreaterThan(0);
  });
});
