// The whole-row pair: Candidates.softmaxWholeRow / drawWholeRow in TypeScript (the reference, the
// path of an engine without WebAssembly SIMD) and on the wasm kernel (assembly/whole-row.ts). The
// kernel must give the same bits: the same weights (every one compared as a double), the same
// max and ln Σ, the same accept/refuse decision, and the same token for every uniform number.
// (test/whole-row.test.ts pins the Sampler's seeded-stream digests, which in Node now run on the
// kernel, to those of the TypeScript build before it.)
import { Rng } from "@zero-llm/tensor";
import { describe, expect, it } from "vitest";
import { Candidates } from "../src/candidates";
import { wholeRowKernel } from "../src/whole-row-wasm";

const kernel = wholeRowKernel();

/** The first index where two arrays of doubles differ in any bit (Object.is: −0 ≠ +0), or −1. */
function firstDifference(a: Float64Array, b: Float64Array, n: number): number {
  for (let i = 0; i < n; i++) if (!Object.is(a[i], b[i])) return i;
  return -1;
}

/** Rows that exercise the lanes: odd lengths (the scalar tail), ties, ±0, a wide spread, tiny rows. */
function testRow(n: number, rng: Rng, kind: number): Float32Array {
  const row = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const u = rng.uniform();
    row[i] = kind === 0 ? 12 * u * u * u - 3 : kind === 1 ? rng.normal(0, 2) : kind === 2 ? (u < 0.5 ? 0 : -0) : 400 * u - 200;
  }
  for (let k = 0; k < Math.min(40, n); k++) row[rng.int(n)] += 6 * rng.uniform();
  if (n > 3) row[rng.int(n)] = row[rng.int(n)];
  return row;
}

describe.skipIf(kernel === null)("the wasm whole-row kernel gives the TypeScript reference's bits", () => {
  it("weights, max, ln Σ and the drawn token, on 400 rows of 1 to 5,000 logits at six temperatures", () => {
    if (kernel === null) return;
    const rng = new Rng(2026);
    const reference = new Candidates(null);
    const fast = new Candidates(kernel);
    const u = new Float64Array(1);
    let accepted = 0;
    for (let t = 0; t < 400; t++) {
      const n = t < 16 ? t + 1 : 1 + rng.int(5000);
      const row = testRow(n, rng, t % 4);
      const scale = Float64Array.of(1 / [0.05, 0.3, 0.8, 1, 1.7, 2][t % 6]);
      const ok = reference.softmaxWholeRow(row, scale);
      expect(fast.softmaxWholeRow(row, scale), `row ${t}: accepted`).toBe(ok);
      if (!ok) continue;
      accepted++;
      expect(firstDifference(kernel.weights(), reference.probs, n), `row ${t}: the first weight that differs`).toBe(-1);
      expect(Array.from(fast.last), `row ${t}: max, ln Σ`).toEqual(Array.from(reference.last));
      for (let k = 0; k < 20; k++) {
        u[0] = k < 2 ? [0, 0.9999999999999999][k] : rng.uniform();
        expect(fast.drawWholeRow(u, 0), `row ${t}: u ${u[0]}`).toBe(reference.drawWholeRow(u, 0));
      }
    }
    expect(accepted).toBeGreaterThan(300); // the wide rows at low temperature leave the usual range: refused by both
  });

  it("refuses what the reference refuses: −Infinity, NaN, +Infinity", () => {
    const reference = new Candidates(null);
    const fast = new Candidates(kernel);
    const scale = Float64Array.of(1.25);
    // 7: a group of four and the scalar tail; 39: the four accumulators' blocks of sixteen, then groups of four, then the tail
    const placements: Array<[number, number[]]> = [[7, [0, 3, 4, 6]], [39, [0, 5, 9, 14, 17, 22, 26, 31, 33, 36, 38]]];
    for (const bad of [-Infinity, NaN, Infinity]) {
      for (const [length, positions] of placements) {
        for (const at of positions) {
          const row = Float32Array.from({ length }, (_, i) => i / 3);
          row[at] = bad;
          expect(fast.softmaxWholeRow(row, scale), `${bad} at ${at} of ${length}`).toBe(false);
          expect(reference.softmaxWholeRow(row, scale)).toBe(false);
        }
      }
    }
  });

  it("grows with the vocabulary and keeps the bits (2,048 then 32,000 then 2,048 logits)", () => {
    if (kernel === null) return;
    const rng = new Rng(7);
    const reference = new Candidates(null);
    const fast = new Candidates(kernel);
    const scale = Float64Array.of(1 / 0.8);
    for (const n of [2048, 32000, 2048, 32001]) {
      const row = testRow(n, rng, 1);
      expect(fast.softmaxWholeRow(row, scale)).toBe(reference.softmaxWholeRow(row, scale));
      expect(firstDifference(kernel.weights(), reference.probs, n)).toBe(-1);
    }
  });
});

describe("the reference path without the kernel", () => {
  it("a sampler's Candidates use the kernel where WebAssembly SIMD exists (Node 20 has it)", () => {
    expect(kernel).not.toBeNull();
    expect(new Candidates().kernel).toBe(kernel);
  });
});
