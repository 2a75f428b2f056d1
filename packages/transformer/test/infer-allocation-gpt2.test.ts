import { expect, it } from "vitest";
import { GPT2, bytesPerStep, claimIsolate, decodeLoop, jsModel } from "./decode-alloc-helpers";

// One measured case per file, so per isolate: see decode-alloc-helpers.ts and infer-allocation.test.ts.
it("a decode step allocates nothing in this package's code: model.decode, gpt2 (LayerNorm, biases, GELU)", () => {
  claimIsolate("model.decode, gpt2");
  expect(bytesPerStep("gpt2 decode", decodeLoop(jsModel(GPT2)))).toBeLessThan(1);
});
