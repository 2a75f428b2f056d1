import { TransformerError } from "../errors";
import { validateConfig, type Config } from "../infer/config";

/** Everything that shapes a training run besides the model: stored in every checkpoint. */
export interface TrainSettings {
  /** Optimizer steps in the whole run (the cosine schedule ends here). */
  steps: number;
  /** Windows per micro-batch. */
  batchSize: number;
  /** Micro-batches whose gradients add up before one optimizer step. */
  gradAccum: number;
  /** Peak learning rate, reached after warmup. */
  lr: number;
  /** Floor of the cosine decay. */
  minLr: number;
  /** Linear warmup steps; resolveSettings defaults it to defaultWarmup(steps). */
  warmupSteps: number;
  /** AdamW λ, applied to matrices (2-d parameters) only, as nanoGPT / GPT-2 do. */
  weightDecay: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** Clip the global gradient norm to this (0 = off). */
  gradClip: number;
  dropout: number;
  /** Validation loss every this many steps (0 = only at the end). */
  evalEvery: number;
  /** Windows in the fixed validation set. */
  evalWindows: number;
  /** Checkpoint every this many steps (0 = only at the end). */
  checkpointEvery: number;
  /** Seeds the weights, the batches and the dropout masks. */
  seed: number;
  /** Fraction of the token stream held out for validation. */
  valFraction: number;
}

export const DEFAULT_SETTINGS: TrainSettings = {
  steps: 1000,
  batchSize: 16,
  gradAccum: 1,
  lr: 1e-3,
  minLr: 1e-4,
  warmupSteps: 100,
  weightDecay: 0.1,
  beta1: 0.9,
  beta2: 0.95,
  eps: 1e-8,
  gradClip: 1,
  dropout: 0,
  evalEvery: 100,
  evalWindows: 64,
  checkpointEvery: 200,
  seed: 1337,
  valFraction: 0.1,
};

/**
 * The warmup a run gets when none is given: DEFAULT_SETTINGS.warmupSteps (100), but never more
 * than a tenth of the run, so a short run (`--steps 5`) is valid and still spends most of its
 * steps at the peak rate and in the cosine decay.
 */
export function defaultWarmup(steps: number): number {
  return Math.min(DEFAULT_SETTINGS.warmupSteps, Math.floor(steps / 10));
}

/**
 * Fills defaults and checks every field; BAD_CONFIG names the first broken one. An absent
 * warmupSteps is defaultWarmup(steps); an explicit one must still be <= steps.
 */
export function resolveSettings(partial: Partial<TrainSettings>): TrainSettings {
  const steps = partial.steps ?? DEFAULT_SETTINGS.steps;
  const warmupSteps = partial.warmupSteps ?? (Number.isInteger(steps) && steps > 0 ? defaultWarmup(steps) : DEFAULT_SETTINGS.warmupSteps);
  const s: TrainSettings = { ...DEFAULT_SETTINGS, ...partial, warmupSteps };
  const fail = (key: string, expected: string): never => {
    throw new TransformerError("BAD_CONFIG", `train settings: expected ${key} ${expected}, found ${String(s[key as keyof TrainSettings])}`);
  };
  for (const key of ["steps", "batchSize", "gradAccum", "evalWindows"] as const) {
    if (!Number.isInteger(s[key]) || s[key] <= 0) fail(key, "to be a positive integer");
  }
  for (const key of ["warmupSteps", "evalEvery", "checkpointEvery"] as const) {
    if (!Number.isInteger(s[key]) || s[key] < 0) fail(key, "to be an integer >= 0");
  }
  if (s.warmupSteps > s.steps) fail("warmupSteps", `<= steps (${s.steps})`);
  if (!(s.lr > 0 && Number.isFinite(s.lr))) fail("lr", "> 0");
  if (!(s.minLr >= 0 && s.minLr <= s.lr)) fail("minLr", `in [0, lr = ${s.lr}]`);
  for (const key of ["beta1", "beta2"] as const) if (!(s[key] >= 0 && s[key] < 1)) fail(key, "in [0, 1)");
  if (!(s.eps > 0)) fail("eps", "> 0");
  if (!(s.weightDecay >= 0)) fail("weightDecay", ">= 0");
  if (!(s.gradClip >= 0)) fail("gradClip", ">= 0 (0 = off)");
  if (!(s.dropout >= 0 && s.dropout < 1)) fail("dropout", "in [0, 1)");
  if (!(s.valFraction > 0 && s.valFraction < 1)) fail("valFraction", "in (0, 1)");
  if (!Number.isInteger(s.seed) || s.seed < 0 || s.seed > 0xffffffff) fail("seed", "to be an integer in [0, 2^32)");
  return s;
}

/**
 * A model Config from the fields a user sets, with the rest derived the usual way:
 * llama hiddenDim = the SwiGLU size 2/3·4·dim rounded up to a multiple of 32, gpt2 4·dim;
 * nKvHeads = nHeads; llama ropeStyle "half" (Hugging Face), GPT-2 learned positions.
 */
export function modelConfig(partial: Partial<Config> & Pick<Config, "vocabSize">): Config {
  const arch = partial.arch ?? "llama";
  const dim = partial.dim ?? 128;
  const nHeads = partial.nHeads ?? 4;
  const c: Config = {
    arch,
    dim,
    hiddenDim: partial.hiddenDim ?? (arch === "llama" ? Math.ceil((8 * dim) / 3 / 32) * 32 : 4 * dim),
    nLayers: partial.nLayers ?? 4,
    nHeads,
    nKvHeads: partial.nKvHeads ?? nHeads,
    vocabSize: partial.vocabSize,
    seqLen: partial.seqLen ?? 128,
    normEps: partial.normEps ?? 1e-5,
    ropeTheta: partial.ropeTheta ?? 10000,
    ropeStyle: partial.ropeStyle ?? (arch === "llama" ? "half" : "interleaved"),
    tiedEmbeddings: partial.tiedEmbeddings ?? true,
  };
  return validateConfig(c);
}
