import { checkBlocks, checkRow, checkSpan } from "./row-check";
import { f32, fp16, int8At, nearestInt, readF16, writeF16Bits } from "./c-float";
import { makeQkx2Quants } from "./k-quant-search";
import { Q8_K_BLOCK_BYTES, QK_K, q8KScale } from "./q8_k";

/**
 * Q4_K (ggml type 12): super-blocks of 256 values in 8 sub-blocks of 32, each sub-block with its
 * own 6-bit scale and 6-bit min, themselves scaled by two f16 super-block factors.
 *
 *   byte 0        2           4                       16                                   144
 *        | d: f16 | dmin: f16 | scales: 12 B           | qs: 128 B                          |
 *
 *   scales (sc[j], m[j] for sub-block j, 6 bits each; ggml's get_scale_min_k4):
 *     byte 0…3   = sc[0…3] | (sc[4…7] >> 4) << 6      (low 6 bits, then the top 2 bits of sc[4+i])
 *     byte 4…7   = m[0…3]  | (m[4…7]  >> 4) << 6
 *     byte 8…11  = (sc[4…7] & 15) | (m[4…7] & 15) << 4
 *   qs: 4 chunks of 64 values; byte l of chunk c = q[64c + l] | q[64c + 32 + l] << 4
 *
 *   value = d · sc[j] · q − dmin · m[j]     for q in sub-block j (q in 0…15)
 *
 * 4.5 bits per weight: 4 for the code and 0.5 for the scales. Its activation partner is Q8_K.
 */
export { QK_K };
export const Q4_K_BLOCK_BYTES = 2 + 2 + 12 + QK_K / 2;

/** Sub-block j's 6-bit scale and min from the 12 packed bytes at `offset` (ggml's get_scale_min_k4). */
export function scaleMinK4(j: number, scales: Uint8Array, offset: number): { sc: number; m: number } {
  if (j < 4) return { sc: scales[offset + j] & 63, m: scales[offset + j + 4] & 63 };
  return {
    sc: (scales[offset + j + 4] & 0xf) | ((scales[offset + j - 4] >> 6) << 4),
    m: (scales[offset + j + 4] >> 4) | ((scales[offset + j] >> 6) << 4),
  };
}

/**
 * ggml's `quantize_row_q4_K_ref`, byte for byte. Per sub-block, make_qkx2_quants searches a
 * scale and min that minimise the error weighted by (rms + |x|); the 8 scales and 8 mins are then
 * quantized to 6 bits against the largest of each, and the codes are recomputed with the scales
 * as stored.
 */
export function quantizeRowQ4_K(x: Float32Array, y: Uint8Array, k = x.length, xOffset = 0, yOffset = 0): void {
  checkRow("Q4_K", QK_K, Q4_K_BLOCK_BYTES, k, x, xOffset, y, yOffset);
  const L = new Uint8Array(QK_K);
  const Laux = new Uint8Array(32);
  const weights = new Float32Array(32);
  const mins = new Float32Array(QK_K / 32);
  const scales = new Float32Array(QK_K / 32);
  for (let b = 0; b < k / QK_K; b++) {
    const xb = xOffset + b * QK_K, yb = yOffset + b * Q4_K_BLOCK_BYTES;
    let maxScale = 0, maxMin = 0;
    for (let j = 0; j < QK_K / 32; j++) {
      const sub = xb + 32 * j;
      let sumX2 = 0;
      for (let l = 0; l < 32; l++) sumX2 = f32(sumX2 + f32(x[sub + l] * x[sub + l]));
      const avX = f32(Math.sqrt(f32(sumX2 / 32)));
      for (let l = 0; l < 32; l++) weights[l] = avX + Math.abs(x[sub + l]); // the store rounds to float32
      const fit = makeQkx2Quants(32, 15, x, sub, weights, L, 32 * j, Laux, -1, f32(0.1), 20, false);
      scales[j] = fit.scale;
      mins[j] = fit.min;
      if (scales[j] > maxScale) maxScale = scales[j];
      if (mins[j] > maxMin) maxMin = mins[j];
    }

    const invScale = maxScale > 0 ? f32(63 / maxScale) : 0;
    const invMin = maxMin > 0 ? f32(63 / maxMin) : 0;
    const s = yb + 4; // the 12 scale bytes
    for (let j = 0; j < QK_K / 32; j++) {
      const ls = Math.min(63, nearestInt(f32(invScale * scales[j])) & 0xff); // uint8_t, then MIN(63, …)
      const lm = Math.min(63, nearestInt(f32(invMin * mins[j])) & 0xff);
      if (j < 4) {
        y[s + j] = ls;
        y[s + j + 4] = lm;
      } else {
        y[s + j + 4] = (ls & 0xf) | ((lm & 0xf) << 4);
        y[s + j - 4] |= (ls >> 4) << 6;
        y[s + j] |= (lm >> 4) << 6;
      }
    }
    writeF16Bits(y, yb, fp16(f32(maxScale / 63)));
    writeF16Bits(y, yb + 2, fp16(f32(maxMin / 63)));

    // the codes again, against the scales as they will be read back
    const dAll = readF16(y, yb), dminAll = readF16(y, yb + 2);
    for (let j = 0; j < QK_K / 32; j++) {
      const { sc, m } = scaleMinK4(j, y, s);
      const d = f32(dAll * sc);
      if (d === 0) continue; // `if (!d) continue;` keeps make_qkx2_quants' codes
      const dm = f32(dminAll * m);
      for (let i = 0; i < 32; i++) {
        const l = nearestInt(f32(f32(x[xb + 32 * j + i] + dm) / d));
        L[32 * j + i] = Math.max(0, Math.min(15, l));
      }
    }
    const q = yb + 16;
    for (let c = 0; c < QK_K / 64; c++) {
      for (let l = 0; l < 32; l++) y[q + 32 * c + l] = L[64 * c + l] | (L[64 * c + 32 + l] << 4);
    }
  }
}

/** ggml's `dequantize_row_q4_K`: value = (d·sc)·q − (dmin·m), each product rounded to float32. */
export function dequantizeRowQ4_K(y: Uint8Array, out: Float32Array, k = out.length, yOffset = 0, outOffset = 0): void {
  checkRow("Q4_K", QK_K, Q4_K_BLOCK_BYTES, k, out, outOffset, y, yOffset);
  for (let b = 0; b < k / QK_K; b++) {
    const yb = yOffset + b * Q4_K_BLOCK_BYTES, ob = outOffset + b * QK_K;
    const d = readF16(y, yb), dmin = readF16(y, yb + 2);
    for (let c = 0; c < QK_K / 64; c++) {
      const lo = scaleMinK4(2 * c, y, yb + 4), hi = scaleMinK4(2 * c + 1, y, yb + 4);
      const d1 = f32(d * lo.sc), m1 = f32(dmin * lo.m);
      const d2 = f32(d * hi.sc), m2 = f32(dmin * hi.m);
      for (let l = 0; l < 32; l++) {
        const byte = y[yb + 16 + 32 * c + l];
        out[ob + 64 * c + l] = f32(d1 * (byte & 0xf)) - m1;
        out[ob + 64 * c + 32 + l] = f32(d2 * (byte >> 4)) - m2;
      }
    }
  }
}

/**
 * ggml's `ggml_vec_dot_q4_K_q8_K` (generic C version), operation for operation: x holds Q4_K
 * super-blocks, y Q8_K ones. Per super-block the integer sums Σ sc·q·qy are kept in 8 lanes
 * (element e goes to lane e mod 8) and added into 8 float sums with d = dx·dy; the min term
 * dmin·dy·Σ m·bsums is subtracted from the total; the 8 lane sums are added in at the end.
 */
export function dotRowQ4_K(k: number, x: Uint8Array, y: Uint8Array, xOffset = 0, yOffset = 0): number {
  checkBlocks("Q4_K dot", QK_K, k);
  checkSpan("Q4_K dot", "Q4_K block bytes", x, xOffset, (k / QK_K) * Q4_K_BLOCK_BYTES);
  checkSpan("Q4_K dot", "Q8_K block bytes", y, yOffset, (k / QK_K) * Q8_K_BLOCK_BYTES);
  const sums = new Float64Array(8); // holds float32 values
  const lanes = new Int32Array(8);
  let sumf = 0;
  for (let b = 0; b < k / QK_K; b++) {
    const xb = xOffset + b * Q4_K_BLOCK_BYTES, yb = yOffset + b * Q8_K_BLOCK_BYTES;
    lanes.fill(0);
    let sumi = 0;
    for (let g = 0; g < QK_K / 16; g++) {
      const bsum = (y[yb + 4 + QK_K + 2 * g] | (y[yb + 4 + QK_K + 2 * g + 1] << 8)) << 16 >> 16;
      sumi += bsum * scaleMinK4(g >> 1, x, xb + 4).m;
    }
    for (let j = 0; j < QK_K / 32; j++) {
      const { sc } = scaleMinK4(j, x, xb + 4);
      for (let i = 0; i < 32; i++) {
        const e = 32 * j + i; // element e sits in chunk e >> 6, low nibbles for the first 32 of it
        const byte = x[xb + 16 + 32 * (e >> 6) + (e & 31)];
        const q = (e & 32) === 0 ? byte & 0xf : byte >> 4;
        lanes[e & 7] += sc * q * int8At(y, yb + 4 + e);
      }
    }
    const dy = q8KScale(y, yb);
    const d = f32(readF16(x, xb) * dy);
    for (let l = 0; l < 8; l++) sums[l] = f32(sums[l] + f32(d * lanes[l]));
    const dmin = f32(readF16(x, xb + 2) * dy);
    sumf = f32(sumf - f32(dmin * sumi));
  }
  for (let l = 0; l < 8; l++) sumf = f32(sumf + sums[l]);
  return sumf;
}
