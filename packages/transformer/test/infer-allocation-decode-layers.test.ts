import { createWasmBackend } from "@zero-llm/tensor";
import { expect, it } from "vitest";
import { Model, randomWeights } from "../src/index";
import { LLAMA, STEPS, WARM, bytesPerStep, claimIsolate, decodeBatchStep } from "./decode-alloc-helpers";

// One measured case per file, so per isolate: see decode-alloc-helpers.ts and infer-allocation.test.ts.
// The batched step as one backend call (src/infer/decode-layers.ts, wasm decodeLayers, split by
// rows over 2 threads): the per-step cache tables and the job allocate nothing.
it("a decode step allocates nothing: model.decodeBatch of 4 sequences through wasm decodeLayers on 2 threads", async () => {
  claimIsolate("model.decodeBatch of 4 sequences, wasm decodeLayers");
  const backend = await createWasmBackend({ threads: 2, parallelMinMacs: 1 });
  try {
    const model = new Model(LLAMA, randomWeights(LLAMA, { seed: 1, backend }), { backend, maxBatchRows: 4 });
    let calls = 0;
    const decodeLayers = backend.decodeLayers.bind(backend);
    backend.decodeLayers = (...args) => {
      calls++;
      return decodeLayers(...args);
    };
    const step = decodeBatchStep(model, 4);
    for (let i = 0; i < WARM / 4; i++) step(i);
    expect(calls).toBe(WARM / 4); // every step went through decodeLayers
    expect(bytesPerStep("llama decodeBatch of 4, wasm decodeLayers", step, STEPS / 4)).toBeLessThan(1);
  } finally {
    await backend.dispose();
  }
});
