// The whole chain against bench/naive-chain.mjs, which follows the definitions with full sorts:
// on random rows, histories and settings the distributions agree to rounding, the kept sets
// exactly, and with the same uniform number the same token is drawn.
import { Rng } from "@zero-llm/tensor";
import { describe, expect, it } from "vitest";
import { naiveDistribution, naiveSample } from "../bench/naive-chain.mjs";
import { Sampler, type SamplerOptions } from "../src/index";

/** A logits row shaped like a language model's: a few large values, a long tail (and some ties). */
export function lmRow(n: number, rng: Rng, spread = 8): Float32Array {
  const row = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const u = rng.uniform();
    row[i] = spread * u * u * u - 2;
  }
  for (let i = 0; i < 3; i++) row[rng.int(n)] = row[rng.int(n)]; // exact ties
  return row;
}

/** Token ids with verbatim repeats (copies of earlier stretches), the text DRY and the penalties act on. */
function repetitiveHistory(rng: Rng, length: number, n: number): number[] {
  const h: number[] = [];
  while (h.length < length) {
    if (h.length > 4 && rng.uniform() < 0.4) {
      const start = rng.int(h.length - 2), len = 2 + rng.int(5);
      for (let i = 0; i < len && start + i < h.length; i++) h.push(h[start + i]);
    } else {
      h.push(rng.uniform() < 0.5 ? rng.int(12) : rng.int(n));
    }
  }
  return h.slice(0, length);
}

function randomOptions(rng: Rng): SamplerOptions {
  const pick = <T>(...xs: T[]): T => xs[rng.int(xs.length)];
  return {
    temperature: pick(0, 0.5, 0.8, 1, 1.7),
    topK: pick(0, 0, 1, 5, 40, 300),
    typicalP: pick(1, 1, 0.9, 0.5),
    topP: pick(1, 0.95, 0.8, 0.3),
    minP: pick(0, 0.05, 0.2),
    minKeep: pick(1, 1, 3),
    repetitionPenalty: pick(1, 1.1, 1.5),
    frequencyPenalty: pick(0, 0.3),
    presencePenalty: pick(0, 0.5, -0.2),
    repetitionWindow: pick(Infinity, 64, 8),
    dryMultiplier: pick(0, 0.8),
    dryAllowedLength: pick(2, 1),
    dryBreakers: pick([], [[7]], [[3, 4]]),
    logitBias: pick(undefined, { 1: 2, 5: -Infinity, 11: -1.5 }),
  };
}

describe("the chain agrees with the naive full-sort chain", () => {
  it("distributions on 300 random rows, histories and settings", () => {
    const rng = new Rng(2025);
    for (let t = 0; t < 300; t++) {
      const n = 50 + rng.int(400);
      const row = lmRow(n, rng);
      const history = repetitiveHistory(rng, rng.int(80), n);
      const options = randomOptions(rng);
      const got = new Sampler(options).probabilities(new Float64Array(n), row, history);
      const want = naiveDistribution(row, history, options);
      const bad = Array.from(got).flatMap((g, i) => ((g === 0) !== (want[i] === 0) || Math.abs(g - want[i]) >= 1e-12 ? [i] : []));
      expect(bad, `case ${t}: ${JSON.stringify(options)}`).toEqual([]);
    }
  }, 300_000);

  it("DRY alone, with breakers taken from the history itself (so they cut repetitions)", () => {
    const rng = new Rng(99);
    for (let t = 0; t < 300; t++) {
      const n = 40;
      const history = repetitiveHistory(rng, 10 + rng.int(100), n);
      const at = (): number => history[rng.int(history.length)];
      const dryBreakers = [[at()], [at(), at()], [at(), at(), at()]].slice(0, rng.int(4));
      const options = { dryMultiplier: 0.8, dryBase: 1.1 + rng.uniform(), dryAllowedLength: rng.int(4), dryWindow: rng.uniform() < 0.5 ? Infinity : 20, dryBreakers };
      const row = lmRow(n, rng, 1);
      const got = new Sampler(options).probabilities(new Float64Array(n), row, history);
      const want = naiveDistribution(row, history, options);
      const bad = Array.from(got).flatMap((g, i) => (Math.abs(g - want[i]) >= 1e-12 ? [i] : []));
      expect(bad, `case ${t}: ${JSON.stringify(options)} ${history}`).toEqual([]);
    }
  }, 300_000);

  it("the same uniform number draws the same token (inverse CDF in id order)", () => {
    const rng = new Rng(7);
    for (let t = 0; t < 100; t++) {
      const n = 32 + rng.int(300);
      const options = { ...randomOptions(rng), seed: t };
      const sampler = new Sampler(options);
      const uniforms = new Rng(t); // the sampler's own stream: one uniform per token without XTC
      for (let k = 0; k < 5; k++) {
        const row = lmRow(n, rng);
        const history = [rng.int(n), rng.int(n)];
        const u = uniforms.uniform();
        const want = options.temperature === 0 ? naiveSample(row, history, options, 0) : naiveSample(row, history, options, u);
        expect(sampler.sample(row, history)).toBe(want);
      }
    }
  });

  it("a constraint mask restricts the distribution to the allowed tokens before any truncation", () => {
    const rng = new Rng(3);
    const n = 100;
    const allowed = new Uint32Array(4);
    for (let i = 0; i < n; i += 3) allowed[i >>> 5] |= 1 << (i & 31);
    const row = lmRow(n, rng);
    const options = { topK: 10, topP: 0.9, temperature: 0.7 };
    const got = new Sampler(options).probabilities(new Float64Array(n), row, [], allowed);
    const want = naiveDistribution(row, [], options, allowed);
    for (let i = 0; i < n; i++) {
      if (i % 3 !== 0) expect(got[i]).toBe(0);
      expect(Math.abs(got[i] - want[i])).toBeLessThan(1e-12);
    }
    expect(got.filter((p) => p > 0).length).toBeGreaterThan(1);
  });
});
