import { describe, expect, it } from "vitest";
import { Sampler, kthLargest, topK, topP, type SamplerOptions } from "../src/index";
import { allocatedPerStep } from "../../../tools/test-helpers/alloc-probe";

/** A deterministic logits row shaped like a language model's: a few large values, a long tail. */
function row(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const u = s / 4294967296;
    out[i] = 8 * u * u * u - 2;
  }
  return out;
}

// Measured as in tools/test-helpers/alloc-probe.ts: after a warm-up, the young generation must
// not grow while thousands of tokens are sampled (< 1 byte per token; one boxed number is 16).
// The chain calls each step directly (no array of closures), every double that crosses a call
// travels in a typed array, and the scratch rows live as long as the sampler.
describe("the sampler allocates nothing per token", () => {
  const cases: [string, SamplerOptions][] = [
    ["greedy", { temperature: 0 }],
    ["temperature 0.8", { temperature: 0.8 }],
    ["top-k 40", { temperature: 0.8, topK: 40 }],
    ["top-p 0.9 over the whole vocabulary", { temperature: 0.8, topP: 0.9 }],
    ["top-p on a flat row", { temperature: 50, topP: 0.5 }],
    ["typical-p", { typicalP: 0.7 }],
    ["min-p + repetition penalty", { minP: 0.05, repetitionPenalty: 1.1 }],
    ["frequency + presence penalties", { frequencyPenalty: 0.5, presencePenalty: 0.5, repetitionWindow: 64 }],
    ["DRY", { dryMultiplier: 0.8, dryBreakers: [[9], [100, 7]] }],
    ["XTC", { xtcProbability: 0.5, xtcThreshold: 0.01 }],
    ["Mirostat 2.0", { mirostat: 2, temperature: 0.9 }],
    ["logit bias", { logitBias: { 3: 1.5, 8: -Infinity } }],
    ["llama.cpp's CLI chain: penalties, DRY, top-k 40, typical, top-p 0.95, min-p 0.05, XTC, temp 0.8", {
      repetitionPenalty: 1.1, frequencyPenalty: 0.1, presencePenalty: 0.1, repetitionWindow: 64, dryMultiplier: 0.8,
      topK: 40, typicalP: 0.95, topP: 0.95, minP: 0.05, xtcProbability: 0.1, temperature: 0.8,
    }],
  ];
  it.each(cases)("%s", (_, options) => {
    for (const n of [2048, 32000]) {
      const sampler = new Sampler({ ...options, seed: 1 });
      const rows = [row(n, 1), row(n, 2), row(n, 3)];
      const history = new Int32Array([5, 9, 100, 7, 5, 9, 100, 7, 5, 9]);
      const allowed = new Uint32Array((n + 31) >>> 5).fill(0xffffffff);
      allowed[0] = 0xfffffffe;
      const step = (i: number): void => {
        sampler.sample(rows[i % 3], history, allowed);
      };
      for (let i = 0; i < (n > 4096 ? 600 : 3000); i++) step(i);
      expect(allocatedPerStep(step, n > 4096 ? 60 : 300), `vocabulary ${n}`).toBeLessThan(1);
    }
  }, 300_000);

  it("probabilities() (speculative decoding's step) allocates nothing either", () => {
    const sampler = new Sampler({ topK: 40, topP: 0.9, temperature: 0.7 });
    const rows = [row(4096, 1), row(4096, 2)];
    const out = new Float64Array(4096);
    const step = (i: number): void => {
      sampler.probabilities(out, rows[i % 2]);
    };
    for (let i = 0; i < 2000; i++) step(i);
    expect(allocatedPerStep(step, 200)).toBeLessThan(1);
  });
});

describe("in-place selection", () => {
  it("kthLargest equals the sorted order's k-th value, ties and -Infinity included", () => {
    for (let seed = 1; seed < 40; seed++) {
      const a = row(200 + seed, seed).map((v, i) => (i % 7 === 0 ? -Infinity : i % 5 === 0 ? 1 : v));
      const sorted = Float32Array.from(a).sort();
      for (const k of [1, 2, 3, 17, 100, a.length]) expect(kthLargest(Float32Array.from(a), k)).toBe(sorted[a.length - k]);
    }
  });

  it("top-k and top-p keep the same sets as the definitions computed by full sorting", () => {
    for (let seed = 1; seed < 30; seed++) {
      const logits = row(500, seed);
      // top-k by definition: the first k of (logit desc, id asc)
      const k = 1 + (seed % 40);
      const byLogit = Array.from(logits.keys()).sort((x, y) => logits[y] - logits[x] || x - y);
      const keptK = new Set(byLogit.slice(0, k));
      const a = Float32Array.from(logits);
      topK(k)(a, []);
      for (let i = 0; i < a.length; i++) expect(a[i] !== -Infinity).toBe(keptK.has(i));
      // top-p by definition: ids by (probability desc, id asc), the shortest prefix reaching p
      const p = 0.05 + (seed % 19) / 20;
      const probs = Array.from(logits, (v) => Math.exp(v));
      const z = probs.reduce((x, y) => x + y, 0);
      let cumulative = 0, keep = 0;
      while (keep < byLogit.length && cumulative < p) cumulative += probs[byLogit[keep++]] / z;
      const kept = new Set(byLogit.slice(0, keep));
      const b = Float32Array.from(logits);
      topP(p)(b, []);
      for (let i = 0; i < b.length; i++) expect(b[i] !== -Infinity, `seed ${seed} id ${i}`).toBe(kept.has(i));
    }
  });
});
