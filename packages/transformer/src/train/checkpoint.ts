import type { optim } from "@zero-llm/autograd";
import { SafetensorsFile, serializeSafetensors, Tensor, type SafetensorsTensorInput } from "@zero-llm/tensor";
import { TransformerError } from "../errors";
import { validateConfig, type Config } from "../infer/config";
import { TransformerLM } from "./model";
import { resolveSettings, type TrainSettings } from "./settings";
import type { HistoryRow, Trainer } from "./trainer";

/**
 * The training checkpoint: ONE safetensors file, so a single atomic rename publishes all of it
 * and no crash can leave weights from one step beside optimizer moments from another.
 *
 *   tensors (F32)
 *     <parameter name>                          the weights, Hugging Face names
 *     optimizer.exp_avg.<parameter name>        AdamW first moment m
 *     optimizer.exp_avg_sq.<parameter name>     AdamW second moment v
 *   __metadata__
 *     "format": "zero-llm-train"
 *     "zero-llm.train": JSON {
 *        version: 1, config, settings, step, history,
 *        data: { trainTokens, valTokens, fingerprint },      the stream it was trained on
 *        optimizer: { <parameter name>: steps taken }        Adam's bias-correction counts
 *     }
 *
 * The RNG state needs no field: every random draw of step s is seeded from (settings.seed, s).
 * Beside it the run directory holds config.json + model.safetensors (the inference engine's
 * Hugging Face layout, see run.ts); those are exports, the checkpoint alone resumes a run.
 */
export const CHECKPOINT_FILE = "checkpoint.safetensors";
export const CHECKPOINT_FORMAT = "zero-llm-train";
const VERSION = 1;

export interface DataFingerprint {
  trainTokens: number;
  valTokens: number;
  /** FNV-1a over the token ids (train then validation). */
  fingerprint: string;
}

export interface CheckpointState {
  config: Config;
  settings: TrainSettings;
  step: number;
  history: HistoryRow[];
  data: DataFingerprint;
  /** Weights and optimizer moments by name. */
  tensors: Map<string, Float32Array>;
  optimizerSteps: Record<string, number>;
}

export function fingerprintTokens(train: Int32Array, val: Int32Array): DataFingerprint {
  let h = 0x811c9dc5;
  for (const part of [train, val]) {
    for (let i = 0; i < part.length; i++) h = Math.imul(h ^ part[i], 0x01000193) >>> 0;
  }
  return { trainTokens: train.length, valTokens: val.length, fingerprint: h.toString(16).padStart(8, "0") };
}

/** The checkpoint of a trainer's current step, as file bytes. */
export function serializeCheckpoint(trainer: Trainer): Uint8Array {
  const tensors = new Map<string, SafetensorsTensorInput>();
  const optimizerSteps: Record<string, number> = {};
  for (const [name, p] of trainer.model.namedParameters()) tensors.set(name, { dtype: "F32", shape: p.shape, data: p.data });
  for (const group of [trainer.decayGroup, trainer.noDecayGroup]) {
    const state = group.optimizer.stateDict();
    group.names.forEach((name, i) => {
      optimizerSteps[name] = state.steps[i];
      const m = state.buffers.expAvg[i], v = state.buffers.expAvgSq[i];
      if (m !== null && v !== null) {
        const shape = group.optimizer.params[i].shape;
        tensors.set(`optimizer.exp_avg.${name}`, { dtype: "F32", shape, data: m });
        tensors.set(`optimizer.exp_avg_sq.${name}`, { dtype: "F32", shape, data: v });
      }
    });
  }
  const meta = {
    version: VERSION,
    config: trainer.model.config,
    settings: trainer.settings,
    step: trainer.step,
    history: trainer.history,
    data: fingerprintTokens(trainer.data.train, trainer.data.val),
    optimizer: optimizerSteps,
  };
  return serializeSafetensors({ tensors, metadata: { format: CHECKPOINT_FORMAT, "zero-llm.train": JSON.stringify(meta) } });
}

function bad(message: string, cause?: unknown): never {
  throw new TransformerError("BAD_CHECKPOINT", `checkpoint: ${message}`, cause === undefined ? undefined : { cause });
}

/** Parses and checks checkpoint bytes; BAD_CHECKPOINT says what is wrong. */
export function parseCheckpoint(bytes: Uint8Array): CheckpointState {
  let file: SafetensorsFile;
  try {
    file = SafetensorsFile.parse(bytes);
  } catch (e) {
    bad(`expected a complete safetensors file, found ${bytes.length} bytes that do not parse (${e instanceof Error ? e.message : String(e)})`, e);
  }
  if (file.metadata.format !== CHECKPOINT_FORMAT) bad(`expected metadata format "${CHECKPOINT_FORMAT}", found ${JSON.stringify(file.metadata.format)}`);
  let meta: {
    version?: unknown; config?: Config; settings?: Partial<TrainSettings>; step?: unknown; history?: unknown;
    data?: DataFingerprint; optimizer?: Record<string, number>;
  };
  try {
    meta = JSON.parse(file.metadata["zero-llm.train"] ?? "") as typeof meta;
  } catch (e) {
    bad(`expected JSON in metadata "zero-llm.train", found ${JSON.stringify((file.metadata["zero-llm.train"] ?? "").slice(0, 40))}`, e);
  }
  if (meta.version !== VERSION) bad(`expected version ${VERSION}, found ${JSON.stringify(meta.version)}`);
  if (typeof meta.step !== "number" || !Number.isInteger(meta.step) || meta.step < 0) bad(`expected a step count, found ${JSON.stringify(meta.step)}`);
  if (!Array.isArray(meta.history) || typeof meta.data !== "object" || typeof meta.optimizer !== "object") bad("expected history, data and optimizer fields, found some missing");
  let config: Config, settings: TrainSettings;
  try {
    config = validateConfig(meta.config as Config);
    settings = resolveSettings(meta.settings ?? {});
  } catch (e) {
    bad(e instanceof Error ? e.message : String(e), e);
  }
  const tensors = new Map<string, Float32Array>();
  for (const info of file.tensors) {
    if (info.dtype !== "F32") bad(`expected F32 tensors, found ${info.name} as ${info.dtype}`);
    tensors.set(info.name, file.tensorToFloat32(info.name));
  }
  return { config, settings, step: meta.step, history: meta.history as HistoryRow[], data: meta.data, tensors, optimizerSteps: meta.optimizer };
}

/** A model with the checkpoint's weights (names and shapes checked). */
export function modelFromCheckpoint(state: CheckpointState): TransformerLM {
  const model = new TransformerLM(state.config, { dropout: state.settings.dropout, seed: state.settings.seed });
  const weights = new Map<string, Tensor>();
  for (const [name, p] of model.namedParameters()) {
    const data = state.tensors.get(name);
    if (data === undefined) bad(`expected a tensor named ${name}, found none`);
    if (data.length !== p.size) bad(`expected ${name} with ${p.size} values, found ${data.length}`);
    weights.set(name, new Tensor(data, p.shape));
  }
  model.loadStateDict(weights, { strict: false });
  return model;
}

/** Puts the checkpoint's optimizer state and step count into a trainer built on its model. */
export function restoreTrainer(trainer: Trainer, state: CheckpointState): void {
  for (const group of [trainer.decayGroup, trainer.noDecayGroup]) {
    const restored: optim.OptimizerState = { lr: trainer.schedule(Math.max(0, state.step - 1)), steps: [], buffers: { expAvg: [], expAvgSq: [] } };
    group.names.forEach((name, i) => {
      const steps = state.optimizerSteps[name] ?? 0;
      restored.steps.push(steps);
      const m = state.tensors.get(`optimizer.exp_avg.${name}`) ?? null;
      const v = state.tensors.get(`optimizer.exp_avg_sq.${name}`) ?? null;
      if (steps > 0 && (m === null || v === null)) bad(`expected AdamW moments for ${name} (${steps} steps taken), found none`);
      const size = group.optimizer.params[i].size;
      if ((m !== null && m.length !== size) || (v !== null && v.length !== size)) bad(`expected moments of ${size} values for ${name}, found ${m?.length} and ${v?.length}`);
      restored.buffers.expAvg.push(m);
      restored.buffers.expAvgSq.push(v);
    });
    group.optimizer.loadStateDict(restored);
  }
  trainer.step = state.step;
  trainer.history.length = 0;
  trainer.history.push(...state.history);
}
