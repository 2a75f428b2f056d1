import { TensorError } from "../errors";
import { checkCount as count, shapeMismatch as shape } from "./arg-checks";

// The argument checks of the batched decode entries (ropeBatch, attentionBatch), one copy for
// both backends. They run once per layer of every decode step, so the passing path allocates
// nothing (see arg-checks.ts).

/**
 * Throws unless positions[0 … rows) are integers ≥ min (RoPE positions ≥ 0, attention lengths
 * ≥ 1); returns the largest of them (min − 1 when rows is 0).
 */
export function checkPositions(backend: string, op: string, positions: Int32Array, rows: number, min: number): number {
  count(backend, op, "rows", rows);
  if (positions.length < rows) shape(backend, op, min === 0 ? "positions" : "lengths", positions.length, rows);
  let largest = min - 1;
  for (let r = 0; r < rows; r++) {
    const p = positions[r];
    if (p < min) {
      throw new TensorError("INVALID_ARGUMENT", `${backend} ${op}: expected row ${r}'s ${min === 0 ? "position" : "length"} to be ≥ ${min}, found ${p}`);
    }
    if (p > largest) largest = p;
  }
  return largest;
}

/**
 * attentionBatch's shapes: q and out [rows, nHeads, headDim]; for each row r, lengths[r] ≥ 1 and
 * keys[r], values[r] holding at least lengths[r] rows of nKvHeads · headDim floats.
 */
export function checkAttentionBatch(
  backend: string, out: Float32Array, q: Float32Array, keys: readonly Float32Array[], values: readonly Float32Array[],
  lengths: Int32Array, rows: number, nHeads: number, nKvHeads: number, headDim: number,
): void {
  const op = "attentionBatch";
  count(backend, op, "nHeads", nHeads);
  count(backend, op, "nKvHeads", nKvHeads);
  count(backend, op, "headDim", headDim);
  if (nKvHeads === 0 || nHeads % nKvHeads !== 0) {
    throw new TensorError(
      "INVALID_ARGUMENT",
      `${backend} ${op}: expected nHeads a multiple of nKvHeads > 0, found nHeads ${nHeads}, nKvHeads ${nKvHeads}`,
    );
  }
  checkPositions(backend, op, lengths, rows, 1);
  const width = rows * nHeads * headDim;
  if (q.length < width) shape(backend, op, "q", q.length, width);
  if (out.length < width) shape(backend, op, "out", out.length, width);
  if (keys.length < rows) shape(backend, op, "keys (one cache per row)", keys.length, rows);
  if (values.length < rows) shape(backend, op, "values (one cache per row)", values.length, rows);
  const rowLen = nKvHeads * headDim;
  for (let r = 0; r < rows; r++) {
    const length = lengths[r] * rowLen;
    if (keys[r].length < length) shape(backend, op, "keys of a row", keys[r].length, length);
    if (values[r].length < length) shape(backend, op, "values of a row", values[r].length, length);
  }
}
