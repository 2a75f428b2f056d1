import { expect, it } from "vitest";
import { LLAMA, bytesPerStep, claimIsolate, decodeLoop, jsModel } from "./decode-alloc-helpers";

// One measured case per file, so per isolate: see decode-alloc-helpers.ts and infer-allocation.test.ts.
it("a decode step allocates nothing in this package's code: model.decode, llama (GQA 4/2, untied)", () => {
  claimIsolate("model.decode, llama");
  expect(bytesPerStep("llama decode", decodeLoop(jsModel(LLAMA)))).toBeLessThan(1);
});
