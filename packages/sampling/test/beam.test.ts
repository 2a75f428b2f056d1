import { describe, expect, it } from "vitest";
import { SamplingError, beamSearch, mostLikelyToken } from "../src/index";
import { MarkovTable, beamModel } from "./markov";

/** Every sequence of `length` tokens with its total log-probability, best first. */
function exhaustive(table: MarkovTable, length: number): { tokens: number[]; logprob: number }[] {
  let seqs: { tokens: number[]; logprob: number }[] = [{ tokens: [], logprob: 0 }];
  for (let l = 0; l < length; l++) {
    seqs = seqs.flatMap((s) => Array.from({ length: table.vocab }, (_, t) => ({ tokens: [...s.tokens, t], logprob: s.logprob + table.logprob(s.tokens, t) })));
  }
  return seqs.sort((a, b) => b.logprob - a.logprob);
}

describe("beamSearch", () => {
  it("with a beam as wide as every sequence it is exhaustive search: the same ranking", () => {
    const table = MarkovTable.random(3, 1);
    const all = exhaustive(table, 4); // 81 sequences
    const got = beamSearch(beamModel(table), { state: [], logits: table.start }, { width: 81, maxTokens: 4, lengthPenalty: 0 });
    // a Markov chain has exact ties (the same transitions in another order), so compare the
    // ranked log-probabilities and the set of sequences
    got.forEach((h, i) => expect(h.logprob).toBeCloseTo(all[i].logprob, 9));
    expect(new Set(got.map((h) => h.tokens.join()))).toEqual(new Set(all.map((s) => s.tokens.join())));
    expect(got[0].tokens).toEqual(all[0].tokens);
  });

  it("width 1 is greedy decoding", () => {
    const table = MarkovTable.random(20, 2);
    const greedy: number[] = [];
    for (let i = 0; i < 10; i++) greedy.push(mostLikelyToken(table.logitsAfter(greedy)));
    const [best] = beamSearch(beamModel(table), { state: [], logits: table.start }, { width: 1, maxTokens: 10 });
    expect(best.tokens).toEqual(greedy);
    expect(best.finished).toBe(false);
  });

  it("finds what greedy misses: a less likely first token with a much likelier continuation", () => {
    // start: token 0 (0.5) or 1 (0.4); after 0 everything is flat, after 1 token 2 has 0.9
    const table = MarkovTable.fromProbs(
      [[1 / 3, 1 / 3, 1 / 3], [0.05, 0.05, 0.9], [1 / 3, 1 / 3, 1 / 3]],
      [0.5, 0.4, 0.1],
    );
    const [best] = beamSearch(beamModel(table), { state: [], logits: table.start }, { width: 2, maxTokens: 2, lengthPenalty: 0 });
    expect(best.tokens).toEqual([1, 2]); // 0.36 against greedy's 0.5 · 1/3 = 0.167
    expect(best.logprob).toBeCloseTo(Math.log(0.36), 5);
  });

  it("EOS finishes a hypothesis; the length penalty decides between short and long", () => {
    // token 0 is EOS. start: EOS 0.5, token 1 0.5; after 1: EOS 0.6, token 1 0.4
    const table = MarkovTable.fromProbs([[1, 0, 0], [0.6, 0.4, 1e-9], [1, 0, 0]], [0.5, 0.5, 1e-9]);
    const run = (lengthPenalty: number) =>
      beamSearch(beamModel(table), { state: [], logits: table.start }, { width: 3, maxTokens: 6, eos: [0], lengthPenalty });
    // α = 0: [] scores ln 0.5 = −0.693, [1] scores ln 0.3 = −1.204
    const short = run(0);
    expect(short[0]).toEqual({ tokens: [], logprob: expect.closeTo(Math.log(0.5), 5), score: expect.closeTo(Math.log(0.5), 5), finished: true });
    // α = 1: lengths count the EOS: [] → −0.693 / 1, [1] → −1.204 / 2 = −0.602, [1, 1] → ln 0.12 / 3 = −0.707
    const long = run(1);
    expect(long.map((h) => h.tokens)).toEqual([[1], [], [1, 1]]);
    expect(long[0].score).toBeCloseTo(Math.log(0.3) / 2, 5);
  });

  it("with α = 0 and no early stopping, EOS hypotheses match exhaustive search over all endings", () => {
    const table = MarkovTable.random(4, 7, 1.5); // token 0 acts as EOS
    const model = beamModel(table);
    const got = beamSearch(model, { state: [], logits: table.start }, { width: 64, maxTokens: 3, eos: [0], lengthPenalty: 0 });
    // all hypotheses: sequences of non-EOS tokens followed by EOS (length ≤ 3), or 3 tokens cut off
    const all: { tokens: number[]; logprob: number }[] = [];
    const walk = (tokens: number[], logprob: number): void => {
      if (tokens.length < 3) all.push({ tokens, logprob: logprob + table.logprob(tokens, 0) });
      if (tokens.length === 3) {
        all.push({ tokens, logprob });
        return;
      }
      for (let t = 1; t < 4; t++) walk([...tokens, t], logprob + table.logprob(tokens, t));
    };
    walk([], 0);
    all.sort((a, b) => b.logprob - a.logprob);
    got.forEach((h, i) => expect(h.logprob).toBeCloseTo(all[i].logprob, 9));
    expect(got).toHaveLength(Math.min(64, all.length));
    for (const h of got) expect(all.some((a) => a.tokens.join() === h.tokens.join() && Math.abs(a.logprob - h.logprob) < 1e-9)).toBe(true);
    expect(model.forks).toBeGreaterThan(0);
  });

  it("rejects bad options", () => {
    const table = MarkovTable.random(3, 1);
    expect(() => beamSearch(beamModel(table), { state: [], logits: table.start }, { width: 0, maxTokens: 3 })).toThrow(SamplingError);
    expect(() => beamSearch(beamModel(table), { state: [], logits: table.start }, { width: 2, maxTokens: 0 })).toThrow(/maxTokens/);
  });
});
