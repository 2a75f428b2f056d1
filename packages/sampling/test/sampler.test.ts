import { describe, expect, it } from "vitest";
import { Sampler, SamplingError, argmax, softmax } from "../src/index";

describe("Sampler", () => {
  const logits = new Float32Array([1.2, -0.3, 2.0, 0.5, -1.0, 0.9]);

  it("temperature 0 is greedy", () => {
    const s = new Sampler({ temperature: 0, seed: 3 });
    for (let i = 0; i < 10; i++) expect(s.sample(logits)).toBe(argmax(logits));
  });

  it("draws follow softmax(logits / T): chi-square below the 0.999 quantile", () => {
    for (const t of [1, 0.7]) {
      const s = new Sampler({ seed: 1234, temperature: t });
      const n = 60_000;
      const counts = new Array<number>(logits.length).fill(0);
      for (let i = 0; i < n; i++) counts[s.sample(logits)]++;
      const p = softmax(new Float32Array(logits.length), logits.map((v) => v / t));
      const chi2 = counts.reduce((acc, o, i) => acc + (o - n * p[i]) ** 2 / (n * p[i]), 0);
      expect(chi2, `T = ${t}`).toBeLessThan(20.52); // 5 degrees of freedom
    }
  });

  it("top-k and top-p only ever return kept tokens, in the renormalised proportions", () => {
    const s = new Sampler({ seed: 9, topK: 3, topP: 0.8 });
    // top-3 of the row: ids 2, 0, 5 with renormalised probabilities ≈ 0.561, 0.252, 0.187;
    // nucleus 0.8 then keeps ids 2 and 0 (0.561 + 0.252 = 0.813 ≥ 0.8)
    const p3 = softmax(new Float32Array(3), [2.0, 1.2, 0.9]);
    expect(p3[0] + p3[1]).toBeGreaterThanOrEqual(0.8);
    expect(p3[0]).toBeLessThan(0.8);
    const n = 30_000;
    const counts = new Map<number, number>();
    for (let i = 0; i < n; i++) {
      const id = s.sample(logits);
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    expect([...counts.keys()].sort()).toEqual([0, 2]);
    const z = p3[0] + p3[1];
    const expected = new Map([[2, p3[0] / z], [0, p3[1] / z]]);
    let chi2 = 0;
    for (const [id, p] of expected) chi2 += ((counts.get(id) ?? 0) - n * p) ** 2 / (n * p);
    expect(chi2).toBeLessThan(10.83); // 1 degree of freedom, 0.999 quantile
  });

  it("is deterministic for a seed and resumable from its state", () => {
    const a = new Sampler({ seed: 5, topP: 0.9 });
    const b = new Sampler({ seed: 5, topP: 0.9 });
    const seqA = Array.from({ length: 50 }, () => a.sample(logits));
    expect(Array.from({ length: 50 }, () => b.sample(logits))).toEqual(seqA);
    const saved = a.getState();
    const next = Array.from({ length: 20 }, () => a.sample(logits));
    const c = new Sampler({ seed: 999, topP: 0.9 });
    c.setState(saved);
    expect(Array.from({ length: 20 }, () => c.sample(logits))).toEqual(next);
  });

  it("does not modify the caller's logits", () => {
    const row = new Float32Array(logits);
    new Sampler({ temperature: 0.5, topK: 2, repetitionPenalty: 1.3 }).sample(row, [2]);
    expect(row).toEqual(logits);
  });

  it("repetition penalty changes the greedy choice", () => {
    const s = new Sampler({ temperature: 0, repetitionPenalty: 2 });
    expect(s.sample(logits, [2])).toBe(0); // 2.0 / 2 = 1.0 < 1.2
  });

  it("rejects bad options with expected vs found", () => {
    expect(() => new Sampler({ topP: 0 })).toThrowError(SamplingError);
    expect(() => new Sampler({ temperature: -1 })).toThrow(/temperature: expected a finite number ≥ 0, found -1/);
    expect(() => new Sampler({ topK: 1.5 })).toThrow(/topK/);
  });
});
