import { stat } from "node:fs/promises";
import path from "node:path";
import { makeDirectory, readFileBounded, removeAbandonedTempFiles, writeFileAtomic } from "@zero-llm/tensor/node";
import { resolveSettings, type Config, type HistoryRow, type TrainSettings, type Weights } from "@zero-llm/transformer";
import { lossCsv, type TrainProgressEvent } from "@zero-llm/transformer/node";
import { LoraAdapter } from "../adapter";
import type { LoraConfig } from "../config";
import { LoraError } from "../errors";
import { ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE, peftAdapterFiles } from "../formats/peft";
import {
  LORA_CHECKPOINT_FILE, adapterFromCheckpoint, baseFingerprint, parseLoraCheckpoint, restoreLoraTrainer, serializeLoraCheckpoint,
  type LoraCheckpointState,
} from "../train/checkpoint";
import type { LoraData } from "../train/data";
import { TrainableLora } from "../train/trainable";
import { LoraTrainer, trainingMemory, type TrainingMemory } from "../train/trainer";

/**
 * A LoRA training run on disk (Node only). The run directory is a PEFT adapter directory too:
 *
 *   checkpoint.safetensors      adapter + AdamW moments + step/settings/history (resumes the run)
 *   adapter_config.json         } the adapter so far, PEFT's layout: `--lora DIR` and
 *   adapter_model.safetensors   } PeftModel.from_pretrained read it
 *   loss.csv                    step,loss,lr,grad_norm,tokens_per_s,val_loss
 *
 * Every file is written whole to a temporary name and renamed over the old one, so a kill at any
 * instant leaves each file its previous or its new version; the checkpoint alone is a consistent
 * restart point. Temporary files of a killed run are removed by the next run in the directory.
 */
export const LORA_RUN_FILES: readonly string[] = [LORA_CHECKPOINT_FILE, ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE, "loss.csv"];

export type LoraTrainEvent =
  | {
      type: "start"; step: number; steps: number; modules: number; memory: TrainingMemory; data: string; resumed: boolean;
    }
  | TrainProgressEvent;

export interface LoraTrainRunOptions {
  /** The run directory (created if missing). */
  outDir: string;
  /** The frozen base model (its weights are never written). */
  base: { config: Config; weights: Weights };
  /** base_model_name_or_path in adapter_config.json: the path or name the base came from. */
  baseModel: string;
  data: LoraData;
  /** A new run's adapter (ignored when resuming: the checkpoint's). */
  lora: Partial<LoraConfig>;
  /** A new run's settings (ignored when resuming, see resumeSettings). */
  settings: TrainSettings;
  /** Continue from outDir/checkpoint.safetensors if it exists. */
  resume?: boolean;
  /** When resuming, what may change: the total steps (not below those done) and the bookkeeping intervals. */
  resumeSettings?: Partial<Pick<TrainSettings, "steps" | "evalEvery" | "checkpointEvery">>;
  /** Stop (with a checkpoint) once this many steps are done in total. */
  stopAtStep?: number;
  onEvent?: (event: LoraTrainEvent) => void;
}

export interface LoraTrainRunResult {
  trainer: LoraTrainer;
  /** The trained adapter (a copy, Hugging Face row order). */
  adapter: LoraAdapter;
  valLoss: number;
}

/** Reads a run directory's checkpoint (for `zllm lora train --resume` and tests). */
export async function readLoraCheckpoint(file: string): Promise<LoraCheckpointState> {
  const bytes = await readFileBounded(file, 8 * 1024 ** 3).catch((e: unknown) => {
    throw new LoraError("BAD_CHECKPOINT", `lora checkpoint: expected a file at ${file}, found ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  });
  return parseLoraCheckpoint(bytes);
}

/** Deletes the temporary files an interrupted run left in `dir` (of LORA_RUN_FILES, writer gone). */
export async function removeStaleLoraTempFiles(dir: string): Promise<string[]> {
  return removeAbandonedTempFiles(dir, LORA_RUN_FILES);
}

/** Builds (or restores) the trainer, then steps, evaluates and checkpoints until done. */
export async function loraTrainRun(options: LoraTrainRunOptions): Promise<LoraTrainRunResult> {
  const { outDir, onEvent, base, data } = options;
  await makeDirectory(outDir);
  await removeStaleLoraTempFiles(outDir);
  const checkpointPath = path.join(outDir, LORA_CHECKPOINT_FILE);
  const exists = await stat(checkpointPath).then(() => true, () => false);
  const baseHash = baseFingerprint(base.config, base.weights);

  let trainer: LoraTrainer;
  let resumed = false;
  let settingsChanged = false;
  if (options.resume && exists) {
    const state = await readLoraCheckpoint(checkpointPath);
    if (state.base !== baseHash || JSON.stringify(state.model) !== JSON.stringify(base.config)) {
      throw new LoraError("RESUME_MISMATCH", `resume: expected the base model the checkpoint was trained on (fingerprint ${state.base}, ${state.baseModel || "unnamed"}), found another one (fingerprint ${baseHash})`);
    }
    const found = data.fingerprint();
    if (found.fingerprint !== state.data.fingerprint || found.trainTokens !== state.data.trainTokens) {
      throw new LoraError(
        "RESUME_MISMATCH",
        `resume: expected the data the checkpoint was trained on (${state.data.trainTokens} + ${state.data.valTokens} tokens, fingerprint ${state.data.fingerprint}), found ${found.trainTokens} + ${found.valTokens}, fingerprint ${found.fingerprint}`,
      );
    }
    const changes = Object.fromEntries(Object.entries(options.resumeSettings ?? {}).filter(([, v]) => v !== undefined));
    const settings = resolveSettings({ ...state.settings, ...changes });
    if (settings.steps < state.step) throw new LoraError("BAD_CONFIG", `resume: expected steps >= the ${state.step} steps the checkpoint has done, found ${settings.steps}`);
    settingsChanged = (["steps", "evalEvery", "checkpointEvery"] as const).some((k) => settings[k] !== state.settings[k]);
    trainer = new LoraTrainer(base, new TrainableLora(base.config, adapterFromCheckpoint(state)), data, settings);
    restoreLoraTrainer(trainer, state);
    resumed = true;
  } else {
    if (exists) throw new LoraError("BAD_CONFIG", `train: expected a run directory without a checkpoint, found one in ${outDir} (resume it, or choose another directory)`);
    const adapter = LoraAdapter.create(base.config, options.lora, { seed: options.settings.seed, baseModel: options.baseModel });
    trainer = new LoraTrainer(base, new TrainableLora(base.config, adapter), data, options.settings);
  }

  const s = trainer.settings;
  const lastStep = Math.min(s.steps, options.stopAtStep ?? s.steps);
  const save = async (): Promise<void> => {
    await writeFileAtomic(checkpointPath, [serializeLoraCheckpoint(trainer, baseHash)]);
    const { configJson, safetensors } = peftAdapterFiles(trainer.lora.toAdapter());
    await writeFileAtomic(path.join(outDir, ADAPTER_WEIGHTS_FILE), [safetensors]);
    await writeFileAtomic(path.join(outDir, ADAPTER_CONFIG_FILE), [new TextEncoder().encode(configJson)]);
    await writeFileAtomic(path.join(outDir, "loss.csv"), [new TextEncoder().encode(lossCsv(trainer.history))]);
    onEvent?.({ type: "checkpoint", step: trainer.step, path: checkpointPath });
  };

  onEvent?.({
    type: "start", step: trainer.step, steps: s.steps, modules: trainer.lora.modules.length,
    memory: trainingMemory(base.weights, trainer.lora.parameterCount()), data: data.describe(), resumed,
  });
  const t0 = performance.now();
  const firstStep = trainer.step;
  let valLoss = NaN;
  while (trainer.step < lastStep) {
    const result = trainer.trainStep();
    const row: HistoryRow = { step: trainer.step, loss: result.loss, lr: result.lr, gradNorm: result.gradNorm, tokensPerSecond: (result.tokens * 1000) / result.ms };
    const isLast = trainer.step === lastStep;
    if ((s.evalEvery > 0 && trainer.step % s.evalEvery === 0) || isLast) {
      row.valLoss = valLoss = trainer.evaluate();
      onEvent?.({ type: "eval", step: trainer.step, valLoss });
    }
    trainer.history.push(row);
    const elapsedMs = performance.now() - t0;
    onEvent?.({ type: "step", ...row, steps: s.steps, elapsedMs, etaMs: (elapsedMs / (trainer.step - firstStep)) * (lastStep - trainer.step) });
    if ((s.checkpointEvery > 0 && trainer.step % s.checkpointEvery === 0) || isLast) await save();
  }
  if (resumed && settingsChanged && trainer.step === firstStep) await save();
  if (Number.isNaN(valLoss)) valLoss = trainer.evaluate();
  onEvent?.({ type: "done", step: trainer.step, valLoss, elapsedMs: performance.now() - t0 });
  return { trainer, adapter: trainer.lora.toAdapter(), valLoss };
}
