// The portable exp and ln against Math.exp / Math.log (V8's fdlibm port, correctly rounded in
// almost all cases), and pinned to exact bits: these tables must hold on every engine, which is
// what makes a seeded draw the same everywhere.
import { Rng } from "@zero-llm/tensor";
import { describe, expect, it } from "vitest";
import { expInPlace, portableExp, portableLog } from "../src/portable-math";

/** Distance in units in the last place between two doubles of the same sign. */
function ulps(a: number, b: number): number {
  const view = new DataView(new ArrayBuffer(16));
  view.setFloat64(0, a);
  view.setFloat64(8, b);
  return Number(view.getBigInt64(0) - view.getBigInt64(8)) * (a < 0 ? -1 : 1);
}

function bits(x: number): string {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  return view.getBigUint64(0).toString(16).padStart(16, "0");
}

describe("portable exp and ln", () => {
  it("exp is within 2 ulp of Math.exp on [-745, 709], ln within 2 ulp of Math.log on [1e-300, 1e300]", () => {
    const rng = new Rng(11);
    const xs = new Float64Array(200_000);
    for (let i = 0; i < xs.length; i++) xs[i] = i < 100_000 ? -40 * rng.uniform() : -745 + 1454 * rng.uniform();
    const ex = Float64Array.from(xs);
    expInPlace(ex, ex.length);
    let worstExp = 0, worstLog = 0;
    for (let i = 0; i < xs.length; i++) {
      const want = Math.exp(xs[i]);
      if (want >= 2.2250738585072014e-308) worstExp = Math.max(worstExp, Math.abs(ulps(ex[i], want)));
      const y = Math.exp(-690 + 1380 * rng.uniform());
      const lw = Math.log(y);
      if (Math.abs(lw) > 1e-3) worstLog = Math.max(worstLog, Math.abs(ulps(portableLog(y), lw)));
    }
    expect(worstExp).toBeLessThanOrEqual(2);
    expect(worstLog).toBeLessThanOrEqual(2);
  });

  it("special values", () => {
    expect(portableExp(0)).toBe(1);
    expect(portableExp(-Infinity)).toBe(0);
    expect(portableExp(Infinity)).toBe(Infinity);
    expect(portableExp(710)).toBe(Infinity);
    expect(portableExp(-746)).toBe(0);
    expect(portableExp(-745)).toBe(5e-324); // the smallest subnormal, as Math.exp
    expect(Number.isNaN(portableExp(NaN))).toBe(true);
    expect(portableLog(1)).toBe(0);
    expect(portableLog(0)).toBe(-Infinity);
    expect(portableLog(Infinity)).toBe(Infinity);
    expect(Number.isNaN(portableLog(-1))).toBe(true);
    expect(portableLog(5e-324)).toBeCloseTo(-744.4400719213812, 12);
    expect(portableLog(Math.E)).toBeCloseTo(1, 15);
  });

  it("pinned bits (the same on every engine: only +, −, ×, ÷ and floor are used)", () => {
    const inputs = [-0.5, -1, -2.302585092994046, -10, -37.5, -100.25, -700.125, 0.125, 3, 88.5];
    expect(inputs.map((x) => bits(portableExp(x)))).toEqual(PINNED_EXP);
    expect([0.5, 2, 10, 1e-20, 123456.789, 0.999999].map((x) => bits(portableLog(x)))).toEqual(PINNED_LOG);
  });
});

const PINNED_EXP = [
  "3fe368b2fc6f960b", "3fd78b56362cef38", "3fb9999999999999", "3f07cd79b5647c9b", "3c8dd5c566301ec8",
  "36e4acd31e167ebb", "00ce8cfc0420616b", "3ff2216045b6f5cc", "403415e5bf6fb106", "47e99b987155fe28",
];
const PINNED_LOG = ["bfe62e42fefa39ef", "3fe62e42fefa39ef", "40026bb1bbb55516", "c047069e2aa2aa5b", "40277281cad8a844", "beb0c6f82d74d230"];
