import { Rng } from "@zero-llm/tensor";
import { describe, expect, it } from "vitest";
import { Logprobs, Sampler, SamplingError, toOpenAI } from "../src/index";
import { allocatedPerStep } from "../../../tools/test-helpers/alloc-probe";

describe("Logprobs", () => {
  it("the chosen token's ln p and the top-n, hand-computed", () => {
    // p = 0.5, 0.25, 0.125, 0.125 (logits ln p + 3: the shift must not matter)
    const logits = new Float32Array([0.5, 0.25, 0.125, 0.125].map((p) => Math.log(p) + 3));
    const lp = new Logprobs(3);
    lp.compute(logits, 3);
    expect(lp.chosenLogprob).toBeCloseTo(Math.log(0.125), 6);
    expect(lp.entry()).toEqual({
      id: 3,
      logprob: lp.chosenLogprob,
      top: [
        { id: 0, logprob: expect.closeTo(Math.log(0.5), 6) },
        { id: 1, logprob: expect.closeTo(Math.log(0.25), 6) },
        { id: 2, logprob: expect.closeTo(Math.log(0.125), 6) }, // tie with 3: the lower id
      ],
    });
  });

  it("agrees with log-softmax and a full sort on random rows; −Infinity tokens never appear in the top", () => {
    const rng = new Rng(4);
    for (let t = 0; t < 50; t++) {
      const n = 10 + rng.int(3000);
      const logits = new Float32Array(n).map(() => (rng.uniform() < 0.05 ? -Infinity : 10 * rng.normal()));
      logits[rng.int(n)] = 7; // keep at least one finite
      const z = Array.from(logits).reduce((s, v) => s + Math.exp(v), 0);
      const topN = rng.int(25);
      const lp = new Logprobs(topN);
      const chosen = rng.int(n);
      lp.compute(logits, chosen);
      expect(lp.chosenLogprob).toBeCloseTo(logits[chosen] - Math.log(z), 9);
      const order = Array.from(logits.keys()).filter((i) => logits[i] !== -Infinity).sort((a, b) => logits[b] - logits[a] || a - b);
      expect(Array.from(lp.topIds.subarray(0, lp.count))).toEqual(order.slice(0, topN));
      for (let j = 0; j < lp.count; j++) expect(lp.topLogprobs[j]).toBeCloseTo(logits[lp.topIds[j]] - Math.log(z), 9);
    }
  });

  it("raw (the model's distribution) or processed (after bias and penalties): whichever row is passed", () => {
    const logits = new Float32Array([2, 1, 0]);
    const sampler = new Sampler({ temperature: 0, logitBias: { 2: 5 } });
    const id = sampler.sample(logits);
    expect(id).toBe(2);
    const raw = new Logprobs(1), processed = new Logprobs(1);
    raw.compute(logits, id);
    processed.compute(sampler.processedLogits, id);
    const z = Math.exp(2) + Math.exp(1) + 1;
    expect(raw.chosenLogprob).toBeCloseTo(-Math.log(z), 6);
    expect(raw.entry().top[0].id).toBe(0);
    expect(processed.chosenLogprob).toBeCloseTo(5 - Math.log(Math.exp(2) + Math.exp(1) + Math.exp(5)), 6);
  });

  it("the OpenAI shape: token text (U+FFFD for part of a character), bytes, top_logprobs", () => {
    const pieces = [new TextEncoder().encode("hi"), new Uint8Array([0xe2, 0x82]), new Uint8Array([0xac])];
    const lp = new Logprobs(2);
    lp.compute(new Float32Array([1, 2, 0]), 1);
    expect(toOpenAI(lp.entry(), (id) => pieces[id])).toEqual({
      token: "\ufffd", logprob: lp.chosenLogprob, bytes: [0xe2, 0x82],
      top_logprobs: [
        { token: "\ufffd", logprob: lp.chosenLogprob, bytes: [0xe2, 0x82] },
        { token: "hi", logprob: expect.any(Number), bytes: [104, 105] },
      ],
    });
  });

  it("typed errors; compute() allocates nothing", () => {
    expect(() => new Logprobs(-1)).toThrow(SamplingError);
    const lp = new Logprobs(5);
    expect(() => lp.compute(new Float32Array(4), 4)).toThrow(/expected a chosen token id in \[0, 4\), found 4/);
    expect(() => lp.compute(new Float32Array([0, NaN]), 0)).toThrow(expect.objectContaining({ code: "SAMPLING_BAD_LOGITS" }));
    expect(() => lp.compute(new Float32Array([-Infinity]), 0)).toThrow(expect.objectContaining({ code: "SAMPLING_NO_CANDIDATES" }));
    const rows = [0, 1, 2].map((s) => new Float32Array(4096).map((_, i) => Math.sin(i * (s + 1))));
    const step = (i: number): void => lp.compute(rows[i % 3], i % 4096);
    for (let i = 0; i < 2000; i++) step(i);
    expect(allocatedPerStep(step, 200)).toBeLessThan(1);
  });
});
