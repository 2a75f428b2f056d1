import { noGrad, optim, scratchScope, type Var } from "@zero-llm/autograd";
import { Rng, Tensor } from "@zero-llm/tensor";
import {
  DEFAULT_SETTINGS, resolveSettings, stepSeed, type Batch, type Config, type HistoryRow, type StepResult, type TrainSettings,
  type TransformerLM, type Weights,
} from "@zero-llm/transformer";
import { LoraError } from "../errors";
import type { LoraData } from "./data";
import { IGNORE } from "./data";
import type { TrainableLora} from "./trainable";
import { loraTrainingModel } from "./trainable";

/**
 * LoRA's defaults beside full training's (transformer's DEFAULT_SETTINGS): a few hundred steps
 * at a higher rate, no weight decay (PEFT / transformers' Trainer default), Adam's β2 = 0.999,
 * and checkpoints often (a run is short). `dropout` here is unused: LoRA's dropout is the
 * adapter's (LoraConfig.dropout), on the adapters' input only.
 */
export const LORA_DEFAULT_SETTINGS: TrainSettings = {
  ...DEFAULT_SETTINGS,
  steps: 200,
  batchSize: 8,
  lr: 1e-3,
  minLr: 1e-4,
  warmupSteps: 20,
  weightDecay: 0,
  beta2: 0.999,
  evalEvery: 50,
  evalWindows: 64,
  checkpointEvery: 50,
};

/** LORA_DEFAULT_SETTINGS with `partial` over them, checked (transformer's resolveSettings). */
export function loraSettings(partial: Partial<TrainSettings> = {}): TrainSettings {
  const steps = partial.steps ?? LORA_DEFAULT_SETTINGS.steps;
  const minLr = partial.minLr ?? (partial.lr !== undefined ? partial.lr / 10 : LORA_DEFAULT_SETTINGS.minLr);
  return resolveSettings({ ...LORA_DEFAULT_SETTINGS, warmupSteps: Math.min(LORA_DEFAULT_SETTINGS.warmupSteps, Math.floor(steps / 10)), minLr, ...partial });
}

/** Seeds of the LoRA dropout masks of a micro-batch: a stream apart from the data's. */
const LORA_DROPOUT_STREAM = 1 << 17;

/**
 * What training costs in memory, LoRA against full fine-tuning of the same model in f32: every
 * trained number has a gradient and two AdamW moments (3 × 4 bytes), and LoRA trains only the
 * adapters; the frozen base holds its weights only (4 bytes a number in f32, less quantized).
 */
export interface TrainingMemory {
  baseParameters: number;
  trainableParameters: number;
  /** trainable / base. */
  trainableFraction: number;
  /** Bytes the base weights take as stored. */
  baseWeightBytes: number;
  /** Gradients + AdamW moments of full fine-tuning (12 bytes per base parameter). */
  fullFineTuneStateBytes: number;
  /** Adapter weights, gradients and AdamW moments (16 bytes per adapter parameter). */
  loraStateBytes: number;
  /** fullFineTuneStateBytes − (loraStateBytes − adapter weights): the optimizer state LoRA does not hold. */
  savedBytes: number;
}

export function trainingMemory(weights: Weights, trainableParameters: number): TrainingMemory {
  const baseParameters = weights.parameterCount();
  const fullFineTuneStateBytes = 12 * baseParameters;
  return {
    baseParameters,
    trainableParameters,
    trainableFraction: trainableParameters / baseParameters,
    baseWeightBytes: weights.bytes(),
    fullFineTuneStateBytes,
    loraStateBytes: 16 * trainableParameters,
    savedBytes: fullFineTuneStateBytes - 12 * trainableParameters,
  };
}

/**
 * One LoRA run's moving parts: the frozen base with adapters (a TransformerLM over the base's
 * arrays), the data, AdamW over the adapters only, the warmup + cosine schedule, the steps done.
 * Everything random in step s (the batch, the dropout masks) is seeded from (seed, s), so a
 * trainer restored from a checkpoint continues bit for bit.
 */
export class LoraTrainer {
  readonly model: TransformerLM;
  readonly optimizer: optim.AdamW;
  readonly schedule: optim.LrSchedule;
  readonly params: readonly Var[];
  /** Optimizer steps done. */
  step = 0;
  readonly history: HistoryRow[] = [];

  constructor(
    readonly base: { config: Config; weights: Weights },
    readonly lora: TrainableLora,
    readonly data: LoraData,
    readonly settings: TrainSettings,
  ) {
    if (data.seqLen > base.config.seqLen) {
      throw new LoraError("BAD_DATA", `train: expected rows of at most the model's context (${base.config.seqLen} tokens), found ${data.seqLen}`);
    }
    this.model = loraTrainingModel(base, lora);
    this.params = lora.parameters();
    this.optimizer = new optim.AdamW(this.params, {
      lr: settings.lr, betas: [settings.beta1, settings.beta2], eps: settings.eps, weightDecay: settings.weightDecay,
    });
    this.schedule = optim.warmupCosineLr({ maxLr: settings.lr, minLr: settings.minLr, warmupSteps: settings.warmupSteps, totalSteps: settings.steps });
  }

  /**
   * One optimizer step: gradAccum micro-batches (each backward seeded with 1/gradAccum), clip,
   * schedule, AdamW on the adapters. A non-finite loss or gradient throws TRAIN_NAN before any
   * parameter changes.
   */
  trainStep(): StepResult {
    const t0 = performance.now();
    const { settings: s, model, lora } = this;
    model.train();
    for (const p of this.params) p.zeroGrad();
    const seed = new Tensor(Float32Array.of(1 / s.gradAccum), []);
    let lossSum = 0;
    let tokens = 0;
    for (let micro = 0; micro < s.gradAccum; micro++) {
      const batch = this.data.trainBatch(s.seed, this.step, micro, s.batchSize);
      tokens += batch.batch * batch.seqLen;
      lora.masks.generator = new Rng(stepSeed(s.seed, this.step, micro + LORA_DROPOUT_STREAM));
      scratchScope(() => {
        const loss = model.loss(batch.inputs, batch.targets, batch.batch, batch.seqLen);
        lossSum += loss.item();
        loss.backward(seed);
        lora.resetInputs();
      });
    }
    const loss = lossSum / s.gradAccum;
    const gradNorm = optim.clipGradNorm(this.params, s.gradClip > 0 ? s.gradClip : Infinity);
    if (!Number.isFinite(loss) || !Number.isFinite(gradNorm)) {
      for (const p of this.params) p.zeroGrad();
      throw new LoraError("TRAIN_NAN", `train: expected a finite loss and gradient at step ${this.step + 1}, found loss ${loss} and gradient norm ${gradNorm}; no update was applied (a lower --lr?)`);
    }
    const lr = this.schedule(this.step);
    this.optimizer.lr = lr;
    this.optimizer.step();
    for (const p of this.params) p.zeroGrad();
    this.step++;
    return { loss, lr, gradNorm, tokens, ms: performance.now() - t0 };
  }

  /** Mean cross-entropy of the learned tokens of the fixed validation set (eval mode, no graph). */
  evaluate(): number {
    return learnedLoss(this.model, this.data.validationBatches(this.settings.evalWindows, this.settings.batchSize), this.lora);
  }
}

/** Token-weighted mean cross-entropy over the targets that count (not IGNORE), eval mode, no graph. */
export function learnedLoss(model: TransformerLM, batches: readonly Batch[], lora?: TrainableLora): number {
  const wasTraining = model.training;
  model.eval();
  let total = 0, count = 0;
  noGrad(() => {
    for (const b of batches) {
      const n = b.targets.reduce((k, t) => k + (t === IGNORE ? 0 : 1), 0);
      if (n === 0) continue;
      total += scratchScope(() => {
        const loss = model.loss(b.inputs, b.targets, b.batch, b.seqLen).item();
        lora?.resetInputs();
        return loss;
      }) * n;
      count += n;
    }
  });
  model.train(wasTraining);
  return total / count;
}
