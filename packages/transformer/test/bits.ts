// Bit patterns for the parity suites' exact comparisons: two runs agree only if every float
// (logits, cached keys and values) is the same bits, -0 and NaN payloads included.
import type { KVCache } from "../src/index";

/** The f32 bit patterns of `a` (rounded to f32 first). */
export const bits = (a: ArrayLike<number>): number[] => Array.from(new Uint32Array(Float32Array.from(a).buffer));

/** Every cached key and every cached value of `cache`, layer by layer and head by head, as bits. */
export function cacheBits(cache: KVCache): { keys: number[]; values: number[] } {
  const keys: number[] = [], values: number[] = [];
  for (let l = 0; l < cache.layers.length; l++) {
    for (let h = 0; h < cache.nKvHeads; h++) {
      keys.push(...bits(cache.keys(l, h)));
      values.push(...bits(cache.values(l, h)));
    }
  }
  return { keys, values };
}
