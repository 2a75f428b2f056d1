import { checkRow } from "./row-check";
import { f32, int8At, nearestInt } from "./c-float";

/**
 * Q8_K (ggml type 15): super-blocks of 256 values with a float32 scale and the sums of each
 * group of 16 codes, the activation partner of the K-quants (Q4_K here). Never stored in model
 * files.
 *
 *   byte 0         4                                    260                      292
 *        | d: f32  | qs[0] … qs[255]: 256 × i8           | bsums: 16 × i16        |
 *
 *   value[j] = d · qs[j]          bsums[g] = Σ qs[16g … 16g + 15]
 *
 * The sums give a K-quant dot product its min term in 16 multiplies per super-block instead of
 * 256: Σ (sc·q·d − m·dmin)·qy·dy = d·dy·Σ sc·q·qy − dmin·dy·Σ m·(Σ qy).
 */
export const QK_K = 256;
export const Q8_K_BLOCK_BYTES = 4 + QK_K + 2 * (QK_K / 16);

const scratch = new DataView(new ArrayBuffer(4));

/**
 * ggml's `quantize_row_q8_K_ref`, byte for byte: the scale maps the value of largest magnitude
 * m to −127 (d = m / −127), codes are nearest_int(x · (−127/m)) capped at 127. An all-zero block
 * gets d = 0 and zero codes; ggml leaves its bsums unwritten, here they are 0.
 */
export function quantizeRowQ8_K(x: Float32Array, y: Uint8Array, k = x.length, xOffset = 0, yOffset = 0): void {
  checkRow("Q8_K", QK_K, Q8_K_BLOCK_BYTES, k, x, xOffset, y, yOffset);
  for (let b = 0; b < k / QK_K; b++) {
    const xb = xOffset + b * QK_K, yb = yOffset + b * Q8_K_BLOCK_BYTES;
    let max = 0, amax = 0;
    for (let j = 0; j < QK_K; j++) {
      const ax = Math.abs(x[xb + j]);
      if (ax > amax) {
        amax = ax;
        max = x[xb + j];
      }
    }
    if (amax === 0) {
      y.fill(0, yb, yb + Q8_K_BLOCK_BYTES);
      continue;
    }
    const iscale = f32(-127 / max);
    for (let j = 0; j < QK_K; j++) y[yb + 4 + j] = Math.min(127, nearestInt(f32(iscale * x[xb + j]))) & 0xff;
    for (let g = 0; g < QK_K / 16; g++) {
      let sum = 0;
      for (let i = 0; i < 16; i++) sum += int8At(y, yb + 4 + 16 * g + i);
      y[yb + 4 + QK_K + 2 * g] = sum & 0xff;
      y[yb + 4 + QK_K + 2 * g + 1] = (sum >> 8) & 0xff;
    }
    scratch.setFloat32(0, f32(1 / iscale), true);
    for (let i = 0; i < 4; i++) y[yb + i] = scratch.getUint8(i);
  }
}

/** The float32 scale of the super-block at `offset`. */
export function q8KScale(y: Uint8Array, offset: number): number {
  for (let i = 0; i < 4; i++) scratch.setUint8(i, y[offset + i]);
  return scratch.getFloat32(0, true);
}

/** ggml's `dequantize_row_q8_K`: value = d · q. */
export function dequantizeRowQ8_K(y: Uint8Array, out: Float32Array, k = out.length, yOffset = 0, outOffset = 0): void {
  checkRow("Q8_K", QK_K, Q8_K_BLOCK_BYTES, k, out, outOffset, y, yOffset);
  for (let b = 0; b < k / QK_K; b++) {
    const yb = yOffset + b * Q8_K_BLOCK_BYTES, ob = outOffset + b * QK_K;
    const d = q8KScale(y, yb);
    for (let j = 0; j < QK_K; j++) out[ob + j] = d * int8At(y, yb + 4 + j);
  }
}
