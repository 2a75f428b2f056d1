// The portable exp and ln against Math.exp / Math.log (V8's fdlibm port, correctly rounded in
// almost all cases), and pinned to exact bits: these tables must hold on every engine, which is
// what makes a seeded draw the same everywhere.
import { Rng } from "@zero-llm/tensor";
import { describe, expect, it } from "vitest";
import { expInPlace, expReferenceAt, portableExp, portableLog } from "../src/portable-math";

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

/**
 * The softmax range, the whole domain and the neighbourhood of every boundary of expInPlace
 * (underflow, the first normal result, the fast path's upper end, overflow), then special values.
 */
function expInputs(): Float64Array {
  const rng = new Rng(17);
  const xs: number[] = [];
  for (let i = 0; i < 400_000; i++) xs.push(-40 * rng.uniform());
  for (let i = 0; i < 400_000; i++) xs.push(-760 + 1480 * rng.uniform());
  const edges = [-745.1332191019412, -708.3964185322641, -708.39641853226, 0, 709, 709.782712893384, -745.2, 709.8];
  for (const e of edges) for (let i = 0; i < 20_000; i++) xs.push(e + (rng.uniform() - 0.5) * 1e-9 * Math.max(1, Math.abs(e)));
  xs.push(0, -0, 1e-300, -1e-300, Infinity, -Infinity, NaN, 5e-324, -5e-324);
  return Float64Array.from(xs);
}

/** FNV-1a over the results' 32-bit halves. */
function digest(values: Float64Array): string {
  const words = new Uint32Array(values.buffer, values.byteOffset, values.length * 2);
  let h = 0x811c9dc5;
  for (let i = 0; i < words.length; i++) h = Math.imul(h ^ words[i], 0x01000193) >>> 0;
  return h.toString(16);
}

describe("expInPlace's straight-line path", () => {
  const xs = expInputs();

  it("gives the reference form's bits on every input, in batches of usual arguments and in batches mixed with rare ones", () => {
    const want = Float64Array.from(xs);
    for (let i = 0; i < want.length; i++) expReferenceAt(want, i);
    // batches of 2,048 (a vocabulary's softmax): most of the first 400,000 are all usual, the
    // whole-domain ones all hold a rare argument, so both paths run
    const got = Float64Array.from(xs);
    for (let at = 0; at < got.length; at += 2048) expInPlace(got.subarray(at), Math.min(2048, got.length - at));
    let differing = 0;
    for (let i = 0; i < got.length; i++) if (!Object.is(got[i], want[i])) differing++;
    expect(differing).toBe(0);
    // one by one: every argument alone in its batch
    const single = new Float64Array(1);
    for (let i = 0; i < xs.length; i += 7) {
      single[0] = xs[i];
      expInPlace(single, 1);
      if (!Object.is(single[0], want[i])) differing++;
    }
    expect(differing).toBe(0);
  });

  it("matches the digest of the results of the form that shipped before it (the same bits: seeded draws do not change)", () => {
    // a4abc5b4: portableExp of @zero-llm/sampling before the straight-line path, on these inputs
    const got = Float64Array.from(xs);
    for (let at = 0; at < got.length; at += 2048) expInPlace(got.subarray(at), Math.min(2048, got.length - at));
    expect(xs.length).toBe(960_009);
    expect(digest(got)).toBe("a4abc5b4");
  });
});

const PINNED_EXP = [
  "3fe368b2fc6f960b", "3fd78b56362cef38", "3fb9999999999999", "3f07cd79b5647c9b", "3c8dd5c566301ec8",
  "36e4acd31e167ebb", "00ce8cfc0420616b", "3ff2216045b6f5cc", "403415e5bf6fb106", "47e99b987155fe28",
];
const PINNED_LOG = ["bfe62e42fefa39ef", "3fe62e42fefa39ef", "40026bb1bbb55516", "c047069e2aa2aa5b", "40277281cad8a844", "beb0c6f82d74d230"];
