// The seedable PRNG: bit-exact against a C build of the same algorithm, deterministic per seed,
// and statistically sound where rand/randn use it.
import { describe, expect, it } from "vitest";
import { Generator, Rng, TensorError, manualSeed, rand, randn } from "../src/index";

describe("Rng (xoshiro128** seeded by splitmix32)", () => {
  it("matches the published xoshiro128** output for the state {1, 2, 3, 4}", () => {
    // the reference sequence of Blackman & Vigna's C code for s = {1, 2, 3, 4} (also rand_xoshiro's test vector)
    const rng = Rng.fromState({ s: [1, 2, 3, 4], spareNormal: null });
    expect(Array.from({ length: 10 }, () => rng.nextUint32())).toEqual([
      11520, 0, 5927040, 70819200, 2031721883, 1637235492, 1287239034, 3734860849, 3729100597, 4258142804,
    ]);
  });

  it("uniform() is (27 bits · 2^26 + 26 bits) / 2^53 of two outputs; uniformInto and uniformFloat32 take the same bits", () => {
    const raw = new Rng(42), viaUniform = new Rng(42), viaInto = new Rng(42), raw32 = new Rng(42), via32 = new Rng(42);
    const out = new Float64Array(1);
    for (let i = 0; i < 100; i++) {
      const hi = raw.nextUint32() >>> 5, lo = raw.nextUint32() >>> 6;
      const u = viaUniform.uniform();
      expect(u).toBe((hi * 2 ** 26 + lo) / 2 ** 53);
      viaInto.uniformInto(out, 0);
      expect(out[0]).toBe(u);
      expect(via32.uniformFloat32()).toBe((raw32.nextUint32() >>> 8) / 2 ** 24);
    }
  });

  it("resumes exactly from a saved state, a pending Box-Muller normal included", () => {
    const rng = new Rng(7);
    for (let i = 0; i < 99; i++) rng.uniform();
    rng.normal();
    const saved = rng.getState();
    expect(saved.spareNormal).not.toBeNull();
    const tail = [rng.normal(), rng.uniform(), rng.int(1000), rng.nextUint32()];
    const resumed = Rng.fromState(saved);
    expect([resumed.normal(), resumed.uniform(), resumed.int(1000), resumed.nextUint32()]).toEqual(tail);
  });

  it("bad seeds, states and ranges are TensorErrors that say what was expected", () => {
    for (const seed of [-1, 1.5, 2 ** 32, NaN]) {
      expect(() => new Rng(seed)).toThrow(TensorError);
      expect(() => new Rng(seed)).toThrow(/Rng seed: expected an integer in \[0, 4294967295\], found/);
    }
    expect(() => Rng.fromState({ s: [0, 0, 0, 0], spareNormal: null })).toThrow(/nonzero state/);
    expect(() => Rng.fromState({ s: [1, 2, 3, 2 ** 32], spareNormal: null })).toThrow(/four uint32 words/);
    expect(() => Rng.fromState({ s: [1, 2, 3, 4], spareNormal: NaN })).toThrow(/spareNormal/);
    expect(() => new Rng(1).int(0)).toThrow(/Rng.int: expected an integer n in \[1, 4294967296\], found 0/);
  });

  it("Generator is the deprecated alias of Rng (one class)", () => {
    expect(Generator).toBe(Rng);
  });

  it("matches the C reference stream (tools/fixtures/xoshiro128ss.c)", () => {
    const cases: Array<[number, number[]]> = [
      [42, [2837322924, 544945897, 479756282, 3500138142, 339756180, 113173290, 65323186, 1112262688]],
      [0, [3809008728, 1133695204, 53579671, 2891528803, 139681546, 2203266335, 104831812, 1587294886]],
    ];
    for (const [seed, want] of cases) {
      const g = new Rng(seed);
      expect(want.map(() => g.nextUint32())).toEqual(want);
    }
  });

  it("same seed, same numbers; different seed, different numbers", () => {
    const a = randn([1000], new Rng(7));
    const b = randn([1000], new Rng(7));
    const c = randn([1000], new Rng(8));
    expect(Array.from(a.data)).toEqual(Array.from(b.data));
    expect(Array.from(a.data)).not.toEqual(Array.from(c.data));
    const g = new Rng(7);
    const first = g.uniform();
    g.seed(7);
    expect(g.uniform()).toBe(first);
  });

  it("manualSeed resets the default generator", () => {
    manualSeed(123);
    const a = Array.from(rand([16]).data);
    manualSeed(123);
    expect(Array.from(rand([16]).data)).toEqual(a);
  });

  it("randn: mean ≈ 0 and std ≈ 1 over 1e5 samples", () => {
    const n = 100_000;
    const x = randn([n], new Rng(2024)).data;
    let sum = 0, sumSq = 0;
    for (const v of x) {
      sum += v;
      sumSq += v * v;
    }
    const mean = sum / n;
    const std = Math.sqrt(sumSq / n - mean * mean);
    // the standard error of the mean is 1/√n ≈ 0.0032 and of the std ≈ 0.0022; allow ~5σ
    expect(Math.abs(mean)).toBeLessThan(0.016);
    expect(Math.abs(std - 1)).toBeLessThan(0.011);
    // the tails: P(|z| > 2) = 0.0455 for a true normal
    const tail = x.filter((v) => Math.abs(v) > 2).length / n;
    expect(Math.abs(tail - 0.0455)).toBeLessThan(0.004);
  });

  it("rand: uniform on [0, 1) with mean 1/2 and variance 1/12", () => {
    const n = 100_000;
    const x = rand([n], new Rng(99)).data;
    let sum = 0, sumSq = 0, lo = Infinity, hi = -Infinity;
    for (const v of x) {
      sum += v;
      sumSq += v * v;
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
    expect(lo).toBeGreaterThanOrEqual(0);
    expect(hi).toBeLessThan(1);
    expect(Math.abs(sum / n - 0.5)).toBeLessThan(0.005);
    expect(Math.abs(sumSq / n - (sum / n) ** 2 - 1 / 12)).toBeLessThan(0.002);
  });
});
