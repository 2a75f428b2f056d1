import type { SamplerOptions } from "../src/index";

export function naiveDistribution(
  logits: Float32Array, history: ArrayLike<number>, options: SamplerOptions, allowed?: Uint32Array,
): Float64Array;
export function naiveSample(logits: Float32Array, history: ArrayLike<number>, options: SamplerOptions, u: number): number;
