// Optimizers and their helpers; exported as the `optim` namespace (optim.AdamW, optim.clipGradNorm).
export { Optimizer, SGD } from "./optimizer";
export type { OptimizerState, SGDOptions } from "./optimizer";
export { Adam, AdamW } from "./adam";
export type { AdamOptions } from "./adam";
export { clipGradNorm, scaleGrads } from "./clip";
export { constantLr, warmupCosineLr } from "./schedule";
export type { LrSchedule, WarmupCosineOptions } from "./schedule";
