import { noGrad, optim, scratchScope, type Var } from "@zero-llm/autograd";
import { Rng, Tensor } from "@zero-llm/tensor";
import { TransformerError } from "../errors";
import { stepSeed, type Batch, type TokenDataset } from "./data";
import type { TransformerLM } from "./model";
import type { TrainSettings } from "./settings";

/** One row of the loss curve. */
export interface HistoryRow {
  /** Optimizer steps done when the row was recorded (1-based). */
  step: number;
  /** Mean training loss of this step's micro-batches. */
  loss: number;
  lr: number;
  /** Global gradient norm before clipping. */
  gradNorm: number;
  /** Training tokens per second over this step. */
  tokensPerSecond: number;
  /** Validation loss, on the steps where it was measured. */
  valLoss?: number;
}

export interface StepResult {
  loss: number;
  lr: number;
  gradNorm: number;
  /** Tokens consumed by this step (batchSize · gradAccum · seqLen). */
  tokens: number;
  ms: number;
}

/** Seed of the dropout masks of one micro-batch: a stream apart from the data's (micro + 2^16). */
const DROPOUT_STREAM = 1 << 16;

/**
 * One training run's moving parts: the model, its data, AdamW in two groups (matrices with
 * weight decay, vectors without: norms and biases), the warmup + cosine schedule, and the
 * count of steps done. `trainStep()` is one optimizer step; everything it draws at random is
 * seeded from (seed, step), so a trainer restored from a checkpoint continues bit for bit.
 */
export class Trainer {
  readonly model: TransformerLM;
  readonly data: TokenDataset;
  readonly settings: TrainSettings;
  readonly schedule: optim.LrSchedule;
  /** AdamW over the 2-d parameters (λ = weightDecay) and over the rest (λ = 0). */
  readonly decayGroup: { names: string[]; optimizer: optim.AdamW };
  readonly noDecayGroup: { names: string[]; optimizer: optim.AdamW };
  private readonly params: Var[];
  /** Optimizer steps done. */
  step = 0;
  readonly history: HistoryRow[] = [];

  constructor(model: TransformerLM, data: TokenDataset, settings: TrainSettings) {
    if (data.seqLen > model.config.seqLen) {
      throw new TransformerError("BAD_CONFIG", `train: expected a window length <= the model's seqLen (${model.config.seqLen}), found ${data.seqLen}`);
    }
    this.model = model;
    this.data = data;
    this.settings = settings;
    const named = model.namedParameters();
    this.params = named.map(([, p]) => p);
    const group = (decay: boolean): { names: string[]; optimizer: optim.AdamW } => {
      const members = named.filter(([, p]) => (p.ndim >= 2) === decay);
      return {
        names: members.map(([n]) => n),
        optimizer: new optim.AdamW(members.map(([, p]) => p), {
          lr: settings.lr,
          betas: [settings.beta1, settings.beta2],
          eps: settings.eps,
          weightDecay: decay ? settings.weightDecay : 0,
        }),
      };
    };
    this.decayGroup = group(true);
    this.noDecayGroup = group(false);
    this.schedule = optim.warmupCosineLr({ maxLr: settings.lr, minLr: settings.minLr, warmupSteps: settings.warmupSteps, totalSteps: settings.steps });
  }

  get tokensPerStep(): number {
    return this.settings.batchSize * this.settings.gradAccum * this.data.seqLen;
  }

  /**
   * One optimizer step: gradAccum micro-batches (each backward seeded with 1/gradAccum, so the
   * gradients add up to the mean), clip, schedule, AdamW. A non-finite loss or gradient norm
   * throws TRAIN_NAN before any parameter changes.
   */
  trainStep(): StepResult {
    const t0 = performance.now();
    const { settings: s, model } = this;
    model.train();
    for (const p of this.params) p.zeroGrad();
    const seed = new Tensor(Float32Array.of(1 / s.gradAccum), []);
    let lossSum = 0;
    for (let micro = 0; micro < s.gradAccum; micro++) {
      const batch = this.data.trainBatch(s.seed, this.step, micro, s.batchSize);
      const dropoutGen = new Rng(stepSeed(s.seed, this.step, micro + DROPOUT_STREAM));
      // activations and interior gradients live only for this micro-batch
      scratchScope(() => {
        const loss = model.loss(batch.inputs, batch.targets, batch.batch, batch.seqLen, dropoutGen);
        lossSum += loss.item();
        loss.backward(seed);
      });
    }
    const loss = lossSum / s.gradAccum;
    const gradNorm = s.gradClip > 0 ? optim.clipGradNorm(this.params, s.gradClip) : optim.clipGradNorm(this.params, Infinity);
    if (!Number.isFinite(loss) || !Number.isFinite(gradNorm)) {
      for (const p of this.params) p.zeroGrad();
      throw new TransformerError("TRAIN_NAN", `train: expected a finite loss and gradient at step ${this.step + 1}, found loss ${loss} and gradient norm ${gradNorm}; no update was applied`);
    }
    const lr = this.schedule(this.step);
    for (const g of [this.decayGroup, this.noDecayGroup]) {
      g.optimizer.lr = lr;
      g.optimizer.step();
    }
    for (const p of this.params) p.zeroGrad();
    this.step++;
    return { loss, lr, gradNorm, tokens: this.tokensPerStep, ms: performance.now() - t0 };
  }

  /** Mean cross-entropy over the fixed validation windows (eval mode, no graph). */
  evaluate(): number {
    return meanLoss(this.model, this.data.validationBatches(this.settings.evalWindows, this.settings.batchSize));
  }
}

/** Token-weighted mean next-token cross-entropy of `batches` (eval mode, no graph). */
export function meanLoss(model: TransformerLM, batches: readonly Batch[]): number {
  const wasTraining = model.training;
  model.eval();
  let total = 0, count = 0;
  noGrad(() => {
    for (const b of batches) {
      const n = b.batch * b.seqLen;
      total += scratchScope(() => model.loss(b.inputs, b.targets, b.batch, b.seqLen).item()) * n;
      count += n;
    }
  });
  model.train(wasTraining);
  return total / count;
}
