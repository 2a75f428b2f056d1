// Memory discipline of a training step (issue: "a training step must not grow memory from step to
// step"): on the wasm backend every activation and interior gradient of a step is cut from the
// scratch block of @zero-llm/autograd and given back at its end, and parameters, gradients and
// AdamW moments are allocated once. So after the first steps the backend's used bytes and the
// scratch block stay exactly the same, for both families.
import { scratchBytes } from "@zero-llm/autograd";
import { createWasmBackend, getBackend, setBackend } from "@zero-llm/tensor";
import { describe, expect, it } from "vitest";
import { TokenDataset, Trainer, TransformerLM, modelConfig, resolveSettings } from "../src";

describe("a training step holds no memory into the next", () => {
  for (const arch of ["llama", "gpt2"] as const) {
    it(`${arch}: wasm used bytes and the scratch block are constant from step 3 to step 12`, async () => {
      const previous = getBackend();
      const backend = await createWasmBackend({ threads: 1 });
      setBackend(backend);
      try {
        const model = new TransformerLM(modelConfig({ arch, dim: 64, nLayers: 2, nHeads: 4, nKvHeads: arch === "llama" ? 2 : 4, vocabSize: 200, seqLen: 32, hiddenDim: 128 }));
        const tokens = Array.from({ length: 5_000 }, (_, i) => (i * 17 + (i >> 5)) % 200);
        const trainer = new Trainer(model, new TokenDataset(tokens, 200, { seqLen: 32 }), resolveSettings({ steps: 20, batchSize: 4, gradAccum: 2, lr: 1e-3, warmupSteps: 2 }));
        const used: number[] = [], scratch: number[] = [];
        for (let step = 0; step < 12; step++) {
          trainer.trainStep();
          if (step % 4 === 3) trainer.evaluate(); // evaluation runs in scratch scopes too
          used.push(backend.usedBytes);
          scratch.push(scratchBytes());
        }
        expect(new Set(used.slice(3)).size, `used bytes per step: ${used.join(", ")}`).toBe(1);
        expect(new Set(scratch.slice(3)).size).toBe(1);
        expect(scratch[11]).toBeGreaterThan(0);
      } finally {
        setBackend(previous);
        await backend.dispose();
      }
    });
  }
});
