import { createWasmBackend, jsBackend } from "@zero-llm/tensor";
import { describe, expect, it } from "vitest";
import { Model, randomWeights } from "../src/index";
import { allocatedPerStep } from "../../../tools/test-helpers/alloc-probe";
import { LLAMA, STEPS, claimIsolate, decodeLoop, js, jsModel } from "./decode-alloc-helpers";

// Does a decode step allocate on the JavaScript heap? Measured as described in tools/test-helpers/alloc-probe.ts:
// after a warm-up, the young generation must not grow over thousands of steps (< 1 byte per
// step on average: any real per-step allocation is ≥ 16 bytes). The kernels are jsBackend's,
// except attention (see decode-alloc-helpers.ts). Each asserted case has a file of its own, so
// that it runs in a fresh isolate whose JIT feedback no other model shaped:
//   infer-allocation-llama.test.ts    model.decode, llama (GQA 4/2, untied)
//   infer-allocation-gpt2.test.ts     model.decode, gpt2 (LayerNorm, biases, GELU)
//   infer-allocation-packed.test.ts   model.decode over a packed KV store (chunked attention)
//   infer-allocation-batch.test.ts    model.decodeBatch of 4 sequences
// This file holds what those cases rely on: the swapped-in attention's parity, the probe's own
// ability to fail (also with a decode in the step), the isolation guard, and (reported, not
// asserted) what the unmodified backends allocate.

describe("a decode step allocates nothing in this package's code (js kernels): the instruments", () => {
  it("the swapped-in attention is jsBackend's math: same logits", () => {
    const a = new Model(LLAMA, randomWeights(LLAMA, { seed: 3 })), b = new Model(LLAMA, randomWeights(LLAMA, { seed: 3 }), { backend: js });
    const ca = a.newCache(), cb = b.newCache();
    for (let i = 0; i < 40; i++) {
      const x = a.decode(i, ca), y = b.decode(i, cb);
      for (let j = 0; j < x.length; j++) expect(Math.abs(x[j] - y[j])).toBeLessThan(1e-5);
    }
  });

  it("the probe sees a small per-step allocation (it can fail)", () => {
    const sink: unknown[] = [];
    expect(allocatedPerStep((i) => { sink[0] = [i]; }, STEPS)).toBeGreaterThanOrEqual(16);
    expect(allocatedPerStep((i) => { if (i % 16 === 0) sink[0] = i + 0.5; }, STEPS)).toBeGreaterThanOrEqual(0.9);
  });

  it("the probe discards a round whose long windows grew less than its short ones (code changed mid-round)", () => {
    // three heap numbers a call during the first 5 short windows, one after: read naively the
    // round says (4000·16 − 2000·48) / 2000 = −16 bytes per step, i.e. "nothing", hiding the 16
    const sink: unknown[] = [{}, {}, {}];
    let calls = 0;
    const slowing = (): void => {
      calls++;
      sink[0] = calls + 0.5;
      if (calls <= 5 * STEPS) {
        sink[1] = calls + 0.25;
        sink[2] = calls + 0.75;
      }
    };
    expect(allocatedPerStep(slowing, STEPS)).toBeGreaterThanOrEqual(15);
  });

  it("a decode step that boxes one number per step is caught (16 bytes)", () => {
    const decode = decodeLoop(jsModel(LLAMA));
    // first the decode alone, until it measures 0 (the probe warms up until the code is optimized)
    expect(allocatedPerStep(decode, STEPS)).toBeLessThan(1);
    const sink: unknown[] = [{}]; // holds objects, so a double stored in it is boxed (not a double array)
    const boxing = (i: number): void => {
      decode(i);
      sink[0] = i + 0.5; // one heap number per step
    };
    // two rounds at most: a steady round measuring 16 makes the probe warm up and measure again
    expect(allocatedPerStep(boxing, STEPS / 4, 5, 2)).toBeGreaterThanOrEqual(15);
  });

  it("a second measured case in one isolate is refused", () => {
    claimIsolate("the first case");
    expect(() => claimIsolate("the second case")).toThrow(/expected a JavaScript isolate of its own .* found "the first case"/);
  });

  it("what the unmodified backends' kernels allocate per step (reported, owned by @zero-llm/tensor)", async () => {
    const wasm = await createWasmBackend({ threads: 1 });
    for (const backend of [jsBackend, wasm]) {
      const model = new Model(LLAMA, randomWeights(LLAMA, { seed: 1, backend }), { backend });
      const perStep = allocatedPerStep(decodeLoop(model), 1000);
      console.log(`${backend.name} backend, ${LLAMA.nLayers} layers: ${Number.isFinite(perStep) ? perStep.toFixed(1) : "≥ a scavenge"} bytes per decode step`);
    }
    await wasm.dispose();
  });
});
