import { expect, it } from "vitest";
import { LLAMA, STEPS, WARM, bytesPerStep, claimIsolate, decodeBatchStep, jsModel } from "./decode-alloc-helpers";

// One measured case per file, so per isolate: see decode-alloc-helpers.ts and infer-allocation.test.ts.
it("a decode step allocates nothing in this package's code: model.decodeBatch of 4 sequences", () => {
  claimIsolate("model.decodeBatch of 4 sequences");
  const model = jsModel(LLAMA, { maxBatchRows: 4 });
  const step = decodeBatchStep(model, 4);
  for (let i = 0; i < WARM / 4; i++) step(i);
  expect(bytesPerStep("llama decodeBatch of 4", step, STEPS / 4)).toBeLessThan(1);
});
