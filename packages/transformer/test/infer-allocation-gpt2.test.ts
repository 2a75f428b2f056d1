import { expect, it } from "vitest";
import { Model, randomWeights } from "../src/index";
import { allocatedPerStep } from "../../../tools/test-helpers/alloc-probe";
import { GPT2, STEPS, claimIsolate, decodeLoop, js } from "./decode-alloc-helpers";

// One measured case per file, so per isolate: see decode-alloc-helpers.ts and infer-allocation.test.ts.
it("a decode step allocates nothing in this package's code: model.decode, gpt2 (LayerNorm, biases, GELU)", () => {
  claimIsolate("model.decode, gpt2");
  const model = new Model(GPT2, randomWeights(GPT2, { seed: 1, backend: js }), { backend: js });
  const perStep = allocatedPerStep(decodeLoop(model), STEPS);
  console.log(`gpt2 decode: ${perStep.toFixed(3)} bytes allocated per step`);
  expect(perStep).toBeLessThan(1);
});
