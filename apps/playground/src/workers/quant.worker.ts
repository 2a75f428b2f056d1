/// <reference lib="webworker" />
import { workerBackend } from "../lib/backend";
import { fetchText } from "../lib/fetch";
import { loadEmbeddedModel, type LoadedModel } from "../lib/model";
import { compareModels, projectionF32Bytes, quantizedModel, tensorErrors } from "../lib/quality";
import { serve } from "../lib/rpc";
import type { QuantProtocol } from "./quant-protocol";

let loaded: Promise<{ lm: LoadedModel; label: string }> | null = null;
const model = () => (loaded ??= workerBackend().then(async ({ backend, label }) => ({ lm: await loadEmbeddedModel(backend), label })));
const tick = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

serve<QuantProtocol>({
  async errors({ types }) {
    const { lm } = await model();
    const started = performance.now();
    return { tensors: tensorErrors(lm.model.weights, types), ms: performance.now() - started };
  },

  async quality({ types, maxTokens }, emit) {
    const { lm, label } = await model();
    const started = performance.now();
    // held-out Brown text (served beside the model): the model never trained on it
    const tokens = lm.tokenizer.encode(await fetchText("models/default/heldout.txt")).slice(0, maxTokens);
    for (const type of types) {
      const q = quantizedModel(lm.model, type, lm.model.backend);
      emit({ type, used: [...q.used], projectionBytes: q.projectionBytes, summary: compareModels(lm.model, q.model, tokens, lm.bos, 512) });
      await tick();
    }
    return { f32ProjectionBytes: projectionF32Bytes(lm.model), tokens: tokens.length, ms: performance.now() - started, backend: label };
  },
});
