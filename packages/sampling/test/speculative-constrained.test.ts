// Speculative decoding under a constraint is exact too: greedy output equals plain constrained
// greedy decoding for any draft, and sampled output follows plain constrained decoding's
// distribution (chi-square over every possible output, stop reasons included). Markov-table
// models over a vocabulary of byte strings, so the constraint has text to work on.
import { Rng } from "@zero-llm/tensor";
import { describe, expect, it } from "vitest";
import {
  ModelDrafter, PromptLookupDrafter, Sampler, compileConstraint, speculativeGenerate,
  type Constraint, type ConstrainedPosition, type Drafter, type SamplerOptions, type TokenVocabulary,
} from "../src/index";
import { MarkovModel, MarkovTable } from "./markov";
import { chi2Quantile999, pooledChiSquare } from "../../../tools/test-helpers/chi-square";

const utf8 = new TextEncoder();
/** EOS is id 0 (no text); then one token per piece. */
function vocabOf(pieces: string[]): TokenVocabulary {
  return { tokens: [null, ...pieces.map((p) => utf8.encode(p))], eos: [0] };
}

interface Outcome {
  tokens: number[];
  stop: "eos" | "grammar" | "maxTokens";
}

/** Plain constrained decoding with the target alone: mask → sample → accept, stop on EOS, completion or the budget. */
function plainConstrained(table: MarkovTable, constraint: Constraint, prompt: number[], n: number, sampling: SamplerOptions, eos: number[]): Outcome {
  const sampler = new Sampler(sampling);
  const state = constraint.initialState();
  const mask = constraint.createMask();
  const tokens = [...prompt];
  const out: number[] = [];
  for (;;) {
    if (constraint.isComplete(state)) return { tokens: out, stop: "grammar" };
    if (out.length >= n) return { tokens: out, stop: "maxTokens" };
    constraint.mask(state, mask);
    const id = sampler.sample(table.logitsAfter(tokens), tokens, mask);
    constraint.accept(state, id);
    if (eos.includes(id)) return { tokens: out, stop: "eos" };
    tokens.push(id);
    out.push(id);
  }
}

/** A drafter that proposes random tokens, most of which the constraint forbids. */
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

/** A drafter that draws from a fixed random distribution per position, ignoring the constraint (q ≠ null, many drafts forbidden). */
class UnconstrainedSampledDrafter implements Drafter {
  tokens = new Int32Array(64);
  probs: Float64Array;
  private readonly rng: Rng;
  constructor(readonly vocabSize: number, seed: number) {
    this.rng = new Rng(seed);
    this.probs = new Float64Array(64 * vocabSize);
  }
  propose(_sequence: readonly number[], max: number): number {
    const V = this.vocabSize;
    const k = Math.min(max, 3);
    for (let i = 0; i < k; i++) {
      const q = this.probs.subarray(i * V, (i + 1) * V);
      let total = 0;
      for (let x = 0; x < V; x++) total += q[x] = 0.2 + this.rng.uniform();
      for (let x = 0; x < V; x++) q[x] /= total;
      let u = this.rng.uniform(), pick = 0;
      while (pick < V - 1 && (u -= q[pick]) >= 0) pick++;
      this.tokens[i] = pick;
    }
    return k;
  }
}

describe("speculative decoding under a constraint, greedy: plain constrained greedy decoding's output", () => {
  const pieces = ["{", "}", '"', ":", ",", " ", "a", "b", "ab", "1", "2", "12", '{"', '":', '",', "true", "false", "null", "[", "]"];
  const vocab = vocabOf(pieces);
  const V = vocab.tokens.length;
  const target = MarkovTable.random(V, 5, 1.5);
  const constraint = compileConstraint({
    type: "json",
    schema: { type: "object", properties: { a: { type: "array", items: { type: "integer" }, maxItems: 4 }, b: { enum: [true, null, "ab"] } }, required: ["a", "b"] },
  }, vocab);
  const sampling = { temperature: 0, repetitionPenalty: 1.2 };
  const drafters: [string, () => Drafter][] = [
    ["a different, sampled draft model", () => new ModelDrafter(new MarkovModel(MarkovTable.random(V, 6, 1.5)), { sampling: { temperature: 1, seed: 3 } })],
    ["the target as its own draft", () => new ModelDrafter(new MarkovModel(target), { sampling })],
    ["prompt lookup (2-grams)", () => new PromptLookupDrafter(2)],
    ["random tokens", () => new RandomDrafter(V, 4)],
    ["an unconstrained sampled drafter", () => new UnconstrainedSampledDrafter(V, 8)],
  ];
  it.each(drafters)("%s", (_, makeDrafter) => {
    let grammarStops = 0;
    for (let seed = 0; seed < 10; seed++) {
      const prompt = Array.from({ length: 2 + (seed % 4) }, (_, i) => 1 + ((seed * 7 + i * 3) % (V - 1)));
      const want = plainConstrained(target, constraint, prompt, 80, sampling, [0]);
      const run = speculativeGenerate(new MarkovModel(target), makeDrafter(), prompt, { sampling, maxTokens: 80, draftMax: 1 + (seed % 6), eos: [0], constraint });
      expect([...run], `seed ${seed}`).toEqual(want.tokens);
      expect(run.stats.stopReason).toBe(want.stop);
      if (want.stop === "grammar") {
        grammarStops++;
        const text = want.tokens.map((t) => pieces[t - 1]).join("");
        expect(() => JSON.parse(text), text).not.toThrow();
      }
    }
    expect(grammarStops).toBeGreaterThan(0);
  });

  it("the target as its own draft accepts every draft, also under the constraint", () => {
    const run = speculativeGenerate(new MarkovModel(target), new ModelDrafter(new MarkovModel(target), { sampling }), [3], { sampling, maxTokens: 80, draftMax: 6, eos: [0], constraint });
    for (const _ of run);
    expect(run.stats.draftTokens).toBeGreaterThan(0);
    expect(run.stats.acceptedDraftTokens).toBe(run.stats.draftTokens);
  });

  it("prompt lookup proposals are cut before the first forbidden token; drafters leave the state as they found it", () => {
    // the prompt ' ', '{"', 'a', '":', '[', ',', ' ': the last token was followed by
    // '{"' 'a' '":' '[' ',' earlier, and the output may begin {"a":[ but not {"a":[,
    const prompt = [6, 13, 7, 14, 19, 5, 6];
    const lengths: number[] = [];
    const model = new MarkovModel(target);
    const verify = model.verify.bind(model);
    model.verify = (tokens) => {
      lengths.push(tokens.length);
      return verify(tokens);
    };
    const run = speculativeGenerate(model, new PromptLookupDrafter(1), prompt, { sampling, maxTokens: 20, draftMax: 10, eos: [0], constraint });
    for (const _ of run) break;
    expect(lengths[0]).toBe(1 + 4);

    const state = constraint.initialState();
    constraint.accept(state, 13);
    const at: ConstrainedPosition = { constraint, state };
    const lookup: Drafter = new PromptLookupDrafter(1); // ignores the constraint: the decoder cuts its proposals
    expect(lookup.propose(prompt, 6, at)).toBe(6);
    expect(state.length).toBe(1);
    const draft = new ModelDrafter(new MarkovModel(target), { sampling });
    const k = draft.propose([3, 13], 5, at);
    expect(k).toBe(5);
    expect(state.length).toBe(1);
    // every draft of a constrained draft model is allowed, one after the other
    for (let i = 0; i < k; i++) {
      expect(constraint.allows(state, draft.tokens[i]), `draft ${i}`).toBe(true);
      constraint.accept(state, draft.tokens[i]);
    }
  });
});

describe("speculative decoding under a constraint, sampled: the outputs follow plain constrained decoding's distribution", () => {
  // EOS 0, "a" 1, "b" 2, "ab" 3, "c" 4: the output matches [ab]{1,4}, so "c" is never allowed,
  // EOS is allowed after the first character, and after four characters the output is complete
  const vocab = vocabOf(["a", "b", "ab", "c"]);
  const V = vocab.tokens.length;
  const constraint = compileConstraint({ type: "regex", pattern: "[ab]{1,4}" }, vocab);
  const target = MarkovTable.random(V, 31, 1.2);
  const L = 3;
  const sampling: SamplerOptions = { temperature: 0.9, topP: 0.97, repetitionPenalty: 1.2 };

  /** Exact probability of every outcome (tokens and stop reason) of plain constrained decoding. */
  function exact(prompt: number[]): Map<string, number> {
    const out = new Map<string, number>();
    const s = new Sampler(sampling);
    const mask = constraint.createMask();
    const walk = (tokens: number[], state: ReturnType<Constraint["initialState"]>, p: number): void => {
      const n = tokens.length - prompt.length;
      const key = (stop: string): string => `${tokens.slice(prompt.length).join()}|${stop}`;
      if (constraint.isComplete(state)) return void out.set(key("grammar"), p);
      if (n === L) return void out.set(key("maxTokens"), p);
      constraint.mask(state, mask);
      const dist = s.probabilities(new Float64Array(V), target.logitsAfter(tokens), tokens, mask);
      for (let t = 0; t < V; t++) {
        if (dist[t] === 0) continue;
        if (t === 0) {
          out.set(key("eos"), (out.get(key("eos")) ?? 0) + p * dist[t]);
          continue;
        }
        const next = constraint.clone(state);
        constraint.accept(next, t);
        walk([...tokens, t], next, p * dist[t]);
      }
    };
    walk(prompt, constraint.initialState(), 1);
    return out;
  }

  const drafters: [string, (seed: number) => Drafter][] = [
    ["a sampled draft model (q masked by the constraint)", (seed) => new ModelDrafter(new MarkovModel(MarkovTable.random(V, 32, 1.2)), { sampling: { temperature: 1.3, seed } })],
    ["a greedy draft model", () => new ModelDrafter(new MarkovModel(MarkovTable.random(V, 33, 1.2)))],
    ["prompt lookup", () => new PromptLookupDrafter(2)],
    ["an unconstrained sampled drafter (many drafts forbidden)", (seed) => new UnconstrainedSampledDrafter(V, seed)],
  ];
  it.each(drafters)("%s: chi-square over all outcomes below the 0.999 quantile", (_, makeDrafter) => {
    const prompt = [1, 2, 3, 1, 2];
    const want = exact(prompt);
    expect([...want.values()].reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    const runs = 10_000;
    const counts = new Map<string, number>();
    let drafted = 0, accepted = 0;
    for (let seed = 0; seed < runs; seed++) {
      const run = speculativeGenerate(new MarkovModel(target), makeDrafter(seed + 1), prompt, {
        sampling: { ...sampling, seed }, maxTokens: L, draftMax: 3, eos: [0], constraint,
      });
      const key = `${[...run].join()}|${run.stats.stopReason}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
      drafted += run.stats.draftTokens;
      accepted += run.stats.acceptedDraftTokens;
    }
    for (const key of counts.keys()) expect(want.has(key), `outcome ${key} has probability 0`).toBe(true);
    const { chi2, cells } = pooledChiSquare(want, counts, runs); // cells expected below 5 pooled into one
    expect(cells).toBeGreaterThan(10);
    expect(chi2).toBeLessThan(chi2Quantile999(cells - 1));
    expect(drafted).toBeGreaterThan(0);
    expect(accepted).toBeGreaterThan(0);
  }, 120_000);
});

describe("speculative decoding under a constraint: checks", () => {
  it("a constraint compiled for another vocabulary is refused before generation", () => {
    const vocab = vocabOf(["a", "b"]);
    const constraint = compileConstraint({ type: "regex", pattern: "a+" }, vocab);
    const target = new MarkovModel(MarkovTable.random(5, 1));
    expect(() => speculativeGenerate(target, new PromptLookupDrafter(2), [1], { constraint })).toThrow(
      expect.objectContaining({ code: "SAMPLING_VOCAB_MISMATCH", message: "constraint: expected one compiled for the target's vocabulary of 5 tokens, found one for 3" }),
    );
  });

  it("a constraint only the empty output satisfies ends at once with stop reason grammar", () => {
    const vocab = vocabOf(["a", "b"]);
    const constraint = compileConstraint({ type: "regex", pattern: "" }, vocab);
    const run = speculativeGenerate(new MarkovModel(MarkovTable.random(3, 1)), new PromptLookupDrafter(2), [1, 2], { constraint });
    expect([...run]).toEqual([]);
    expect(run.stats.stopReason).toBe("grammar");
  });
});
