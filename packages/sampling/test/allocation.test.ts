import { describe, expect, it } from "vitest";
import { Sampler, kthLargest, topK, topP } from "../src/index";
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

// Measured as in tools/test-helpers/alloc-probe.ts: after a warm-up, the young generation must not grow while
// thousands of tokens are sampled (< 1 byte per token; one boxed number is 16). Exception: with
// all five processors at once the sampler's call into them is megamorphic, and from one run to
// the next V8 sometimes keeps a few numbers boxed in that code (measured 0–144 bytes per token).
// That is asserted to stay bounded and not to grow with the vocabulary.
describe("samplers allocate nothing per token", () => {
  it.each([
    ["greedy", { temperature: 0 }],
    ["temperature 0.8", { temperature: 0.8, seed: 1 }],
    ["top-k 40", { temperature: 0.8, topK: 40, seed: 1 }],
    ["top-p 0.9", { temperature: 0.8, topP: 0.9, seed: 1 }],
    ["top-p on a flat row (full sort)", { temperature: 50, topP: 0.5, seed: 1 }],
    ["min-p + repetition penalty", { minP: 0.05, repetitionPenalty: 1.1, seed: 1 }],
  ] as const)("%s", (_, options) => {
    const sampler = new Sampler(options);
    const rows = [row(2048, 1), row(2048, 2), row(2048, 3)];
    const history = new Int32Array([5, 9, 100, 7, 5]);
    const step = (i: number): void => {
      sampler.sample(rows[i % 3], history);
    };
    for (let i = 0; i < 3000; i++) step(i);
    expect(allocatedPerStep(step, 300)).toBeLessThan(1);
  });

  it("all five processors at once (the processor call is then megamorphic), at two vocabulary sizes", () => {
    for (const n of [2048, 32768]) {
      const sampler = new Sampler({ temperature: 0.7, topK: 50, topP: 0.95, minP: 0.02, repetitionPenalty: 1.2, seed: 3 });
      const rows = [row(n, 1), row(n, 2), row(n, 3)];
      const history = new Int32Array([5, 9, 100, 7, 5]);
      const step = (i: number): void => {
        sampler.sample(rows[i % 3], history);
      };
      for (let i = 0; i < (n > 4096 ? 400 : 3000); i++) step(i);
      const perStep = allocatedPerStep(step, n > 4096 ? 60 : 300);
      expect(perStep).toBeLessThan(256);
    }
  });
});

describe("in-place selection and sorting", () => {
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
      // top-k by definition: everything ≥ the k-th largest
      const k = 1 + (seed % 40);
      const kth = Float32Array.from(logits).sort()[logits.length - k];
      const a = Float32Array.from(logits);
      topK(k)(a, []);
      for (let i = 0; i < a.length; i++) expect(a[i] === -Infinity).toBe(logits[i] < kth);
      // top-p by definition: ids by (probability desc, id asc), the shortest prefix reaching p
      const p = 0.05 + (seed % 19) / 20;
      const probs = Array.from(logits, (v) => Math.exp(v));
      const z = probs.reduce((x, y) => x + y, 0);
      const ids = probs.map((_, i) => i).sort((x, y) => probs[y] - probs[x] || x - y);
      const f32 = new Float32Array(probs.map((v) => v / z));
      let cumulative = 0, keep = 0;
      while (keep < ids.length && cumulative < p) cumulative += f32[ids[keep++]];
      const kept = new Set(ids.slice(0, keep));
      const b = Float32Array.from(logits);
      topP(p)(b, []);
      for (let i = 0; i < b.length; i++) expect(b[i] !== -Infinity, `seed ${seed} id ${i}`).toBe(kept.has(i));
    }
  });
});
