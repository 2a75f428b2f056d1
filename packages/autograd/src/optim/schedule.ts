import { AutogradError } from "../errors";

/** A learning-rate schedule: the rate to use at optimizer step `step` (0-based). */
export type LrSchedule = (step: number) => number;

export function constantLr(lr: number): LrSchedule {
  return () => lr;
}

export interface WarmupCosineOptions {
  maxLr: number;
  /** The floor reached at `totalSteps` and kept after it (default 0). */
  minLr?: number;
  warmupSteps: number;
  totalSteps: number;
}

/**
 * Linear warmup then cosine decay to a floor (the nanoGPT / GPT-3 schedule):
 *   step < warmup:          maxLr · (step + 1) / warmup
 *   warmup ≤ step ≤ total:  minLr + ½(1 + cos(π·r))·(maxLr − minLr),  r = (step − warmup)/(total − warmup)
 *   step > total:           minLr
 */
export function warmupCosineLr(opts: WarmupCosineOptions): LrSchedule {
  const { maxLr, warmupSteps, totalSteps } = opts;
  const minLr = opts.minLr ?? 0;
  if (!(warmupSteps >= 0 && totalSteps >= warmupSteps)) {
    throw new AutogradError("AUTOGRAD_BAD_ARGUMENT", `warmupCosineLr: expected 0 <= warmupSteps <= totalSteps, found ${warmupSteps} and ${totalSteps}`);
  }
  return (step) => {
    if (step < warmupSteps) return (maxLr * (step + 1)) / warmupSteps;
    if (step > totalSteps) return minLr;
    const r = totalSteps === warmupSteps ? 1 : (step - warmupSteps) / (totalSteps - warmupSteps);
    return minLr + 0.5 * (1 + Math.cos(Math.PI * r)) * (maxLr - minLr);
  };
}
