import { describe, expect, it } from "vitest";
import { argmax, minP, repetitionPenalty, softmax, temperature, topK, topP } from "../src/index";

const kept = (row: Float32Array): number[] =>
  Array.from(row).flatMap((v, i) => (v === -Infinity ? [] : [i]));

describe("logits processors", () => {
  it("argmax returns the first of equal maxima", () => {
    expect(argmax([1, 5, 3, 5])).toBe(1);
  });

  it("softmax matches exp(x)/Σexp(x) and survives large logits", () => {
    const p = softmax(new Float32Array(3), [1000, 1001, 1002]);
    const e = [Math.exp(-2), Math.exp(-1), 1];
    const z = e[0] + e[1] + e[2];
    e.forEach((v, i) => expect(p[i]).toBeCloseTo(v / z, 7));
  });

  it("temperature divides the logits", () => {
    const row = new Float32Array([2, -4, 1]);
    temperature(0.5)(row, []);
    expect(Array.from(row)).toEqual([4, -8, 2]);
  });

  it("top-k keeps the k largest (ties with the k-th are kept)", () => {
    const row = new Float32Array([0.1, 3, -1, 2, 2.5, 0]);
    topK(3)(row, []);
    expect(kept(row)).toEqual([1, 3, 4]);
    const tied = new Float32Array([1, 2, 2, 0]);
    topK(2)(tied, []);
    expect(kept(tied)).toEqual([1, 2]);
    const tiedThird = new Float32Array([3, 2, 2, 0]);
    topK(2)(tiedThird, []);
    expect(kept(tiedThird)).toEqual([0, 1, 2]);
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

  it("top-p on a flat row falls back to the full sort and stays exact", () => {
    // 1000 equal logits: every candidate is below (1 − p)/(n − 1) only when p is tiny; use p = 0.01
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
  });
});
