import { checkBlocks, checkRow, checkSpan } from "./row-check";
import { packBlockQ8_0 } from "@zero-llm/tensor";
import { f32, int8At, readF16 } from "./c-float";

/**
 * Q8_0 (ggml type 8): blocks of 32 values, one scale and 32 signed bytes.
 *
 *   byte 0         2                                        34
 *        | d: f16  | qs[0] qs[1] … qs[31]: 32 × i8          |
 *
 *   value[j] = d · qs[j]          d = max|x| / 127, qs[j] = roundf(x[j] / d)
 *
 * It is also the activation partner of Q8_0 and Q4_0 weights: ggml quantizes the input row of a
 * Q4_0 × vector product to Q8_0 and multiplies blocks in integers.
 */
export const QK8_0 = 32;
export const Q8_0_BLOCK_BYTES = 2 + QK8_0;

/**
 * ggml's `quantize_row_q8_0_ref`, byte for byte: k values of x (from xOffset) into k / 32 blocks
 * of y (from yOffset). The scale is rounded to f16 for storage, but the values are divided by the
 * float32 scale (through its float32 inverse), as in C.
 */
export function quantizeRowQ8_0(x: Float32Array, y: Uint8Array, k = x.length, xOffset = 0, yOffset = 0): void {
  checkRow("Q8_0", QK8_0, Q8_0_BLOCK_BYTES, k, x, xOffset, y, yOffset);
  for (let b = 0; b < k / QK8_0; b++) packBlockQ8_0(x, xOffset + b * QK8_0, y, yOffset + b * Q8_0_BLOCK_BYTES);
}

/** ggml's `dequantize_row_q8_0`: value = d · q, exact in float32 (an 11-bit scale times a byte). */
export function dequantizeRowQ8_0(y: Uint8Array, out: Float32Array, k = out.length, yOffset = 0, outOffset = 0): void {
  checkRow("Q8_0", QK8_0, Q8_0_BLOCK_BYTES, k, out, outOffset, y, yOffset);
  for (let b = 0; b < k / QK8_0; b++) {
    const yb = yOffset + b * Q8_0_BLOCK_BYTES, ob = outOffset + b * QK8_0;
    const d = readF16(y, yb);
    for (let j = 0; j < QK8_0; j++) out[ob + j] = d * int8At(y, yb + 2 + j);
  }
}

/**
 * ggml's `ggml_vec_dot_q8_0_q8_0` (generic C version), operation for operation: per block an
 * exact integer sum of products, then sumf += sumi · (dx · dy) in float32.
 */
export function dotRowQ8_0(k: number, x: Uint8Array, y: Uint8Array, xOffset = 0, yOffset = 0): number {
  checkBlocks("Q8_0 dot", QK8_0, k);
  checkSpan("Q8_0 dot", "block bytes", x, xOffset, (k / QK8_0) * Q8_0_BLOCK_BYTES);
  checkSpan("Q8_0 dot", "block bytes", y, yOffset, (k / QK8_0) * Q8_0_BLOCK_BYTES);
  let sumf = 0;
  for (let b = 0; b < k / QK8_0; b++) {
    const xb = xOffset + b * Q8_0_BLOCK_BYTES, yb = yOffset + b * Q8_0_BLOCK_BYTES;
    let sumi = 0;
    for (let j = 0; j < QK8_0; j++) sumi += int8At(x, xb + 2 + j) * int8At(y, yb + 2 + j);
    sumf = f32(sumf + f32(sumi * f32(readF16(x, xb) * readF16(y, yb))));
  }
  return sumf;
}
