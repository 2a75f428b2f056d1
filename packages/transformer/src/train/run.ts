import { f32ArrayToF16, serializeSafetensors, type SafetensorsTensorInput } from "@zero-llm/tensor";
import { makeDirectory, removeAbandonedTempFiles, writeFileAtomic } from "@zero-llm/tensor/node";
import { TransformerError } from "../errors";
import { hfFromModel } from "../formats/hf-write";
import type { Config } from "../infer/config";
import type { Weights } from "../infer/weights";
import {
  CHECKPOINT_FILE, fingerprintTokens, type CheckpointState, modelFromCheckpoint, parseCheckpoint, restoreTrainer, serializeCheckpoint,
} from "./checkpoint";
import { TokenDataset } from "./data";
import { TransformerLM } from "./model";
import { resolveSettings, type TrainSettings } from "./settings";
import { Trainer, type HistoryRow } from "./trainer";

/**
 * A whole training run on disk (Node only). The run directory holds:
 *
 *   checkpoint.safetensors   weights + AdamW moments + step/settings/history (checkpoint.ts): resumes the run
 *   config.json              Hugging Face config of the model        } what `loadModel(dir)` and
 *   model.safetensors        the weights in Hugging Face layout       } `zllm generate --model dir` read
 *   loss.csv                 step,loss,lr,grad_norm,tokens_per_s,val_loss
 *
 * Every file is written whole to a temporary name and renamed over the old one (writeFileAtomic),
 * so killing the process at any instant leaves each file either the previous version or the new
 * one; checkpoint.safetensors is self-contained, so it alone is always a consistent restart point.
 * (config.json is the same at every checkpoint of a run, so the exported pair never disagrees.)
 * A kill between a temporary write and its rename leaves the temporary file; the next run in the
 * directory deletes it first (removeStaleTempFiles).
 */

/**
 * What a training run reports after its start event: each step, each evaluation, each checkpoint
 * written, and the end. The same for a full run (trainRun) and a LoRA run (@zero-llm/lora), whose
 * start events differ.
 */
export type TrainProgressEvent =
  | ({ type: "step"; steps: number; elapsedMs: number; etaMs: number } & HistoryRow)
  | { type: "eval"; step: number; valLoss: number }
  | { type: "checkpoint"; step: number; path: string }
  | { type: "done"; step: number; valLoss: number; elapsedMs: number };

export type TrainEvent =
  | { type: "start"; step: number; steps: number; parameters: number; tokensPerStep: number; trainTokens: number; valTokens: number; resumed: boolean }
  | TrainProgressEvent;

export interface TrainRunOptions {
  /** The run directory (created if missing). */
  outDir: string;
  /** The token stream (split into train/validation by settings.valFraction). */
  tokens: ArrayLike<number>;
  /** A new run's model and settings (ignored when resuming: the checkpoint's are used, see resumeSettings). */
  config: Config;
  settings: TrainSettings;
  /** Continue from outDir/checkpoint.safetensors if it exists. */
  resume?: boolean;
  /**
   * When resuming, the settings that may change (the rest are the checkpoint's):
   * - steps: the run's new total, at least the steps already done. The warmup + cosine schedule
   *   is redefined over the new total from the next step on; steps already taken keep the rates
   *   they had, so an extended run equals an uninterrupted run of the new length only when the
   *   schedule is flat over the steps done (for example minLr = lr and no warmup).
   * - evalEvery, checkpointEvery: bookkeeping, no effect on the weights.
   */
  resumeSettings?: Partial<Pick<TrainSettings, "steps" | "evalEvery" | "checkpointEvery">>;
  /** Stop (with a checkpoint) once this many steps are done in total, before settings.steps. */
  stopAtStep?: number;
  /** Window length (default config.seqLen). */
  seqLen?: number;
  onEvent?: (event: TrainEvent) => void;
  /** Keys merged into the exported config.json (e.g. bos_token_id / eos_token_id of the tokenizer). */
  hfConfigExtra?: Record<string, unknown>;
}

export interface TrainRunResult {
  model: TransformerLM;
  trainer: Trainer;
  /** Validation loss at the last step. */
  valLoss: number;
}

/** Builds (or restores) the trainer, then steps, evaluates and checkpoints until done. */
export async function trainRun(options: TrainRunOptions): Promise<TrainRunResult> {
  const fs = await import("node:fs/promises");
  const path = await import("node:path");
  const { outDir, onEvent } = options;
  await makeDirectory(outDir);
  const checkpointPath = path.join(outDir, CHECKPOINT_FILE);

  await removeStaleTempFiles(outDir);

  let trainer: Trainer;
  let resumed = false;
  let settingsChanged = false;
  const exists = await fs.stat(checkpointPath).then(() => true, () => false);
  if (options.resume && exists) {
    const state = parseCheckpoint(new Uint8Array(await fs.readFile(checkpointPath)));
    const data = new TokenDataset(options.tokens, state.config.vocabSize, { seqLen: options.seqLen ?? state.config.seqLen, valFraction: state.settings.valFraction });
    const found = fingerprintTokens(data.train, data.val);
    if (found.fingerprint !== state.data.fingerprint || found.trainTokens !== state.data.trainTokens) {
      throw new TransformerError(
        "RESUME_MISMATCH",
        `resume: expected the token stream the checkpoint was trained on (${state.data.trainTokens} + ${state.data.valTokens} tokens, fingerprint ${state.data.fingerprint}), found ${found.trainTokens} + ${found.valTokens} tokens, fingerprint ${found.fingerprint}`,
      );
    }
    const settings = resolveSettings({ ...state.settings, ...definedOnly(options.resumeSettings ?? {}) });
    if (settings.steps < state.step) {
      throw new TransformerError("BAD_CONFIG", `resume: expected steps >= the ${state.step} steps the checkpoint has done, found ${settings.steps}`);
    }
    settingsChanged = (["steps", "evalEvery", "checkpointEvery"] as const).some((k) => settings[k] !== state.settings[k]);
    trainer = new Trainer(modelFromCheckpoint(state), data, settings);
    restoreTrainer(trainer, state);
    resumed = true;
  } else {
    if (!options.resume && exists) {
      throw new TransformerError("BAD_CONFIG", `train: expected an empty run directory, found a checkpoint in ${outDir} (resume it, or choose another directory)`);
    }
    const data = new TokenDataset(options.tokens, options.config.vocabSize, { seqLen: options.seqLen ?? options.config.seqLen, valFraction: options.settings.valFraction });
    const model = new TransformerLM(options.config, { seed: options.settings.seed, dropout: options.settings.dropout });
    trainer = new Trainer(model, data, options.settings);
  }

  const s = trainer.settings;
  const lastStep = Math.min(s.steps, options.stopAtStep ?? s.steps);
  let lastCheckpointStep = resumed ? trainer.step : -1;
  const save = async (): Promise<void> => {
    await writeFileAtomic(checkpointPath, [serializeCheckpoint(trainer)]);
    await exportForInference(outDir, trainer.model.config, trainer.model.toWeights(), { extra: options.hfConfigExtra });
    await writeFileAtomic(path.join(outDir, "loss.csv"), [new TextEncoder().encode(lossCsv(trainer.history))]);
    lastCheckpointStep = trainer.step;
    onEvent?.({ type: "checkpoint", step: trainer.step, path: checkpointPath });
  };

  onEvent?.({
    type: "start", step: trainer.step, steps: s.steps, parameters: trainer.model.numParameters(), tokensPerStep: trainer.tokensPerStep,
    trainTokens: trainer.data.train.length, valTokens: trainer.data.val.length, resumed,
  });
  const t0 = performance.now();
  const firstStep = trainer.step;
  let valLoss = NaN;
  while (trainer.step < lastStep) {
    let result;
    try {
      result = trainer.trainStep();
    } catch (e) {
      if (e instanceof TransformerError && e.code === "TRAIN_NAN") {
        const kept = lastCheckpointStep >= 0 ? `the last checkpoint (step ${lastCheckpointStep}) in ${outDir} is intact` : "no checkpoint was written yet";
        throw new TransformerError("TRAIN_NAN", `${e.message}; training stopped, ${kept}`, { cause: e });
      }
      throw e;
    }
    const row: HistoryRow = { step: trainer.step, loss: result.loss, lr: result.lr, gradNorm: result.gradNorm, tokensPerSecond: (result.tokens * 1000) / result.ms };
    const isLast = trainer.step === lastStep;
    if ((s.evalEvery > 0 && trainer.step % s.evalEvery === 0) || isLast) {
      row.valLoss = valLoss = trainer.evaluate();
      onEvent?.({ type: "eval", step: trainer.step, valLoss });
    }
    trainer.history.push(row);
    const elapsedMs = performance.now() - t0;
    const done = trainer.step - firstStep;
    onEvent?.({ type: "step", ...row, steps: s.steps, elapsedMs, etaMs: (elapsedMs / done) * (lastStep - trainer.step) });
    if ((s.checkpointEvery > 0 && trainer.step % s.checkpointEvery === 0) || isLast) await save();
  }
  // A resume that only changed the settings (e.g. --steps down to the step reached) still records them.
  if (resumed && settingsChanged && trainer.step === firstStep) await save();
  if (Number.isNaN(valLoss)) valLoss = trainer.evaluate();
  onEvent?.({ type: "done", step: trainer.step, valLoss, elapsedMs: performance.now() - t0 });
  return { model: trainer.model, trainer, valLoss };
}

/** The loss curve as CSV (val_loss empty on steps without validation). */
export function lossCsv(history: readonly HistoryRow[]): string {
  const lines = ["step,loss,lr,grad_norm,tokens_per_s,val_loss"];
  for (const r of history) {
    lines.push([r.step, r.loss.toFixed(6), r.lr.toExponential(4), r.gradNorm.toFixed(4), r.tokensPerSecond.toFixed(1), r.valLoss === undefined ? "" : r.valLoss.toFixed(6)].join(","));
  }
  return `${lines.join("\n")}\n`;
}

/**
 * config.json + model.safetensors in the Hugging Face layout the inference engine loads. A GPT-2
 * with an untied lm_head (which transformers' GPT2LMHeadModel cannot express) is written with
 * `tie_word_embeddings: false` and an lm_head.weight tensor, which readHf honours.
 */
export async function exportForInference(
  dir: string, config: Config, weights: Weights,
  options: { dtype?: "F32" | "F16"; extra?: Record<string, unknown> } = {},
): Promise<void> {
  const path = await import("node:path");
  const dtype = options.dtype ?? "F32";
  const untiedGpt2 = config.arch === "gpt2" && !config.tiedEmbeddings;
  const checkpoint = hfFromModel(untiedGpt2 ? { ...config, tiedEmbeddings: true } : config, weights, { dtype });
  const json: Record<string, unknown> = { ...checkpoint.config, ...options.extra };
  const tensors = new Map<string, SafetensorsTensorInput>(checkpoint.safetensors.tensors instanceof Map ? checkpoint.safetensors.tensors : Object.entries(checkpoint.safetensors.tensors));
  if (untiedGpt2) {
    json.tie_word_embeddings = false;
    const head = weights.get("lm_head.weight");
    tensors.set("lm_head.weight", dtype === "F32" ? { dtype, shape: head.shape, data: head.data } : { dtype, shape: head.shape, data: f32ArrayToF16(head.data) });
  }
  await writeFileAtomic(path.join(dir, "model.safetensors"), [serializeSafetensors({ metadata: checkpoint.safetensors.metadata, tensors })]);
  await writeFileAtomic(path.join(dir, "config.json"), [new TextEncoder().encode(`${JSON.stringify(json, null, 2)}\n`)]);
}

/** Reads a run directory's checkpoint (for `zllm train --resume` status and tests). */
export async function readCheckpointFile(file: string): Promise<CheckpointState> {
  const fs = await import("node:fs/promises");
  const bytes = await fs.readFile(file).catch((cause: unknown) => {
    throw new TransformerError("BAD_CHECKPOINT", `checkpoint: expected a file at ${file}, found nothing`, { cause });
  });
  return parseCheckpoint(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
}

function definedOnly<T extends object>(partial: T): Partial<T> {
  return Object.fromEntries(Object.entries(partial).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** The files a run directory holds that are written through writeFileAtomic (run.ts and `zllm train`). */
export const RUN_FILES: readonly string[] = [CHECKPOINT_FILE, "model.safetensors", "config.json", "loss.csv", "tokenizer.bpe.json", "tokenizer.json"];

/**
 * Deletes the temporary files an interrupted writer left in a run directory: writeFileAtomic's
 * names for one of RUN_FILES whose process is gone (see removeAbandonedTempFiles in
 * @zero-llm/tensor). Returns the names removed; a missing directory has none.
 */
export async function removeStaleTempFiles(dir: string): Promise<string[]> {
  return removeAbandonedTempFiles(dir, RUN_FILES);
}
