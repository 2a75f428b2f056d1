import { jsBackend } from "@zero-llm/tensor";
import { describe, expect, it } from "vitest";
import { Model, TransformerError, randomWeights, type Config } from "../src/index";

// The final hidden states prefill hands out (what an embedding pools) must be exactly the vectors
// the classifier reads: logits[p] = lm_head · hidden[p], checked in float64 for every position of
// a prompt longer than one chunk, on both families.
const llama: Config = {
  arch: "llama", dim: 16, hiddenDim: 40, nLayers: 2, nHeads: 4, nKvHeads: 2, vocabSize: 37, seqLen: 32,
  normEps: 1e-5, ropeTheta: 10000, ropeStyle: "half", tiedEmbeddings: false,
};
const gpt2: Config = { ...llama, arch: "gpt2", nKvHeads: 4, tiedEmbeddings: true, ropeStyle: "interleaved" };

describe("prefill hiddenStates", () => {
  for (const config of [llama, gpt2]) {
    it(`${config.arch}: logits = lm_head · hidden at every position, across chunks`, () => {
      const weights = randomWeights(config, { seed: 7, backend: jsBackend });
      const model = new Model(config, weights, { maxBatchRows: 4 });
      const tokens = [1, 5, 9, 2, 30, 17, 4, 4, 8, 36, 0];
      const n = tokens.length;
      const hidden = new Float32Array(n * config.dim);
      const logits = new Float32Array(n * config.vocabSize);
      model.prefill(tokens, model.newCache(), { hiddenStates: hidden, allLogits: logits });
      const lmHead = weights.get("lm_head.weight").data;
      for (let p = 0; p < n; p++) {
        for (let v = 0; v < config.vocabSize; v++) {
          let dot = 0;
          for (let i = 0; i < config.dim; i++) dot += lmHead[v * config.dim + i] * hidden[p * config.dim + i];
          expect(Math.abs(dot - logits[p * config.vocabSize + v])).toBeLessThan(1e-4);
        }
      }
      // and the norm really ran: llama's RMSNorm (weights 1) leaves each row with mean square ≈ 1
      if (config.arch === "llama") {
        let ms = 0;
        for (let i = 0; i < config.dim; i++) ms += hidden[i] ** 2;
        expect(ms / config.dim).toBeCloseTo(1, 3);
      }
    });
  }

  it("refuses a buffer shorter than tokens × dim", () => {
    const model = new Model(llama, randomWeights(llama, { backend: jsBackend }));
    expect(() => model.prefill([1, 2, 3], model.newCache(), { hiddenStates: new Float32Array(3 * llama.dim - 1) }))
      .toThrow(TransformerError);
  });
});
