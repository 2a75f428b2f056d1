// llama.cpp's own sampler test vectors (tests/test-sampling.cpp, Feb 2025), run through our
// processors. Each case starts from probabilities p (logits ln p), applies one step and compares
// the surviving probabilities, largest first, with llama.cpp's expected list (tolerance 1e-5,
// as there). Where llama.cpp's case renormalises (it runs its `dist` step after the sampler),
// so do we; its typical-p and XTC cases report the probabilities unnormalised.
import { Rng } from "@zero-llm/tensor";
import { describe, expect, it } from "vitest";
import { dry, minP, penalties, temperature, topK, topP, typicalP, xtc, type LogitsProcessor } from "../src/index";

function run(probs: number[], processor: LogitsProcessor, history: number[] = []): Float32Array {
  const row = new Float32Array(probs.map(Math.log));
  processor(row, history);
  return row;
}

/** Probabilities of the surviving tokens after softmax, sorted descending, padded with zeros to `length`. */
function renormalised(row: Float32Array, length: number): number[] {
  const max = Math.max(...row);
  const e = Array.from(row, (v) => (v === -Infinity ? 0 : Math.exp(v - max)));
  const z = e.reduce((a, b) => a + b, 0);
  const p = e.map((v) => v / z).filter((v) => v > 0).sort((a, b) => b - a);
  while (p.length < length) p.push(0);
  return p;
}

/** The original probabilities of the surviving tokens, sorted descending (no renormalisation). */
function survivors(probs: number[], row: Float32Array): number[] {
  return probs.filter((_, i) => row[i] !== -Infinity).sort((a, b) => b - a);
}

function expectList(got: number[], want: number[]): void {
  expect(got.length, `${got} vs ${want}`).toBe(want.length);
  want.forEach((w, i) => expect(Math.abs(got[i] - w), `${got} vs ${want}`).toBeLessThan(1e-5));
}

const P4 = [0.1, 0.2, 0.3, 0.4];

describe("llama.cpp test-sampling.cpp vectors", () => {
  it("temperature", () => {
    expectList(renormalised(run(P4, temperature(1)), 4), [0.4, 0.3, 0.2, 0.1]);
    expectList(renormalised(run(P4, temperature(0)), 4), [1, 0, 0, 0]);
  });

  it("top-k", () => {
    expectList(renormalised(run(P4, topK(1)), 1), [1]);
    expectList(renormalised(run(P4, topK(3)), 3), [0.44444, 0.33333, 0.22222]);
    expectList(renormalised(run(P4, topK(4)), 4), [0.4, 0.3, 0.2, 0.1]);
    expectList(renormalised(run(P4, topK(0)), 4), [0.4, 0.3, 0.2, 0.1]);
  });

  it("top-p (the token that crosses p is kept)", () => {
    expectList(renormalised(run(P4, topP(0)), 1), [1]);
    expectList(renormalised(run(P4, topP(0.7)), 2), [0.571429, 0.428571]);
    expectList(renormalised(run(P4, topP(0.8)), 3), [0.44444, 0.33333, 0.22222]);
    expectList(renormalised(run(P4, topP(1)), 4), [0.4, 0.3, 0.2, 0.1]);
  });

  it("min-p (relative to the most probable token)", () => {
    const cases: [number, number[]][] = [
      [0.0, [0.4, 0.3, 0.2, 0.1]],
      [0.24, [0.4, 0.3, 0.2, 0.1]],
      [0.26, [0.4 / 0.9, 0.3 / 0.9, 0.2 / 0.9]],
      [0.49, [0.4 / 0.9, 0.3 / 0.9, 0.2 / 0.9]],
      [0.51, [0.4 / 0.7, 0.3 / 0.7]],
      [0.74, [0.4 / 0.7, 0.3 / 0.7]],
      [0.76, [1]],
      [1.0, [1]],
    ];
    for (const [p, want] of cases) expectList(renormalised(run(P4, minP(p)), want.length), want);
  });

  it("XTC removes every top choice but the least probable one (probability 1 so the coin always lands)", () => {
    const probs = [0.4, 0.3, 0.2, 0.1];
    const at = (t: number): number[] => survivors(probs, run(probs, xtc(1, t, new Rng(0), 0)));
    expectList(at(0.09), [0.1]);
    expectList(at(0.19), [0.2, 0.1]);
    expectList(at(0.29), [0.3, 0.2, 0.1]);
    expectList(at(0.39), [0.4, 0.3, 0.2, 0.1]); // only one token above the threshold: nothing happens
  });

  it("typical-p", () => {
    const a = [0.97, 0.01, 0.01, 0.01];
    expectList(survivors(a, run(a, typicalP(0.5))), [0.97]);
    const b = [0.4, 0.2, 0.2, 0.2];
    expectList(survivors(b, run(b, typicalP(0.5))), [0.2, 0.2, 0.2]);
  });

  it("penalties: repetition, then frequency and presence (window = the history given)", () => {
    const flat = [0.2, 0.2, 0.2, 0.2, 0.2];
    const cases: [number[], number[], number, number, number][] = [
      [[0], [0.25, 0.25, 0.25, 0.25, 0], 50, 0, 0],
      [[0, 1, 2], [0.5, 0.5, 0, 0, 0], 50, 0, 0],
      [[0, 1, 2, 0, 0], [0.5, 0.5, 0, 0, 0], 50, 0, 0],
      [[0], [0.249997, 0.249997, 0.249997, 0.249997, 0.000011], 1, 5, 5],
      [[0, 1, 2], [0.499966, 0.499966, 0.000023, 0.000023, 0.000023], 1, 5, 5],
      [[0, 1, 2, 0, 0], [0.499977, 0.499977, 0.000023, 0.000023, 0], 1, 5, 5],
    ];
    for (const [history, want, repetition, frequency, presence] of cases) {
      const row = run(flat, penalties({ repetition, frequency, presence, window: history.length }), history);
      expectList(renormalised(row, 5), want);
    }
  });

  it("DRY", () => {
    const quarter = [0.25, 0.25, 0.25, 0.25];
    const fifth = [0.2, 0.2, 0.2, 0.2, 0.2];
    type DryCase = [number[], number[], number[], number, number, number, number, number[][]];
    const cases: DryCase[] = [
      [quarter, [0, 1], [0.25, 0.25, 0.25, 0.25], 1.0, 1.1, 2, 4, []],
      [quarter, [0, 1, 2, 0, 1], [0.296923, 0.296923, 0.296923, 0.109232], 1.0, 1.1, 2, 5, []],
      [fifth, [0, 1, 3, 4, 0, 1], [0.2, 0.2, 0.2, 0.2, 0.2], 1.0, 1.1, 2, 6, [[3]]],
      [fifth, [0, 1, 2, 0, 1], [0.241818, 0.241818, 0.241818, 0.241818, 0.032727], 2.0, 1.1, 2, 5, []],
      [fifth, [0, 1, 2, 3, 4, 0, 1], [0.2, 0.2, 0.2, 0.2, 0.2], 1.0, 1.1, 4, 7, []],
    ];
    for (const [probs, history, want, multiplier, base, allowedLength, window, breakers] of cases) {
      const row = run(probs, dry({ multiplier, base, allowedLength, window, breakers }), history);
      expectList(renormalised(row, probs.length), want);
    }
  });
});
