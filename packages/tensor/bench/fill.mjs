/**
 * Fills `array` with deterministic values in [−0.5, 0.5) from a linear congruential generator
 * seeded with `seed` (the same numbers on every run, so benchmark inputs never vary), and
 * returns it. Shared by the tensor benchmarks.
 */
export function fill(array, seed) {
  let s = seed;
  for (let i = 0; i < array.length; i++) {
    s = (s * 1664525 + 1013904223) >>> 0;
    array[i] = s / 4294967296 - 0.5;
  }
  return array;
}
