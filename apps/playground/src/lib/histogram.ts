/** Summary of a tensor's values: what decides how well a block format can store them. */
export interface WeightStats { count: number; mean: number; std: number; min: number; max: number; absMax: number }

export function weightStats(values: Float32Array): WeightStats {
  let sum = 0, sq = 0, min = Infinity, max = -Infinity;
  for (const v of values) {
    sum += v;
    sq += v * v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const mean = sum / values.length;
  return { count: values.length, mean, std: Math.sqrt(Math.max(0, sq / values.length - mean * mean)), min, max, absMax: Math.max(-min, max) };
}

/** `bins` equal-width bins over [min, max]: counts and the left edge of each bin. */
export function histogram(values: Float32Array, bins: number, min: number, max: number): { edges: number[]; counts: number[] } {
  const counts = new Array<number>(bins).fill(0);
  const width = (max - min) / bins || 1;
  for (const v of values) counts[Math.min(bins - 1, Math.max(0, Math.floor((v - min) / width)))]++;
  return { edges: counts.map((_, i) => min + i * width), counts };
}
