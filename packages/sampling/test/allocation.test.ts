import { readdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { kthLargest, topK, topP } from "../src/index";
import { SAMPLER_CASES, row } from "./helpers/sampler-alloc";

// The sampler's allocation cases each have a file of their own, allocation-<case>.test.ts (one
// measured case per isolate: see helpers/sampler-alloc.ts); this file checks none is missing.
describe("the sampler allocates nothing per token", () => {
  it("every measured configuration has its own test file", () => {
    const files = new Set(readdirSync(path.dirname(fileURLToPath(import.meta.url))));
    const measured = [...Object.keys(SAMPLER_CASES), "probabilities", "logprobs"];
    expect(measured.filter((name) => !files.has(`allocation-${name}.test.ts`))).toEqual([]);
    const extra = [...files].filter((f) => /^allocation-.+\.test\.ts$/.test(f) && !measured.includes(f.slice("allocation-".length, -".test.ts".length)));
    expect(extra).toEqual([]);
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
