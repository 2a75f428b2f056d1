// The reference activation quantizers of the quantized kernels: an input row becomes int8 codes,
// one float32 scale per block and the code sum of every 32 values, so that a weight block can be
// multiplied in integers. The wasm kernels (assembly/quant-activation.ts) produce the same codes,
// scales and sums.

/**
 * An input row quantized for the integer dot products.
 *
 *   codes   k × i8           value ≈ scale[block] · code
 *   scales  one f32 per block (32 values for q8_0/q8_1, 256 for q8_k)
 *   sums    one i32 per 32 values: Σ codes (q4_0's "− 8", q4_1's offset and q4_k's mins need it)
 */
export interface QuantizedRow {
  codes: Int8Array;
  scales: Float32Array;
  sums: Int32Array;
}

const f32 = Math.fround;

/** C `roundf` (halves away from zero), then saturated to [−127, 127]; NaN becomes 0. */
function roundCode(v: number): number {
  if (Number.isNaN(v)) return 0;
  const r = v < 0 ? -Math.floor(-v + 0.5) : Math.floor(v + 0.5);
  return Math.max(-127, Math.min(127, r));
}

/** Round to nearest, ties to even, then saturated to [−127, 127]; NaN becomes 0. */
function nearestEvenCode(v: number): number {
  if (Number.isNaN(v)) return 0;
  let r = Math.round(v);
  if (r - v === 0.5 && r % 2 !== 0) r -= 1; // Math.round sends halves up; ties go to the even neighbour
  return Math.max(-127, Math.min(127, r));
}

/**
 * Q8_0 / Q8_1 partner of a row of k values (k a multiple of 32), as ggml's `quantize_row_q8_0_ref`
 * computes the codes: d = max|x| / 127 and code = roundf(x · (1/d)), all in float32. Our one
 * choice: the scale stays float32 (ggml's block_q8_0 rounds it to f16), which costs nothing here
 * and keeps 13 more bits of it. A NaN in a block makes its scale NaN (so the product is NaN).
 */
export function quantizeRowQ8(x: Float32Array, xOffset: number, k: number, row: QuantizedRow): void {
  quantizeRowQ8Groups(x, xOffset, k, 32, row);
}

/**
 * The same rule on groups of `group` values (k a multiple of it): one scale and one code sum per
 * group. Groups of 16 quantize a query head for a packed KV cache whose heads are half blocks
 * (attentionPacked with headDim 48: one scale per 16, never spanning two key blocks).
 */
export function quantizeRowQ8Groups(x: Float32Array, xOffset: number, k: number, group: number, row: QuantizedRow): void {
  for (let b = 0; b < k / group; b++) {
    const base = xOffset + group * b;
    let amax = 0;
    for (let j = 0; j < group; j++) amax = Math.max(amax, Math.abs(x[base + j]));
    const d = f32(amax / 127);
    const id = d !== 0 ? f32(1 / d) : 0;
    let sum = 0;
    for (let j = 0; j < group; j++) {
      const code = roundCode(f32(x[base + j] * id));
      row.codes[group * b + j] = code;
      sum += code;
    }
    row.scales[b] = d;
    row.sums[b] = sum;
  }
}

/**
 * Q8_K partner of a row of k values (k a multiple of 256), as ggml's `quantize_row_q8_K_ref`
 * computes the codes but against max|x| rather than the signed extreme: iscale = 127 / max|x|,
 * code = nearest_int(x · iscale) (ties to even), d = 1 / iscale. ggml's codes differ from these
 * at most in sign (its scale is negative when the extreme is positive), so d·code is the same.
 */
export function quantizeRowQ8K(x: Float32Array, xOffset: number, k: number, row: QuantizedRow): void {
  for (let b = 0; b < k / 256; b++) {
    const base = xOffset + 256 * b;
    let amax = 0;
    for (let j = 0; j < 256; j++) amax = Math.max(amax, Math.abs(x[base + j]));
    const iscale = amax !== 0 ? f32(127 / amax) : 0;
    for (let j = 0; j < 256; j++) row.codes[256 * b + j] = nearestEvenCode(f32(x[base + j] * iscale));
    row.scales[b] = amax !== 0 ? f32(1 / iscale) : 0;
    for (let g = 0; g < 8; g++) {
      let sum = 0;
      for (let j = 0; j < 32; j++) sum += row.codes[256 * b + 32 * g + j];
      row.sums[8 * b + g] = sum;
    }
  }
}
