import { expect, it } from "vitest";
import { Model, randomWeights } from "../src/index";
import { allocatedPerStep } from "../../../tools/test-helpers/alloc-probe";
import { LLAMA, STEPS, claimIsolate, decodeLoop, js, packedF32 } from "./decode-alloc-helpers";

// One measured case per file, so per isolate: see decode-alloc-helpers.ts and infer-allocation.test.ts.
it("a decode step allocates nothing in this package's code: model.decode over a packed KV store (chunked attention)", () => {
  claimIsolate("model.decode over a packed KV store");
  const model = new Model(LLAMA, randomWeights(LLAMA, { seed: 1, backend: js }), { backend: js });
  const cache = model.newCache({ capacity: 160, kType: packedF32, vType: packedF32 });
  const perStep = allocatedPerStep(decodeLoop(model, cache), STEPS);
  console.log(`llama decode over a packed store: ${perStep.toFixed(3)} bytes allocated per step`);
  expect(perStep).toBeLessThan(1);
});
