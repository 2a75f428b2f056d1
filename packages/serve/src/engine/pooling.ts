/**
 * Embedding pooling, as llama.cpp's `--pooling mean` with its default Euclidean normalisation:
 * the final hidden states of a text's positions are summed (in float64, chunk by chunk as the
 * prompt is prefilled), divided by the number of positions, and scaled to unit length.
 */

/** sum[i] += rows[r][i] for the first `n` rows of rows [n, dim] (dim = sum.length). */
export function addRows(sum: Float64Array, rows: Float32Array, n: number): void {
  const dim = sum.length;
  for (let r = 0; r < n; r++) for (let i = 0; i < dim; i++) sum[i] += rows[r * dim + i];
}

/** (sum / count) / ‖sum / count‖₂; all zeros stay zeros. */
export function meanPoolNormalized(sum: Float64Array, count: number): Float32Array {
  let norm = 0;
  for (let i = 0; i < sum.length; i++) norm += (sum[i] / count) ** 2;
  const scale = norm > 0 ? 1 / Math.sqrt(norm) : 0;
  const vector = new Float32Array(sum.length);
  for (let i = 0; i < sum.length; i++) vector[i] = (sum[i] / count) * scale;
  return vector;
}
