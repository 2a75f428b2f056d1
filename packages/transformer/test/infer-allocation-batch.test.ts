import { expect, it } from "vitest";
import { Model, randomWeights } from "../src/index";
import { allocatedPerStep } from "../../../tools/test-helpers/alloc-probe";
import { LLAMA, STEPS, WARM, claimIsolate, js } from "./decode-alloc-helpers";

// One measured case per file, so per isolate: see decode-alloc-helpers.ts and infer-allocation.test.ts.
it("a decode step allocates nothing in this package's code: model.decodeBatch of 4 sequences", () => {
  claimIsolate("model.decodeBatch of 4 sequences");
  const model = new Model(LLAMA, randomWeights(LLAMA, { seed: 1, backend: js }), { backend: js, maxBatchRows: 4 });
  const caches = Array.from({ length: 4 }, () => model.newCache({ capacity: 160 }));
  const tokens = new Int32Array(4);
  const step = (i: number): void => {
    if (caches[0].length === caches[0].capacity) for (const c of caches) c.truncate(32);
    for (let r = 0; r < 4; r++) tokens[r] = (i + r) % 64;
    model.decodeBatch(tokens, caches);
  };
  for (let i = 0; i < WARM / 4; i++) step(i);
  const perStep = allocatedPerStep(step, STEPS / 4);
  console.log(`llama decodeBatch of 4: ${perStep.toFixed(3)} bytes allocated per step`);
  expect(perStep).toBeLessThan(1);
});
