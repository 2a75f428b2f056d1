import { describe, expect, it } from "vitest";
import {
  quantizeRowQ8_0, dequantizeRowQ8_0, Q8_0_BLOCK_BYTES, quantizeRowQ4_0, dequantizeRowQ4_0, Q4_0_BLOCK_BYTES,
  quantizeRowQ4_1, dequantizeRowQ4_1, Q4_1_BLOCK_BYTES, quantizeRowQ4_K, dequantizeRowQ4_K, Q4_K_BLOCK_BYTES,
} from "../src/index";
import { volumeRows, VOLUME_ROW, VOLUME_ROWS } from "./fixtures/ggml-ref/volume.mjs";

// quantize → dequantize → quantize: the values a block decodes to are on its own grid, so
// quantizing them again should give the block back. It does, exactly, for Q8_0, Q4_0 and Q4_1
// as long as the f16 scales are normal numbers (not subnormal, not past 65504): volume row r is
// scaled by 2^((r mod 37) − 18), and the scales leave f16's normal range at the two ends.
const rows = volumeRows();
const scaleExponent = (r: number): number => (r % 37) - 18;

function unstableRows(
  quantize: (x: Float32Array, y: Uint8Array) => void, dequantize: (y: Uint8Array, out: Float32Array) => void,
  rowBytes: number, keep: (exponent: number) => boolean,
): { tried: number; unstable: number[] } {
  const first = new Uint8Array(rowBytes), second = new Uint8Array(rowBytes), decoded = new Float32Array(VOLUME_ROW);
  const unstable: number[] = [];
  let tried = 0;
  for (let r = 0; r < VOLUME_ROWS; r++) {
    if (!keep(scaleExponent(r))) continue;
    tried++;
    quantize(rows.subarray(r * VOLUME_ROW, (r + 1) * VOLUME_ROW), first);
    dequantize(first, decoded);
    quantize(decoded, second);
    if (first.some((b, i) => b !== second[i])) unstable.push(r);
  }
  return { tried, unstable };
}

describe("quantize → dequantize → quantize gives the same bytes", () => {
  const normalScales = (e: number): boolean => e >= -12 && e <= 12;
  it("Q8_0, every row with scales 2^-12 … 2^12", () => {
    expect(unstableRows(quantizeRowQ8_0, dequantizeRowQ8_0, (VOLUME_ROW / 32) * Q8_0_BLOCK_BYTES, normalScales).unstable).toEqual([]);
  });
  it("Q4_0, every row (all 1000, the f16 ends included)", () => {
    expect(unstableRows(quantizeRowQ4_0, dequantizeRowQ4_0, (VOLUME_ROW / 32) * Q4_0_BLOCK_BYTES, () => true).unstable).toEqual([]);
  });
  it("Q4_1, every row with scales 2^-12 … 2^12", () => {
    expect(unstableRows(quantizeRowQ4_1, dequantizeRowQ4_1, (VOLUME_ROW / 32) * Q4_1_BLOCK_BYTES, normalScales).unstable).toEqual([]);
  });
  it("Q4_K: more than 99 % of the rows with scales 2^-9 … 2^12 (ggml's search can pick another fit of the same grid)", () => {
    // make_qkx2_quants tries 21 candidate scales and keeps the least-squares fit with the smallest
    // weighted error; on values that already sit on a grid, a neighbouring candidate can tie or
    // win by a rounding error, and a sub-block then gets a different (equally good) scale.
    const { tried, unstable } = unstableRows(quantizeRowQ4_K, dequantizeRowQ4_K, (VOLUME_ROW / 256) * Q4_K_BLOCK_BYTES, (e) => e >= -9 && e <= 12);
    expect(unstable.length / tried).toBeLessThan(0.01);
  });
});
