import { f16ToF32, f32ToF16 } from "@zero-llm/tensor";
import { checkRow } from "./row-check";

/**
 * F16 (ggml type 1): IEEE half precision, 2 bytes per value, little-endian. Not a block format,
 * but a weight type like the others: it halves f32's bytes and converts back exactly.
 *
 *   byte 0        2        4
 *        | w[0]: f16 | w[1]: f16 | …
 */
export const F16_BYTES = 2;

/** f32 → f16 bits, round to nearest even (NaN stays NaN, overflow from 65520 becomes ±inf). */
export function quantizeRowF16(x: Float32Array, y: Uint8Array, k = x.length, xOffset = 0, yOffset = 0): void {
  checkRow("F16", 1, F16_BYTES, k, x, xOffset, y, yOffset);
  for (let i = 0; i < k; i++) {
    const h = f32ToF16(x[xOffset + i]);
    y[yOffset + 2 * i] = h & 0xff;
    y[yOffset + 2 * i + 1] = h >>> 8;
  }
}

/** f16 bits → f32, exact. */
export function dequantizeRowF16(y: Uint8Array, out: Float32Array, k = out.length, yOffset = 0, outOffset = 0): void {
  checkRow("F16", 1, F16_BYTES, k, out, outOffset, y, yOffset);
  for (let i = 0; i < k; i++) out[outOffset + i] = f16ToF32(y[yOffset + 2 * i] | (y[yOffset + 2 * i + 1] << 8));
}
