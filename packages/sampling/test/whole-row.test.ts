// The sampler's whole-row path (temperature > 0 and no truncation step: OpenAI's default
// distribution) skips the candidate list and fuses the normalisation into the draw. It must draw
// exactly the tokens of the general path: the same arithmetic in the same order. Shown three ways:
// token for token against the general path (top-k = vocabulary size takes it and truncates
// nothing), digests of long seeded streams pinned from the build before the whole-row path, and
// the rows it hands back to the general path (−Infinity, bad logits, a spread past the exp's range).
import { Rng } from "@zero-llm/tensor";
import { describe, expect, it } from "vitest";
import { Sampler } from "../src/index";

/** A row like chain.test.ts's: a few large values, a long tail, some exact ties. */
function lmRow(n: number, rng: Rng, spread = 8): Float32Array {
  const row = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const u = rng.uniform();
    row[i] = spread * u * u * u - 2;
  }
  for (let i = 0; i < 3; i++) row[rng.int(n)] = row[rng.int(n)];
  return row;
}

/** Rows like a language model's: a broad body and a few dozen likely tokens (the sampling bench's shape). */
function rows(n: number, count: number, seed: number): Float32Array[] {
  let s = seed >>> 0;
  const next = (): number => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296;
  return Array.from({ length: count }, () => {
    const r = new Float32Array(n);
    for (let i = 0; i < n; i++) r[i] = 4 * (next() + next() + next() - 1.5);
    for (let k = 0; k < 20; k++) r[Math.floor(next() * n)] += 6 + 6 * next();
    return r;
  });
}

describe("the whole-row path draws the general path's tokens", () => {
  it("token for token, against top-k = vocabulary size (the list path, nothing truncated)", () => {
    const rng = new Rng(11);
    for (let t = 0; t < 60; t++) {
      const n = 2 + rng.int(3000);
      const temperature = [0.05, 0.3, 0.8, 1, 1.7, 2][t % 6];
      const spread = [0.01, 8, 40, 200][t % 4];
      const fast = new Sampler({ temperature, seed: t });
      const general = new Sampler({ temperature, seed: t, topK: n });
      for (let k = 0; k < 20; k++) {
        const row = lmRow(n, rng, spread);
        expect(fast.sample(row), `case ${t} token ${k}`).toBe(general.sample(row));
      }
    }
  });

  it("the digests of seeded streams (4,000 tokens of 2,048, 400 of 32,000) are those of the build before it (@zero-llm/sampling at 34be6f6)", () => {
    const got: string[] = [];
    for (const n of [2048, 32000]) {
      for (const t of [0.3, 0.8, 1, 1.7]) {
        const rs = rows(n, 16, n + Math.round(t * 10));
        const s = new Sampler({ temperature: t, seed: 42 });
        let h = 0x811c9dc5;
        for (let i = 0; i < (n > 4096 ? 400 : 4000); i++) h = Math.imul(h ^ s.sample(rs[i & 15]), 0x01000193) >>> 0;
        got.push(`${n} ${t} ${h.toString(16)}`);
      }
    }
    expect(got).toEqual([
      "2048 0.3 ff58c8e8", "2048 0.8 4ecc808a", "2048 1 20de0952", "2048 1.7 1d0775e4",
      "32000 0.3 6b54e05d", "32000 0.8 c144bfec", "32000 1 d6513ad6", "32000 1.7 12e16de",
    ]);
  }, 120_000);

  it("hands rows it cannot take to the general path: −Infinity (a ban), a spread past the exp's range, bad logits", () => {
    const rng = new Rng(5);
    const n = 500;
    for (let t = 0; t < 30; t++) {
      const fast = new Sampler({ temperature: 0.8, seed: t, logitBias: { 7: -Infinity } });
      const general = new Sampler({ temperature: 0.8, seed: t, topK: n, logitBias: { 7: -Infinity } });
      const row = lmRow(n, rng);
      if (t % 3 === 0) row[rng.int(n)] = -1e4; // exp((−1e4 − max)/0.8) underflows: expInPlace's rare path
      const got = fast.sample(row);
      expect(got).toBe(general.sample(row));
      expect(got).not.toBe(7);
    }
    const bad = lmRow(n, rng);
    bad[9] = NaN;
    expect(() => new Sampler({ temperature: 0.8 }).sample(bad)).toThrow(expect.objectContaining({ code: "SAMPLING_BAD_LOGITS" }));
    bad[9] = Infinity;
    expect(() => new Sampler({ temperature: 0.8 }).sample(bad)).toThrow(/found Infinity at token 9/);
    const banned = new Float32Array(4).fill(-Infinity);
    expect(() => new Sampler({ temperature: 0.8 }).sample(banned)).toThrow(expect.objectContaining({ code: "SAMPLING_NO_CANDIDATES" }));
  });
});
