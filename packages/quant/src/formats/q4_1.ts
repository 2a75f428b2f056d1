import { checkBlocks, checkRow, checkSpan } from "./row-check";
import { packBlockQ4_1 } from "@zero-llm/tensor";
import { f32, int8At, readF16 } from "./c-float";
import { Q8_1_BLOCK_BYTES } from "./q8_1";

/**
 * Q4_1 (ggml type 3): blocks of 32 values, a scale, an offset and 32 unsigned 4-bit codes.
 *
 *   byte 0         2         4                              20
 *        | d: f16  | m: f16  | qs: 16 × u8                  |
 *
 *   qs byte j = q[j] | q[j + 16] << 4     (as Q4_0)
 *   value[j]  = q[j] · d + m              m = min x, d = (max x − min x) / 15
 *
 * The offset spends the 16 codes on the block's actual range, so a block of only positive (or
 * only negative) values loses nothing to the side it does not use. Its activation partner is
 * Q8_1, which carries the sum of its values for the m term.
 */
export const QK4_1 = 32;
export const Q4_1_BLOCK_BYTES = 4 + QK4_1 / 2;

/** ggml's `quantize_row_q4_1_ref`, byte for byte: q = min(15, trunc((x − min) · (1/d) + 0.5)). */
export function quantizeRowQ4_1(x: Float32Array, y: Uint8Array, k = x.length, xOffset = 0, yOffset = 0): void {
  checkRow("Q4_1", QK4_1, Q4_1_BLOCK_BYTES, k, x, xOffset, y, yOffset);
  for (let b = 0; b < k / QK4_1; b++) packBlockQ4_1(x, xOffset + b * QK4_1, y, yOffset + b * Q4_1_BLOCK_BYTES);
}

/** ggml's `dequantize_row_q4_1`: value = q · d + m (the product rounded to float32, then the sum). */
export function dequantizeRowQ4_1(y: Uint8Array, out: Float32Array, k = out.length, yOffset = 0, outOffset = 0): void {
  checkRow("Q4_1", QK4_1, Q4_1_BLOCK_BYTES, k, out, outOffset, y, yOffset);
  for (let b = 0; b < k / QK4_1; b++) {
    const yb = yOffset + b * Q4_1_BLOCK_BYTES, ob = outOffset + b * QK4_1;
    const d = readF16(y, yb), m = readF16(y, yb + 2);
    for (let j = 0; j < QK4_1 / 2; j++) {
      const byte = y[yb + 4 + j];
      out[ob + j] = f32((byte & 0x0f) * d) + m;
      out[ob + j + 16] = f32((byte >> 4) * d) + m;
    }
  }
}

/**
 * ggml's `ggml_vec_dot_q4_1_q8_1` (generic C version), operation for operation: x holds Q4_1
 * blocks, y Q8_1 blocks; sumf += (dx · dy) · sumi + mx · sy, where sy = dy · Σ qy is stored in
 * the Q8_1 block.
 */
export function dotRowQ4_1(k: number, x: Uint8Array, y: Uint8Array, xOffset = 0, yOffset = 0): number {
  checkBlocks("Q4_1 dot", QK4_1, k);
  checkSpan("Q4_1 dot", "Q4_1 block bytes", x, xOffset, (k / QK4_1) * Q4_1_BLOCK_BYTES);
  checkSpan("Q4_1 dot", "Q8_1 block bytes", y, yOffset, (k / QK4_1) * Q8_1_BLOCK_BYTES);
  let sumf = 0;
  for (let b = 0; b < k / QK4_1; b++) {
    const xb = xOffset + b * Q4_1_BLOCK_BYTES, yb = yOffset + b * Q8_1_BLOCK_BYTES;
    let sumi = 0;
    for (let j = 0; j < QK4_1 / 2; j++) {
      const byte = x[xb + 4 + j];
      sumi += (byte & 0x0f) * int8At(y, yb + 4 + j) + (byte >> 4) * int8At(y, yb + 4 + 16 + j);
    }
    const scaled = f32(f32(readF16(x, xb) * readF16(y, yb)) * sumi);
    sumf = f32(sumf + f32(scaled + f32(readF16(x, xb + 2) * readF16(y, yb + 2))));
  }
  return sumf;
}
