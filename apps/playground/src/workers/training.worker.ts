/// <reference lib="webworker" />
import { serializeCheckpoint, serializeGgufModel, type HistoryRow } from "@zero-llm/transformer";
import { workerBackend } from "../lib/backend";
import { serve, WorkerCallError } from "../lib/rpc";
import { sampleText, setUpTraining, type TrainingRun } from "../lib/training";
import type { TrainingProtocol } from "./training-protocol";

const ready = workerBackend();
let run: TrainingRun | null = null;
let paused = false, stopRequested = false;
let wake: (() => void) | null = null;
const tick = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

serve<TrainingProtocol>({
  async train(setup, emit) {
    const { backend, label } = await ready;
    paused = false;
    stopRequested = false;
    const t0 = performance.now();
    run = setUpTraining(setup);
    const { trainer, tokenizer, tokens } = run;
    emit({ kind: "ready", tokens: tokens.length, vocabSize: tokenizer.vocabSize, parameters: trainer.model.parameters().reduce((n, p) => n + p.size, 0), backend: label, tokenizerMs: performance.now() - t0 });
    const prompt = setup.text.trim().split(/\s+/)[0] ?? "";
    const started = performance.now();
    let busyMs = 0, valLoss = NaN;
    while (trainer.step < setup.steps && !stopRequested) {
      if (paused) {
        emit({ kind: "paused", step: trainer.step });
        await new Promise<void>((resolve) => (wake = resolve));
        emit({ kind: "resumed", step: trainer.step });
        continue;
      }
      const r = trainer.trainStep();
      busyMs += r.ms;
      emit({ kind: "step", step: trainer.step, loss: r.loss, lr: r.lr, tokensPerSecond: (trainer.step * trainer.tokensPerStep) / (busyMs / 1000) });
      // the loss history goes into the checkpoint, row for row as trainRun records it
      const row: HistoryRow = { step: trainer.step, loss: r.loss, lr: r.lr, gradNorm: r.gradNorm, tokensPerSecond: (r.tokens * 1000) / r.ms };
      if (trainer.step % trainer.settings.evalEvery === 0 || trainer.step === setup.steps) {
        row.valLoss = valLoss = trainer.evaluate();
        emit({ kind: "eval", step: trainer.step, valLoss });
      }
      trainer.history.push(row);
      if (trainer.step % 50 === 0 || trainer.step === setup.steps) emit({ kind: "sample", step: trainer.step, text: sampleText(run, backend, prompt, 40, trainer.step) });
      await tick(); // pause, stop and checkpoint requests come in here
    }
    return { steps: trainer.step, stopped: stopRequested, valLoss, ms: performance.now() - started };
  },
  pause() {
    paused = true;
    return null;
  },
  resume() {
    paused = false;
    wake?.();
    wake = null;
    return null;
  },
  stop() {
    stopRequested = true;
    paused = false;
    wake?.();
    return null;
  },
  checkpoint() {
    if (!run) throw new WorkerCallError("BAD_INPUT", "checkpoint: expected a training run, found none (press Train first)");
    // the same file `zllm train` writes (weights, AdamW moments, settings, step, loss history)
    return { bytes: serializeCheckpoint(run.trainer), step: run.trainer.step };
  },
  gguf() {
    if (!run) throw new WorkerCallError("BAD_INPUT", "gguf: expected a training run, found none (press Train first)");
    // a model file with its tokenizer: `zllm generate --model file.gguf` and llama.cpp load it
    const { config } = run.trainer.model;
    return { bytes: serializeGgufModel(config, run.trainer.model.toWeights(), { tokenizer: run.tokenizer }), step: run.trainer.step };
  },
});
