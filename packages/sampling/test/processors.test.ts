import { Rng } from "@zero-llm/tensor";
import { describe, expect, it } from "vitest";
import {
  SamplingError, logitBias, logitsToProbs, minP, mostLikelyToken, penalties, repetitionPenalty, temperature, tokenMask, topK, topP, typicalP, xtc,
} from "../src/index";

const kept = (row: Float32Array): number[] =>
  Array.from(row).flatMap((v, i) => (v === -Infinity ? [] : [i]));

describe("logits processors", () => {
  it("mostLikelyToken returns the first of equal maxima", () => {
    expect(mostLikelyToken([1, 5, 3, 5])).toBe(1);
  });

  it("logitsToProbs matches exp(x)/Σexp(x) and survives large logits", () => {
    const p = logitsToProbs(new Float32Array(3), [1000, 1001, 1002]);
    const e = [Math.exp(-2), Math.exp(-1), 1];
    const z = e[0] + e[1] + e[2];
    e.forEach((v, i) => expect(p[i]).toBeCloseTo(v / z, 7));
  });

  it("temperature divides the logits", () => {
    const row = new Float32Array([2, -4, 1]);
    temperature(0.5)(row, []);
    expect(Array.from(row)).toEqual([4, -8, 2]);
  });

  it("top-k keeps exactly the k largest (as llama.cpp; ties at the k-th: lower ids first)", () => {
    const row = new Float32Array([0.1, 3, -1, 2, 2.5, 0]);
    topK(3)(row, []);
    expect(kept(row)).toEqual([1, 3, 4]);
    const tied = new Float32Array([1, 2, 2, 0]);
    topK(2)(tied, []);
    expect(kept(tied)).toEqual([1, 2]);
    const tiedThird = new Float32Array([3, 2, 2, 0, 2]);
    topK(2)(tiedThird, []);
    expect(kept(tiedThird)).toEqual([0, 1]);
    const allTied = new Float32Array(10);
    topK(4)(allTied, []);
    expect(kept(allTied)).toEqual([0, 1, 2, 3]);
  });

  it("top-p keeps the smallest prefix whose mass reaches p", () => {
    // probabilities 0.5, 0.25, 0.15, 0.1 (as logits ln p)
    const probs = [0.1, 0.5, 0.15, 0.25];
    const row = (): Float32Array => new Float32Array(probs.map(Math.log));
    const cases: [number, number[]][] = [
      [0.4, [1]], // 0.5 ≥ 0.4
      [0.5, [1]], // exactly reached
      [0.6, [1, 3]], // 0.75
      [0.8, [1, 2, 3]], // 0.9
      [0.95, [0, 1, 2, 3]],
    ];
    for (const [p, expected] of cases) {
      const r = row();
      topP(p)(r, []);
      expect(kept(r), `p = ${p}`).toEqual(expected);
    }
  });

  it("top-p on a flat row: ties go to the lower ids", () => {
    const r = new Float32Array(1000);
    topP(0.0105)(r, []);
    // each token holds 0.001: 11 tokens reach 0.011 ≥ 0.0105, lowest ids first on ties
    expect(kept(r)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  it("min-p keeps tokens with probability ≥ p × max probability", () => {
    const probs = [0.5, 0.2, 0.05, 0.25];
    const r = new Float32Array(probs.map(Math.log));
    minP(0.3)(r, []); // threshold 0.15
    expect(kept(r)).toEqual([0, 1, 3]);
  });

  it("repetition penalty divides positive and multiplies negative logits of seen ids once", () => {
    const r = new Float32Array([2, -2, 1, 4]);
    repetitionPenalty(2)(r, [0, 1, 0, 0]);
    expect(Array.from(r)).toEqual([1, -4, 1, 4]);
    const w = new Float32Array([2, -2, 1, 4]);
    repetitionPenalty(2, 1)(w, [3, 0]); // only the last token is in the window
    expect(Array.from(w)).toEqual([1, -2, 1, 4]);
    const zero = new Float32Array([0, 1]);
    repetitionPenalty(2)(zero, [0]);
    expect(zero[0]).toBe(0); // 0 · θ: llama.cpp multiplies logits ≤ 0
  });
});

describe("the other steps, against hand-computed results", () => {
  it("typical-p keeps the tokens closest to the entropy until their mass exceeds p (the most probable may go)", () => {
    // p = [0.5, 0.3, 0.15, 0.05]: H = 1.1421 nats; |−ln p − H| = 0.449, 0.062, 0.755, 1.854,
    // so the order is ids 1, 0, 2, 3 with cumulative mass 0.3, 0.8, 0.95, 1
    const probs = [0.5, 0.3, 0.15, 0.05];
    const at = (p: number): number[] => {
      const r = new Float32Array(probs.map(Math.log));
      typicalP(p)(r, []);
      return kept(r);
    };
    expect(at(0.2)).toEqual([1]); // 0.3 > 0.2: the most probable token is not typical enough
    expect(at(0.5)).toEqual([0, 1]);
    expect(at(0.85)).toEqual([0, 1, 2]);
    expect(at(0.31)).toEqual([0, 1]);
  });

  it("frequency and presence penalties subtract count·α_f + α_p once per id", () => {
    const r = new Float32Array([1, 1, 1]);
    penalties({ frequency: 0.5, presence: 0.25 })(r, [0, 0, 1]);
    expect(Array.from(r)).toEqual([-0.25, 0.25, 1]);
  });

  it("logit bias adds to the named ids; −Infinity bans; ids beyond the vocabulary are an error", () => {
    const r = new Float32Array([0, 0, 0]);
    logitBias({ 1: 2.5, 2: -Infinity })(r, []);
    expect(Array.from(r)).toEqual([0, 2.5, -Infinity]);
    expect(() => logitBias(new Map([[3, 1]]))(new Float32Array(3), [])).toThrow(/logitBias: expected token ids in \[0, 3\), found 3/);
    expect(() => logitBias({ 0: NaN })).toThrow(SamplingError);
    expect(() => logitBias({ 0: Infinity })).toThrow(/expected a finite number or -Infinity/);
  });

  it("the token mask leaves allowed tokens alone and sets the others to −Infinity", () => {
    const allowed = new Uint32Array(2);
    for (const id of [3, 35]) allowed[id >>> 5] |= 1 << (id & 31);
    const r = new Float32Array(40).fill(1);
    tokenMask(allowed)(r, []);
    expect(kept(r)).toEqual([3, 35]);
    expect(() => tokenMask(new Uint32Array(1))(new Float32Array(40), [])).toThrow(/token mask: expected at least 2 words/);
  });

  it("minKeep: top-p and min-p never keep fewer", () => {
    const a = new Float32Array([0.7, 0.2, 0.1].map(Math.log));
    topP(0.5, 2)(a, []);
    expect(kept(a)).toEqual([0, 1]);
    const b = new Float32Array([0.5, 0.3, 0.2].map(Math.log));
    minP(0.9, 2)(b, []);
    expect(kept(b)).toEqual([0, 1]);
  });

  it("XTC flips its coin with the given probability, from the stream it is given", () => {
    const rng = new Rng(5);
    const step = xtc(0.3, 0.1, rng);
    const trials = 10_000;
    let applied = 0;
    for (let i = 0; i < trials; i++) {
      const r = new Float32Array([0.4, 0.3, 0.2, 0.1].map(Math.log));
      step(r, []);
      if (r[0] === -Infinity) applied++;
    }
    // binomial(10000, 0.3): standard deviation 46
    expect(Math.abs(applied - 0.3 * trials)).toBeLessThan(5 * 46);
  });
});
