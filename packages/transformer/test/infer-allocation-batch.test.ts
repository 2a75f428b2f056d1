import { expect, it } from "vitest";
import { LLAMA, STEPS, WARM, bytesPerStep, claimIsolate, jsModel } from "./decode-alloc-helpers";

// One measured case per file, so per isolate: see decode-alloc-helpers.ts and infer-allocation.test.ts.
it("a decode step allocates nothing in this package's code: model.decodeBatch of 4 sequences", () => {
  claimIsolate("model.decodeBatch of 4 sequences");
  const model = jsModel(LLAMA, { maxBatchRows: 4 });
  const caches = Array.from({ length: 4 }, () => model.newCache({ capacity: 160 }));
  const tokens = new Int32Array(4);
  const step = (i: number): void => {
    if (caches[0].length === caches[0].capacity) for (const c of caches) c.truncate(32);
    for (let r = 0; r < 4; r++) tokens[r] = (i + r) % 64;
    model.decodeBatch(tokens, caches);
  };
  for (let i = 0; i < WARM / 4; i++) step(i);
  expect(bytesPerStep("llama decodeBatch of 4", step, STEPS / 4)).toBeLessThan(1);
});
