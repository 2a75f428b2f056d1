import { checkBlocks, checkRow, checkSpan } from "./row-check";
import { packBlockQ4_0 } from "@zero-llm/tensor";
import { f32, int8At, readF16 } from "./c-float";
import { Q8_0_BLOCK_BYTES } from "./q8_0";

/**
 * Q4_0 (ggml type 2): blocks of 32 values, one scale and 32 unsigned 4-bit codes.
 *
 *   byte 0         2                                        18
 *        | d: f16  | qs: 16 × u8                            |
 *
 *   qs byte j = q[j] | q[j + 16] << 4     (low nibbles: the first half of the block)
 *   value[j]  = (q[j] − 8) · d            d = m / −8, m the value of largest magnitude
 *
 * Dividing by −8 maps m to code 0 exactly, so the extreme value is reproduced; the other end of
 * the range reaches only +7·|d|. Its activation partner is Q8_0.
 */
export const QK4_0 = 32;
export const Q4_0_BLOCK_BYTES = 2 + QK4_0 / 2;

/**
 * ggml's `quantize_row_q4_0_ref`, byte for byte: q = min(15, trunc(x · (1/d) + 8.5)), where m is
 * the first value of the largest magnitude (a tie keeps the earlier one).
 */
export function quantizeRowQ4_0(x: Float32Array, y: Uint8Array, k = x.length, xOffset = 0, yOffset = 0): void {
  checkRow("Q4_0", QK4_0, Q4_0_BLOCK_BYTES, k, x, xOffset, y, yOffset);
  for (let b = 0; b < k / QK4_0; b++) packBlockQ4_0(x, xOffset + b * QK4_0, y, yOffset + b * Q4_0_BLOCK_BYTES);
}

/** ggml's `dequantize_row_q4_0`: value = (q − 8) · d, exact in float32. */
export function dequantizeRowQ4_0(y: Uint8Array, out: Float32Array, k = out.length, yOffset = 0, outOffset = 0): void {
  checkRow("Q4_0", QK4_0, Q4_0_BLOCK_BYTES, k, out, outOffset, y, yOffset);
  for (let b = 0; b < k / QK4_0; b++) {
    const yb = yOffset + b * Q4_0_BLOCK_BYTES, ob = outOffset + b * QK4_0;
    const d = readF16(y, yb);
    for (let j = 0; j < QK4_0 / 2; j++) {
      const byte = y[yb + 2 + j];
      out[ob + j] = ((byte & 0x0f) - 8) * d;
      out[ob + j + 16] = ((byte >> 4) - 8) * d;
    }
  }
}

/**
 * ggml's `ggml_vec_dot_q4_0_q8_0` (generic C version), operation for operation: x holds Q4_0
 * blocks, y the Q8_0 blocks of the activations; per block an exact integer sum, then
 * sumf += sumi · dx · dy (left to right, in float32).
 */
export function dotRowQ4_0(k: number, x: Uint8Array, y: Uint8Array, xOffset = 0, yOffset = 0): number {
  checkBlocks("Q4_0 dot", QK4_0, k);
  checkSpan("Q4_0 dot", "Q4_0 block bytes", x, xOffset, (k / QK4_0) * Q4_0_BLOCK_BYTES);
  checkSpan("Q4_0 dot", "Q8_0 block bytes", y, yOffset, (k / QK4_0) * Q8_0_BLOCK_BYTES);
  let sumf = 0;
  for (let b = 0; b < k / QK4_0; b++) {
    const xb = xOffset + b * Q4_0_BLOCK_BYTES, yb = yOffset + b * Q8_0_BLOCK_BYTES;
    let sumi = 0;
    for (let j = 0; j < QK4_0 / 2; j++) {
      const byte = x[xb + 2 + j];
      sumi += ((byte & 0x0f) - 8) * int8At(y, yb + 2 + j) + ((byte >> 4) - 8) * int8At(y, yb + 2 + 16 + j);
    }
    sumf = f32(sumf + f32(f32(sumi * readF16(x, xb)) * readF16(y, yb)));
  }
  return sumf;
}
