import { Rng } from "@zero-llm/tensor";
import { describe, expect, it } from "vitest";
import { Sampler, SamplingError, logitsToProbs, mostLikelyToken, type SamplerOptions } from "../src/index";

const logits = new Float32Array([1.2, -0.3, 2.0, 0.5, -1.0, 0.9]);

/** Pearson's chi-square of observed counts against probabilities (cells with p = 0 must be empty). */
function chiSquare(counts: number[], probs: ArrayLike<number>, n: number): { chi2: number; dof: number } {
  let chi2 = 0, dof = -1;
  for (let i = 0; i < counts.length; i++) {
    if (probs[i] === 0) {
      expect(counts[i], `token ${i} has probability 0`).toBe(0);
      continue;
    }
    chi2 += (counts[i] - n * probs[i]) ** 2 / (n * probs[i]);
    dof++;
  }
  return { chi2, dof };
}

/** 0.999 quantiles of chi-square, by degrees of freedom. */
const CHI2_999 = [0, 10.83, 13.82, 16.27, 18.47, 20.52, 22.46, 24.32, 26.12, 27.88];

describe("Sampler", () => {
  it("temperature 0 is greedy", () => {
    const s = new Sampler({ temperature: 0, seed: 3 });
    for (let i = 0; i < 10; i++) expect(s.sample(logits)).toBe(mostLikelyToken(logits));
  });

  it("draws follow the chain's distribution: chi-square below the 0.999 quantile, for each kind of step", () => {
    const settings: SamplerOptions[] = [
      { temperature: 1 },
      { temperature: 0.7 },
      { topK: 3, topP: 0.8 },
      { typicalP: 0.6, temperature: 1.3 },
      { minP: 0.3, temperature: 0.9 },
      { repetitionPenalty: 1.5, frequencyPenalty: 0.2, presencePenalty: 0.3 },
    ];
    const history = [2, 2, 0];
    settings.forEach((options, k) => {
      const s = new Sampler({ ...options, seed: 1234 + k });
      const probs = s.probabilities(new Float64Array(logits.length), logits, history);
      const n = 40_000;
      const counts = new Array<number>(logits.length).fill(0);
      for (let i = 0; i < n; i++) counts[s.sample(logits, history)]++;
      const { chi2, dof } = chiSquare(counts, probs, n);
      expect(chi2, JSON.stringify(options)).toBeLessThan(CHI2_999[dof]);
    });
  });

  it("temperature after truncation (llama.cpp's order): top-p picks by the untempered probabilities", () => {
    // probabilities 0.5, 0.3, 0.2: top-p 0.75 keeps {0, 1} at temperature 1 … and still {0, 1}
    // when the temperature is 3 (it would keep all three if temperature came first: 0.39, 0.33, 0.28)
    const row = new Float32Array([0.5, 0.3, 0.2].map(Math.log));
    const p = new Sampler({ topP: 0.75, temperature: 3 }).probabilities(new Float64Array(3), row);
    expect(p[2]).toBe(0);
    const tempered = logitsToProbs(new Float64Array(2), [row[0] / 3, row[1] / 3]);
    expect(p[0]).toBeCloseTo(tempered[0], 12);
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
    expect(JSON.parse(JSON.stringify(saved))).toEqual(saved); // a plain, serialisable object
  });

  it("pins the stream: seed 42 gives these tokens on every engine (portable exp, 32-bit integer Rng)", () => {
    // inputs from exact arithmetic only (uniform() is integer bits scaled by a power of two)
    const rng = new Rng(1);
    const row = new Float32Array(64).map(() => 3 * rng.uniform() ** 2);
    const s = new Sampler({ seed: 42, temperature: 0.8, topK: 40, topP: 0.95, minP: 0.05 });
    expect(Array.from({ length: 16 }, () => s.sample(row))).toEqual(PINNED_TOKENS);
  });

  it("does not modify the caller's logits", () => {
    const row = new Float32Array(logits);
    new Sampler({ temperature: 0.5, topK: 2, repetitionPenalty: 1.3, dryMultiplier: 1 }).sample(row, [2, 1, 2, 1]);
    expect(row).toEqual(logits);
  });

  it("repetition penalty changes the greedy choice; a logit bias can ban the best token", () => {
    expect(new Sampler({ temperature: 0, repetitionPenalty: 2 }).sample(logits, [2])).toBe(0); // 2.0 / 2 = 1.0 < 1.2
    expect(new Sampler({ temperature: 0, logitBias: { 2: -Infinity } }).sample(logits)).toBe(0);
  });

  it("XTC in the chain: with the coin always landing, greedy takes the least probable top choice", () => {
    // probabilities ≈ 0.32, 0.07, 0.32·e^0.8 … : tokens 2, 0 and 5 are at least 0.15
    const probs = logitsToProbs(new Float64Array(logits.length), logits);
    const top = [...probs.keys()].filter((i) => probs[i] >= 0.15).sort((x, y) => probs[x] - probs[y]);
    expect(top.length).toBeGreaterThan(1);
    expect(new Sampler({ temperature: 0, xtcProbability: 1, xtcThreshold: 0.15 }).sample(logits)).toBe(top[0]);
  });

  it("Mirostat 2.0: keeps tokens with surprise ≤ μ, then moves μ by η·(τ − surprise)", () => {
    // a Zipf-like row over 1000 tokens
    const row = new Float32Array(1000).map((_, i) => -1.1 * Math.log(i + 1));
    const tau = 5, eta = 0.1;
    const s = new Sampler({ mirostat: 2, mirostatTau: tau, mirostatEta: eta, seed: 8 });
    expect(s.getState().mirostatMu).toBe(2 * tau);
    const p = logitsToProbs(new Float64Array(1000), row);
    let surpriseSum = 0;
    const n = 3000;
    for (let i = 0; i < n; i++) {
      const mu = s.getState().mirostatMu as number;
      const id = s.sample(row);
      // the kept set: surprise −log₂ p ≤ μ; the drawn token is in it
      expect(-Math.log2(p[id])).toBeLessThanOrEqual(mu + 1e-9);
      let keptMass = 0;
      for (let j = 0; j < 1000; j++) if (-Math.log2(p[j]) <= mu) keptMass += p[j];
      const surprise = -Math.log2(p[id] / keptMass);
      expect(s.getState().mirostatMu as number).toBeCloseTo(mu - eta * (surprise - tau), 9);
      surpriseSum += surprise;
    }
    // the point of Mirostat: the observed surprise averages τ
    expect(Math.abs(surpriseSum / n - tau)).toBeLessThan(0.15);
  });

  it("describe() lists the active steps in llama.cpp's order and names", () => {
    expect(new Sampler({ temperature: 0.8, topK: 40, topP: 0.95, minP: 0.05, repetitionPenalty: 1.1, repetitionWindow: 64 }).describe()).toEqual([
      "penalties (repeat 1.1, freq 0, present 0, last 64)", "top-k 40", "top-p 0.95", "min-p 0.05", "temp 0.8", "dist",
    ]);
    expect(new Sampler({ temperature: 0 }).describe()).toEqual(["greedy"]);
    expect(new Sampler({ mirostat: 2, temperature: 0.5 }).describe()).toEqual(["temp 0.5", "mirostat-v2 (tau 5, eta 0.1)"]);
  });

  it("rejects bad options with expected vs found", () => {
    expect(() => new Sampler({ topP: -0.1 })).toThrowError(SamplingError);
    expect(() => new Sampler({ temperature: -1 })).toThrow(/temperature: expected a finite number ≥ 0, found -1/);
    expect(() => new Sampler({ topK: 1.5 })).toThrow(/topK/);
    expect(() => new Sampler({ seed: -1 })).toThrow(/seed: expected an integer in \[0, 4294967295\], found -1/);
    expect(() => new Sampler({ typicalP: 0 })).toThrow(/typicalP/);
    expect(() => new Sampler({ mirostat: 1 as 2 })).toThrow(/mirostat: expected 0 \(off\) or 2/);
    expect(() => new Sampler({ dryBase: 0.5 })).toThrow(/dryBase/);
    expect(() => new Sampler({ repetitionWindow: -1 })).toThrow(/repetitionWindow/);
    expect(() => new Sampler({ xtcProbability: 2 })).toThrow(/xtcProbability/);
  });

  it("rejects bad logits, histories and states with typed errors", () => {
    const s = new Sampler({ repetitionPenalty: 1.1 });
    expect(() => s.sample(new Float32Array(0))).toThrow(expect.objectContaining({ code: "SAMPLING_EMPTY_LOGITS" }));
    expect(() => s.sample(new Float32Array([1, NaN]))).toThrow(expect.objectContaining({ code: "SAMPLING_BAD_LOGITS" }));
    expect(() => s.sample(new Float32Array([1, Infinity]))).toThrow(/found Infinity at token 1/);
    expect(() => s.sample(new Float32Array([-Infinity, -Infinity]))).toThrow(expect.objectContaining({ code: "SAMPLING_NO_CANDIDATES" }));
    expect(() => s.sample(logits, [0, 6])).toThrow(/history: expected token ids in \[0, 6\), found 6 at index 1/);
    expect(() => s.setState({ rng: { s: [0, 0, 0, 0], spareNormal: null }, mirostatMu: null })).toThrow(
      expect.objectContaining({ code: "SAMPLING_BAD_STATE", cause: expect.anything() }),
    );
    expect(() => s.setState({ rng: s.getState().rng, mirostatMu: 3 })).toThrow(/expected mirostatMu null/);
    expect(() => new Sampler({ xtcProbability: 0.5 }).probabilities(new Float64Array(6), logits)).toThrow(/depends on the logits only/);
  });
});

const PINNED_TOKENS = [43, 9, 8, 1, 50, 11, 53, 48, 27, 28, 11, 13, 9, 28, 46, 48];
