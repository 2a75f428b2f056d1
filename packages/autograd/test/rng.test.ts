import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { Rng as TensorRng } from "@zero-llm/tensor";
import { Rng } from "../src/index";

interface RngFixture { cases: { seed: number; state: number[]; raw: number[]; uniforms: number[] }[] }
const fixture = JSON.parse(readFileSync(fileURLToPath(new URL("./fixtures/rng.json", import.meta.url)), "utf8")) as RngFixture;

describe("Rng (xoshiro128** seeded by splitmix32)", () => {
  it.each(fixture.cases)("seed $seed matches the independent Python implementation bit for bit", (c) => {
    const rng = new Rng(c.seed);
    expect(rng.getState().s).toEqual(c.state);
    expect(Array.from({ length: c.raw.length }, () => rng.nextUint32())).toEqual(c.raw);
    expect(Array.from({ length: c.uniforms.length }, () => rng.uniform())).toEqual(c.uniforms);
  });

  it("a saved state resumes the exact sequence, including a pending Box–Muller normal", () => {
    const rng = new Rng(5);
    rng.normal(); // leaves the second normal of the pair pending
    const saved = rng.getState();
    expect(saved.spareNormal).not.toBeNull();
    const a = [rng.normal(), rng.normal(), rng.uniform(), rng.nextUint32()];
    const resumed = Rng.fromState(saved);
    expect([resumed.normal(), resumed.normal(), resumed.uniform(), resumed.nextUint32()]).toEqual(a);
    rng.setState(saved);
    expect(rng.normal()).toBe(a[0]);
  });

  it("normal(): 100,000 samples have mean ≈ 0, variance ≈ 1 and normal tails", () => {
    const rng = new Rng(2024);
    const n = 100_000;
    const xs = Array.from({ length: n }, () => rng.normal());
    const mean = xs.reduce((s, x) => s + x, 0) / n;
    const variance = xs.reduce((s, x) => s + (x - mean) ** 2, 0) / n;
    const beyond2 = xs.filter((x) => Math.abs(x) > 2).length / n; // P(|z| > 2) = 0.0455
    expect(Math.abs(mean)).toBeLessThan(0.015); // 5 standard errors
    expect(Math.abs(variance - 1)).toBeLessThan(0.03);
    expect(Math.abs(beyond2 - 0.0455)).toBeLessThan(0.005);
    expect(new Rng(1).normal(10, 0)).toBe(10);
  });

  it("uniform() stays in [0, 1) and int(n) is in range", () => {
    const rng = new Rng(3);
    for (let i = 0; i < 10_000; i++) {
      const u = rng.uniform();
      expect(u >= 0 && u < 1).toBe(true);
      const k = rng.int(7);
      expect(Number.isInteger(k) && k >= 0 && k < 7).toBe(true);
    }
  });

  it("is the workspace's one generator (@zero-llm/tensor's Rng), not a copy", () => {
    expect(Rng).toBe(TensorRng);
  });

  it("bad seeds and states throw the tensor package's INVALID_ARGUMENT", () => {
    for (const seed of [-1, 1.5, 2 ** 32, NaN]) {
      expect(() => new Rng(seed)).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
    }
    expect(() => Rng.fromState({ s: [0, 0, 0, 0], spareNormal: null })).toThrow(/nonzero state/);
    expect(() => Rng.fromState({ s: [1, 2, 3] as unknown as [number, number, number, number], spareNormal: null })).toThrow(/four uint32 words/);
    expect(() => new Rng(1).int(0)).toThrow(/Rng.int: expected an integer n/);
  });
});
