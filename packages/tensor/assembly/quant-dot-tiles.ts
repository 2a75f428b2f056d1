// q4_0 weights in tiles of four rows (src/quant/tiles.ts draws the layout) · quantized input
// rows: the decode step's fastest q4_0 product. Per tile of four rows × four blocks the 32 bytes
// of scales are two loads (row r's four scales are lanes 0…3 of one half: the operand the float
// step wants, no gather), the codes one ascending, aligned stream; and since the layout admits
// only finite scales, the halves become floats by a shift, a mask and a multiply.
//
// Every number is computed as rowDot32 computes it for a q4_0 row (quant-dot.ts): the same
// integer block sums, folded into lanes by block mod 4, the same (dw·dx)·(Σ q·x − 8·Σ x) per
// block, the same accumulation and final (l0 + l2) + (l1 + l3): the same bits as the row layout,
// on every input row alone or with others (batch-invariant: one input row at a time).
import { Q4_0 } from "./quant-types";
import { activationRowBytes } from "./quant-activation";
import { hsum } from "./simd";
import { codes, inputTerm, pairOf, quadOf } from "./quant-dot";
import { Q4_CODE_BYTES, finiteHalfToFloat4 } from "./quant-simd";

const ROWS = 4;
const BLOCK_BYTES: usize = 18;
const FULL_TILE_BYTES: usize = 4 * 4 * BLOCK_BYTES; // 288
const CODE_BYTES: usize = 32 * Q4_CODE_BYTES; // one block of input codes

/**
 * out[r, o] for input rows r < rows and weight rows o0 ≤ o < o1 (o0, o1 multiples of 4) of a
 * tiled q4_0 matrix [n, k] at w; input rows quantized by quantizeActivations(Q4_0) at a.
 */
export function matmulQuantTiles(out: usize, a: usize, w: usize, rows: i32, k: i32, n: i32, o0: i32, o1: i32): void {
  const nb = k >> 5, stride = <usize>activationRowBytes(Q4_0, k);
  const scalesAt = <usize>k << 1, sumsAt = scalesAt + (<usize>nb << 2);
  const groupBytes = <usize>ROWS * <usize>nb * BLOCK_BYTES;
  for (let o = o0; o < o1; o += ROWS) {
    const group = w + (<usize>(o >> 2)) * groupBytes;
    // the group's bytes stay in L1 across the input rows of a batch
    for (let r = 0; r < rows; r++) {
      const ar = a + <usize>r * stride;
      tileGroup(group, ar, ar + scalesAt, ar + sumsAt, nb, out + ((<usize>r * n + o) << 2));
    }
  }
}

/** Four weight rows (one row group at p) · one input row: outputs at out … out + 12. */
function tileGroup(p: usize, a: usize, scales: usize, sums: usize, nb: i32, out: usize): void {
  let acc0 = f32x4.splat(0), acc1 = acc0, acc2 = acc0, acc3 = acc0;
  let j = 0;
  for (; j + 4 <= nb; j += 4) {
    // blocks j, j + 1 of the four rows: row r's codes of block i at q + 64i + 16r
    const q = p + 32, ab = a + <usize>j * CODE_BYTES;
    let x0 = codes(Q4_0, ab, 0), x1 = codes(Q4_0, ab, 1), x2 = codes(Q4_0, ab, 2), x3 = codes(Q4_0, ab, 3);
    let y0 = codes(Q4_0, ab + CODE_BYTES, 0), y1 = codes(Q4_0, ab + CODE_BYTES, 1), y2 = codes(Q4_0, ab + CODE_BYTES, 2), y3 = codes(Q4_0, ab + CODE_BYTES, 3);
    const e0 = pairOf(Q4_0, q, 64, x0, x1, x2, x3, y0, y1, y2, y3);
    const e1 = pairOf(Q4_0, q + 16, 64, x0, x1, x2, x3, y0, y1, y2, y3);
    const e2 = pairOf(Q4_0, q + 32, 64, x0, x1, x2, x3, y0, y1, y2, y3);
    const e3 = pairOf(Q4_0, q + 48, 64, x0, x1, x2, x3, y0, y1, y2, y3);
    // blocks j + 2, j + 3
    const aq = ab + 2 * CODE_BYTES;
    x0 = codes(Q4_0, aq, 0); x1 = codes(Q4_0, aq, 1); x2 = codes(Q4_0, aq, 2); x3 = codes(Q4_0, aq, 3);
    y0 = codes(Q4_0, aq + CODE_BYTES, 0); y1 = codes(Q4_0, aq + CODE_BYTES, 1); y2 = codes(Q4_0, aq + CODE_BYTES, 2); y3 = codes(Q4_0, aq + CODE_BYTES, 3);
    const f0 = pairOf(Q4_0, q + 128, 64, x0, x1, x2, x3, y0, y1, y2, y3);
    const f1 = pairOf(Q4_0, q + 144, 64, x0, x1, x2, x3, y0, y1, y2, y3);
    const f2 = pairOf(Q4_0, q + 160, 64, x0, x1, x2, x3, y0, y1, y2, y3);
    const f3 = pairOf(Q4_0, q + 176, 64, x0, x1, x2, x3, y0, y1, y2, y3);
    // the float step: (dw·dx)·(Σ q·x − 8·Σ x), dw of rows 0, 1 in the first 16 bytes, 2, 3 in the next
    const dx = v128.load(scales + (<usize>j << 2)), t = inputTerm(Q4_0, sums, j);
    const h01 = v128.load(p), h23 = v128.load(p, 16);
    acc0 = f32x4.add(acc0, f32x4.mul(f32x4.mul(finiteHalfToFloat4(i32x4.extend_low_i16x8_s(h01)), dx), f32x4.convert_i32x4_s(i32x4.sub(quadOf(Q4_0, e0, f0), t))));
    acc1 = f32x4.add(acc1, f32x4.mul(f32x4.mul(finiteHalfToFloat4(i32x4.extend_high_i16x8_s(h01)), dx), f32x4.convert_i32x4_s(i32x4.sub(quadOf(Q4_0, e1, f1), t))));
    acc2 = f32x4.add(acc2, f32x4.mul(f32x4.mul(finiteHalfToFloat4(i32x4.extend_low_i16x8_s(h23)), dx), f32x4.convert_i32x4_s(i32x4.sub(quadOf(Q4_0, e2, f2), t))));
    acc3 = f32x4.add(acc3, f32x4.mul(f32x4.mul(finiteHalfToFloat4(i32x4.extend_high_i16x8_s(h23)), dx), f32x4.convert_i32x4_s(i32x4.sub(quadOf(Q4_0, e3, f3), t))));
    p += FULL_TILE_BYTES;
  }
  if (j < nb) {
    // the last tile's c = 1…3 blocks, one block at a time across the four rows (lane r = row r),
    // then turned back into one vector per row (lane i = block j + i, past c: 0, as rowDot32's
    // last group has them)
    const c = nb - j, z = i32x4.splat(0);
    const t0 = tailBlock(p, c, 0, a, scales, sums, j);
    const t1 = c > 1 ? tailBlock(p, c, 1, a, scales, sums, j) : z;
    const t2 = c > 2 ? tailBlock(p, c, 2, a, scales, sums, j) : z;
    const lo01 = v128.shuffle<i32>(t0, t1, 0, 4, 1, 5), hi01 = v128.shuffle<i32>(t0, t1, 2, 6, 3, 7);
    const lo2 = v128.shuffle<i32>(t2, z, 0, 4, 1, 5), hi2 = v128.shuffle<i32>(t2, z, 2, 6, 3, 7);
    acc0 = f32x4.add(acc0, v128.shuffle<i32>(lo01, lo2, 0, 1, 4, 5));
    acc1 = f32x4.add(acc1, v128.shuffle<i32>(lo01, lo2, 2, 3, 6, 7));
    acc2 = f32x4.add(acc2, v128.shuffle<i32>(hi01, hi2, 0, 1, 4, 5));
    acc3 = f32x4.add(acc3, v128.shuffle<i32>(hi01, hi2, 2, 3, 6, 7));
  }
  store<f32>(out, hsum(acc0));
  store<f32>(out, hsum(acc1), 4);
  store<f32>(out, hsum(acc2), 8);
  store<f32>(out, hsum(acc3), 12);
}

/**
 * Block j + i (i < c < 4) of the last tile at p, for the four rows: lane r = row r's float term
 * (dw·dx)·(Σ q·x − 8·Σ x), each lane the number rowDot32 computes for that row and block.
 */
@inline function tailBlock(p: usize, c: i32, i: i32, a: usize, scales: usize, sums: usize, j: i32): v128 {
  const b = j + i, ab = a + <usize>b * CODE_BYTES;
  const x0 = codes(Q4_0, ab, 0), x1 = codes(Q4_0, ab, 1), x2 = codes(Q4_0, ab, 2), x3 = codes(Q4_0, ab, 3);
  // rows 0, 1 and rows 2, 3 of block i: codes 16 bytes apart, at p + 8c + 64i
  const q = p + 8 * <usize>c + 64 * <usize>i;
  const s = quadOf(Q4_0, pairOf(Q4_0, q, 16, x0, x1, x2, x3, x0, x1, x2, x3), pairOf(Q4_0, q + 32, 16, x0, x1, x2, x3, x0, x1, x2, x3));
  // row r's scale of block i at p + 2(rc + i)
  const h = p + 2 * <usize>i, rowStride = 2 * <usize>c;
  let hv = v128.load16_splat(h);
  hv = v128.load16_lane(h + rowStride, hv, 1);
  hv = v128.load16_lane(h + 2 * rowStride, hv, 2);
  hv = v128.load16_lane(h + 3 * rowStride, hv, 3);
  const dw = finiteHalfToFloat4(i32x4.extend_low_i16x8_s(hv));
  const dx = f32x4.splat(load<f32>(scales + (<usize>b << 2)));
  const exact = i32x4.sub(s, i32x4.splat(load<i32>(sums + (<usize>b << 2)) << 3)); // Σ (q − 8)·x = Σ q·x − 8·Σ x
  return f32x4.mul(f32x4.mul(dw, dx), f32x4.convert_i32x4_s(exact));
}
