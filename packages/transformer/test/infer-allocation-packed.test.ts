import { expect, it } from "vitest";
import { LLAMA, bytesPerStep, claimIsolate, decodeLoop, jsModel, packedF32 } from "./decode-alloc-helpers";

// One measured case per file, so per isolate: see decode-alloc-helpers.ts and infer-allocation.test.ts.
it("a decode step allocates nothing in this package's code: model.decode over a packed KV store (chunked attention)", () => {
  claimIsolate("model.decode over a packed KV store");
  const model = jsModel(LLAMA);
  const cache = model.newCache({ capacity: 160, kType: packedF32, vType: packedF32 });
  expect(bytesPerStep("llama decode over a packed store", decodeLoop(model, cache))).toBeLessThan(1);
});
