import { checkRow } from "./row-check";
import { f32, floatToInt8, fp16, int8At, readF16, roundf, writeF16Bits } from "./c-float";

/**
 * Q8_1 (ggml type 9): Q8_0 plus the block's sum, the activation partner of Q4_1 (and Q5_1)
 * weights. Never stored in model files.
 *
 *   byte 0         2         4                              36
 *        | d: f16  | s: f16  | qs[0] … qs[31]: 32 × i8      |
 *
 *   value[j] = d · qs[j]          s = d · Σ qs[j]
 *
 * A Q4_1 weight block is q·dx + mx, so its dot with an activation block is
 * dx·dy·Σ q·qy + mx·(dy·Σ qy): the second term needs only s.
 */
export const QK8_1 = 32;
export const Q8_1_BLOCK_BYTES = 4 + QK8_1;

/** ggml's `quantize_row_q8_1_ref`, byte for byte (the codes are Q8_0's; s is rounded once to f16). */
export function quantizeRowQ8_1(x: Float32Array, y: Uint8Array, k = x.length, xOffset = 0, yOffset = 0): void {
  checkRow("Q8_1", QK8_1, Q8_1_BLOCK_BYTES, k, x, xOffset, y, yOffset);
  for (let b = 0; b < k / QK8_1; b++) {
    const xb = xOffset + b * QK8_1, yb = yOffset + b * Q8_1_BLOCK_BYTES;
    let amax = 0;
    for (let j = 0; j < QK8_1; j++) {
      const v = Math.abs(x[xb + j]);
      amax = amax > v ? amax : v;
    }
    const d = f32(amax / 127);
    const id = d !== 0 ? f32(1 / d) : 0;
    writeF16Bits(y, yb, fp16(d));
    let sum = 0;
    for (let j = 0; j < QK8_1; j++) {
      const q = floatToInt8(roundf(f32(x[xb + j] * id)));
      y[yb + 4 + j] = q & 0xff;
      sum += q;
    }
    writeF16Bits(y, yb + 2, fp16(f32(sum * d)));
  }
}

/** value = d · q (ggml has no dequantize for Q8_1; this reads it like Q8_0). */
export function dequantizeRowQ8_1(y: Uint8Array, out: Float32Array, k = out.length, yOffset = 0, outOffset = 0): void {
  checkRow("Q8_1", QK8_1, Q8_1_BLOCK_BYTES, k, out, outOffset, y, yOffset);
  for (let b = 0; b < k / QK8_1; b++) {
    const yb = yOffset + b * Q8_1_BLOCK_BYTES, ob = outOffset + b * QK8_1;
    const d = readF16(y, yb);
    for (let j = 0; j < QK8_1; j++) out[ob + j] = int8At(y, yb + 4 + j) * d;
  }
}
