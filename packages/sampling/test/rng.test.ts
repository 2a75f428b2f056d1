import { describe, expect, it } from "vitest";
import { Rng, SamplingError } from "../src/index";

describe("Rng (xoshiro128**)", () => {
  it("matches the reference output for state [1, 2, 3, 4]", () => {
    // the published xoshiro128** sequence for s = {1, 2, 3, 4} (also the rand_xoshiro test vector)
    const rng = Rng.fromState([1, 2, 3, 4]);
    const got = Array.from({ length: 10 }, () => rng.nextU32());
    expect(got).toEqual([
      11520, 0, 5927040, 70819200, 2031721883, 1637235492, 1287239034, 3734860849, 3729100597, 4258142804,
    ]);
  });

  it("is deterministic per seed and different across seeds", () => {
    const a = new Rng(42), b = new Rng(42), c = new Rng(43);
    const sa = Array.from({ length: 5 }, () => a.next());
    expect(Array.from({ length: 5 }, () => b.next())).toEqual(sa);
    expect(Array.from({ length: 5 }, () => c.next())).not.toEqual(sa);
  });

  it("resumes exactly from a saved state", () => {
    const rng = new Rng(7);
    for (let i = 0; i < 100; i++) rng.next();
    const saved = rng.getState();
    const tail = Array.from({ length: 20 }, () => rng.next());
    const resumed = Rng.fromState(saved);
    expect(Array.from({ length: 20 }, () => resumed.next())).toEqual(tail);
  });

  it("next() is uniform on [0, 1): mean and decile counts", () => {
    const rng = new Rng(1);
    const n = 100_000;
    const bins = new Array<number>(10).fill(0);
    let sum = 0;
    for (let i = 0; i < n; i++) {
      const u = rng.next();
      expect(u >= 0 && u < 1).toBe(true);
      sum += u;
      bins[Math.floor(u * 10)]++;
    }
    expect(Math.abs(sum / n - 0.5)).toBeLessThan(0.005);
    // chi-square with 9 degrees of freedom; 27.88 is the 0.999 quantile
    const chi2 = bins.reduce((acc, o) => acc + (o - n / 10) ** 2 / (n / 10), 0);
    expect(chi2).toBeLessThan(27.88);
  });

  it("rejects an all-zero or malformed state", () => {
    expect(() => Rng.fromState([0, 0, 0, 0])).toThrowError(SamplingError);
    expect(() => Rng.fromState([1, 2, 3, 2 ** 32])).toThrow(/expected 4 unsigned 32-bit words/);
  });
});
