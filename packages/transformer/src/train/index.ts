// Training: the model as autograd modules, the data loader, the loop, checkpoints.
export { TransformerLM, type TransformerLMOptions, type Projection, type ProjectionSpec, type ProjectionFactory } from "./model";
export { TokenDataset, contiguousBatches, stepSeed, requiredTokens, checkDataLength, type Batch, type TokenSplitOptions } from "./data";
export { DEFAULT_SETTINGS, resolveSettings, defaultWarmup, modelConfig, type TrainSettings } from "./settings";
export { Trainer, meanLoss, type HistoryRow, type StepResult } from "./trainer";
export {
  CHECKPOINT_FILE, CHECKPOINT_FORMAT, serializeCheckpoint, parseCheckpoint, modelFromCheckpoint, restoreTrainer, fingerprintTokens,
  type CheckpointState, type DataFingerprint,
} from "./checkpoint";
export { perplexity, trainableFrom, type PerplexityResult } from "./eval";
