// Training on the wasm backend gives the same bits on 1 and 2 threads: every kernel computes each
// output element on one thread in one fixed order (matmul splits rows or columns, never k;
// reductions and the optimizer run on one thread), so a run is reproducible on any core count.
import { createWasmBackend, getBackend, setBackend, type WasmBackend } from "@zero-llm/tensor";
import { afterAll, describe, expect, it } from "vitest";
import { TokenDataset, Trainer, TransformerLM, modelConfig, resolveSettings } from "../src";

const made: WasmBackend[] = [];
afterAll(async () => { for (const b of made) await b.dispose(); });

async function run(threads: number, arch: "llama" | "gpt2"): Promise<{ losses: number[]; weights: Float32Array }> {
  const previous = getBackend();
  const backend = await createWasmBackend({ threads });
  made.push(backend);
  setBackend(backend);
  try {
    // big enough that matmul and attention really split across the threads
    const model = new TransformerLM(modelConfig({ arch, dim: 128, nLayers: 2, nHeads: 4, nKvHeads: arch === "llama" ? 2 : 4, vocabSize: 300, seqLen: 64, hiddenDim: 384 }));
    const tokens = Array.from({ length: 20_000 }, (_, i) => (i * 31 + (i >> 7)) % 300);
    const trainer = new Trainer(model, new TokenDataset(tokens, 300, { seqLen: 64 }), resolveSettings({ steps: 4, batchSize: 8, lr: 3e-3, warmupSteps: 1 }));
    const losses = [0, 1, 2, 3].map(() => trainer.trainStep().loss);
    const down = model.namedParameters().find(([name]) => name === "model.layers.1.mlp.down_proj.weight");
    return { losses, weights: down![1].data.slice() };
  } finally {
    setBackend(previous);
  }
}

describe("wasm training is independent of the thread count", () => {
  for (const arch of ["llama", "gpt2"] as const) {
    it(`${arch}: 4 steps on 1 and on 2 threads, bit for bit`, async () => {
      const [one, two] = [await run(1, arch), await run(2, arch)];
      expect(two.losses).toEqual(one.losses);
      expect(Buffer.from(two.weights.buffer).equals(Buffer.from(one.weights.buffer))).toBe(true);
    });
  }
});
