// Exact speculative decoding, shown on Markov-table models: greedy output equals plain greedy
// decoding for any draft; sampled output follows the target's distribution (chi-square over all
// sequences of a small vocabulary, fixed seed budget).
import { Rng } from "@zero-llm/tensor";
import { describe, expect, it } from "vitest";
import {
  ModelDrafter, PromptLookupDrafter, Sampler, SamplingError, speculativeGenerate, type Drafter, type SamplerOptions,
} from "../src/index";
import { MarkovModel, MarkovTable } from "./markov";
import { chi2Quantile999, pooledChiSquare } from "../../../tools/test-helpers/chi-square";

/** Plain decoding with the target alone: sample, append, repeat. */
function plain(table: MarkovTable, prompt: number[], n: number, sampling: SamplerOptions, eos: number[] = []): number[] {
  const sampler = new Sampler(sampling);
  const tokens = [...prompt];
  const out: number[] = [];
  while (out.length < n) {
    const id = sampler.sample(table.logitsAfter(tokens), tokens);
    if (eos.includes(id)) break;
    tokens.push(id);
    out.push(id);
  }
  return out;
}

/** A drafter that proposes random tokens (a useless draft must still give the exact output). */
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

describe("speculative decoding, greedy: the output is plain greedy decoding's, for any draft", () => {
  const V = 50;
  const target = MarkovTable.random(V, 1, 1.2);
  const sampling = { temperature: 0, repetitionPenalty: 1.3, topK: 20 }; // the penalty makes the history matter
  const drafters: [string, () => Drafter][] = [
    ["a different, sampled draft model", () => new ModelDrafter(new MarkovModel(MarkovTable.random(V, 2, 1.2)), { sampling: { temperature: 1, seed: 3 } })],
    ["the target as its own draft", () => new ModelDrafter(new MarkovModel(target))],
    ["prompt lookup (3-grams)", () => new PromptLookupDrafter(3)],
    ["random tokens", () => new RandomDrafter(V, 4)],
  ];
  it.each(drafters)("%s", (_, makeDrafter) => {
    for (let seed = 0; seed < 12; seed++) {
      const prompt = Array.from({ length: 1 + (seed % 5) }, (_, i) => (seed * 7 + i * 3) % V);
      const want = plain(target, prompt, 60, sampling);
      const model = new MarkovModel(target);
      const run = speculativeGenerate(model, makeDrafter(), prompt, { sampling, maxTokens: 60, draftMax: 1 + (seed % 8) });
      expect([...run], `seed ${seed}`).toEqual(want);
      expect(run.stats.generatedTokens).toBe(60);
      expect(run.stats.targetPasses).toBe(model.passes);
      expect(run.stats.targetPasses).toBeLessThanOrEqual(60);
    }
  });

  it("the target as its own draft: every draft token is accepted, draftMax + 1 tokens per pass", () => {
    const model = new MarkovModel(target);
    // the draft must sample as the target does (same penalty) for its proposals to be the target's
    const run = speculativeGenerate(model, new ModelDrafter(new MarkovModel(target), { sampling }), [1, 2], { sampling, maxTokens: 40, draftMax: 7 });
    for (const _ of run);
    expect(run.stats.acceptedDraftTokens).toBe(run.stats.draftTokens);
    expect(run.stats.targetPasses).toBe(5); // 40 tokens, 8 per pass
  });
});

describe("speculative decoding, sampled: the emitted tokens follow the target's distribution", () => {
  const V = 4, L = 3;
  const target = MarkovTable.random(V, 11, 1.5);
  const sampling: SamplerOptions = { temperature: 0.9, topK: 3, topP: 0.97, repetitionPenalty: 1.3 };

  /** Exact probability of every sequence of L tokens after the prompt, under the target sampler's chain. */
  function exact(prompt: number[]): Map<string, number> {
    const probs = new Map<string, number>();
    const s = new Sampler(sampling);
    const walk = (tokens: number[], p: number): void => {
      if (tokens.length === prompt.length + L) {
        probs.set(tokens.slice(prompt.length).join(), p);
        return;
      }
      const dist = s.probabilities(new Float64Array(V), target.logitsAfter(tokens), tokens);
      for (let t = 0; t < V; t++) if (dist[t] > 0) walk([...tokens, t], p * dist[t]);
    };
    walk(prompt, 1);
    return probs;
  }

  const drafters: [string, (seed: number) => Drafter][] = [
    ["a sampled draft model (q from its own sampler)", (seed) => new ModelDrafter(new MarkovModel(MarkovTable.random(V, 12, 1.5)), { sampling: { temperature: 1.2, seed } })],
    ["a greedy draft model (certain proposals)", () => new ModelDrafter(new MarkovModel(MarkovTable.random(V, 13, 1.5)))],
    ["prompt lookup", () => new PromptLookupDrafter(2)],
  ];
  it.each(drafters)("%s: chi-square over all sequences below the 0.999 quantile", (_, makeDrafter) => {
    const prompt = [0, 1, 2, 0, 1];
    const want = exact(prompt);
    const runs = 12_000;
    const counts = new Map<string, number>();
    let drafted = 0, accepted = 0;
    for (let seed = 0; seed < runs; seed++) {
      const run = speculativeGenerate(new MarkovModel(target), makeDrafter(seed + 1), prompt, { sampling: { ...sampling, seed }, maxTokens: L, draftMax: 3 });
      const key = [...run].join();
      counts.set(key, (counts.get(key) ?? 0) + 1);
      drafted += run.stats.draftTokens;
      accepted += run.stats.acceptedDraftTokens;
    }
    for (const key of counts.keys()) expect(want.has(key), `sequence ${key} has probability 0`).toBe(true);
    const { chi2, cells } = pooledChiSquare(want, counts, runs); // cells expected below 5 pooled into one
    expect(chi2).toBeLessThan(chi2Quantile999(cells - 1));
    expect(drafted).toBeGreaterThan(0);
    expect(accepted).toBeGreaterThan(0);
    expect(accepted).toBeLessThan(drafted);
  }, 300_000);
});

describe("speculative decoding: stops, limits and checks", () => {
  const V = 30;
  const target = MarkovTable.random(V, 21, 1);

  it("EOS ends generation (not yielded), even in the middle of accepted drafts; maxTokens is exact", () => {
    const eos = [plain(target, [3], 5, { temperature: 0 })[3]];
    const want = plain(target, [3], 100, { temperature: 0 }, eos);
    const run = speculativeGenerate(new MarkovModel(target), new ModelDrafter(new MarkovModel(target)), [3], { eos, maxTokens: 100, draftMax: 8 });
    expect([...run]).toEqual(want);
    expect(run.stats.stopReason).toBe("eos");
    const capped = speculativeGenerate(new MarkovModel(target), new ModelDrafter(new MarkovModel(target)), [3], { maxTokens: 7, draftMax: 5 });
    expect([...capped]).toEqual(plain(target, [3], 7, { temperature: 0 }));
    expect(capped.stats.stopReason).toBe("maxTokens");
  });

  it("never overfills the target's cache: drafts shrink near the end of the context, then contextFull", () => {
    const model = new MarkovModel(target, 20); // throws if it ever holds more than 20 positions
    const run = speculativeGenerate(model, new ModelDrafter(new MarkovModel(target, 20)), [1, 2, 3], { maxTokens: 100, draftMax: 6 });
    const out = [...run];
    // capacity + 1 tokens in all, as generate() does: the last token is never fed to the cache
    expect(out).toEqual(plain(target, [1, 2, 3], 18, { temperature: 0 }));
    expect(run.stats.stopReason).toBe("contextFull");
  });

  it("draftMin: shorter proposals are not verified", () => {
    const run = speculativeGenerate(new MarkovModel(target), new PromptLookupDrafter(2), [1, 2, 3, 4], { maxTokens: 20, draftMin: 50, draftMax: 60 });
    for (const _ of run);
    expect(run.stats.draftTokens).toBe(0);
    expect(run.stats.targetPasses).toBe(20);
  });

  it("pMin: a draft model stops drafting at the first token it gives less than pMin (temperature 1, its own logits)", () => {
    const table = MarkovTable.random(V, 41, 4);
    const softmaxP = (row: Float32Array, id: number): number => {
      const max = Math.max(...row);
      return Math.exp(row[id] - max) / row.reduce((sum, v) => sum + Math.exp(v - max), 0);
    };
    const seen = new Set<number>();
    for (const pMin of [0.05, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8]) {
      for (let start = 0; start < V; start++) {
        // greedy drafts from `start`: count them until one is below pMin
        let expected = 0, last = start;
        while (expected < 8) {
          const row = table.rows[last];
          const d = row.indexOf(Math.max(...row));
          if (softmaxP(row, d) < pMin) break;
          expected++;
          last = d;
        }
        const drafter = new ModelDrafter(new MarkovModel(table), { pMin });
        expect(drafter.propose([start], 8), `pMin ${pMin}, from ${start}`).toBe(expected);
        seen.add(expected);
      }
    }
    expect(seen.size, "draft lengths seen").toBeGreaterThan(3); // the threshold decides, not the cap
  });

  it("prompt lookup proposes what followed the latest earlier occurrence of the last n-gram", () => {
    const d = new PromptLookupDrafter(3);
    expect(d.propose([5, 6, 7, 8, 9, 5, 6, 7], 4)).toBe(4); // [5 6 7] was followed by 8 9 5 6
    expect(Array.from(d.tokens.subarray(0, 4))).toEqual([8, 9, 5, 6]);
    expect(d.propose([1, 2, 3, 9, 2, 3, 4, 2, 3], 2)).toBe(2); // the latest [2 3] was followed by 4 2
    expect(Array.from(d.tokens.subarray(0, 2))).toEqual([4, 2]);
    expect(d.propose([1, 2, 3, 4], 3)).toBe(0); // nothing repeats
    expect(new PromptLookupDrafter(3).propose([7, 1, 2, 7], 3)).toBe(3); // falls back to the 1-gram [7]
  });

  it("a draft with another vocabulary is refused before generation; bad options and prompts are typed errors", () => {
    const draft = new ModelDrafter(new MarkovModel(MarkovTable.random(V + 1, 1)));
    expect(() => speculativeGenerate(new MarkovModel(target), draft, [1])).toThrow(
      expect.objectContaining({ code: "SAMPLING_VOCAB_MISMATCH", message: `draft model: expected the target's vocabulary of ${V} tokens, found ${V + 1}` }),
    );
    expect(() => speculativeGenerate(new MarkovModel(target), new PromptLookupDrafter(2), [])).toThrow(SamplingError);
    expect(() => speculativeGenerate(new MarkovModel(target), new PromptLookupDrafter(2), [V])).toThrow(/expected token ids in \[0, 30\), found 30/);
    expect(() => speculativeGenerate(new MarkovModel(target), new PromptLookupDrafter(2), [1], { draftMax: -1 })).toThrow(/draftMax/);
    expect(() => new PromptLookupDrafter(0)).toThrow(/n-gram size/);
    expect(() => speculativeGenerate(new MarkovModel(target), new PromptLookupDrafter(2), [1], { sampling: { xtcProbability: 0.5 } })).toThrow(
      /sampling: expected settings whose distribution depends on the logits only \(no XTC, no Mirostat\) for speculative decoding, found xtcProbability 0.5/,
    );
    expect(() => new ModelDrafter(new MarkovModel(target), { sampling: { mirostat: 2 } })).toThrow(/draft sampling: .* found mirostat 2/);
  });
});
