// Quantized matrix × vector / matrix × matrix (reference: src/quant/reference.ts, which gives the
// same bits). A weight row is ggml blocks (src/quant/types.ts draws them); the input row was
// quantized once by quant-activation.ts. Per block the products are summed exactly in integers
// (i32x4.dot_i16x8_s on 16-bit lanes, or the relaxed-SIMD i8 × i7 dot product where the module
// is built with it); floats enter once per block: (weight scale · input scale) · integer sum.
//
// Float sums are kept the way the reference keeps them: the integer sums of four consecutive
// blocks are gathered into one i32x4 (block b in lane b mod 4), scaled and added into an f32x4
// accumulator, and the lanes are added as (l0 + l2) + (l1 + l3) at the end. q4_k adds its
// super-blocks one after the other in a scalar (quant-dot-q4k.ts). f16 rows are plain float dot
// products.
import { F16, Q4_0, Q4_1, Q4_K, Q8_0 } from "./quant-types";
import { activationRowBytes } from "./quant-activation";
import { hsum, madd } from "./simd";
import { rowDotQ4_K, rowsDotQ4_K4, rowsDotQ4_K4Streams } from "./quant-dot-q4k";
import {
  Q4_CODE_BYTES, anySpecialHalf, dot32, finiteHalfToFloat4, fold2, fold4, halfToFloat, halfToFloat4, halves4, fold2i16, fold4i16, highNibbles, lowNibbles, relaxedBlock, relaxedBlock16, sum4x4,
} from "./quant-simd";

export { halfToFloat4 }; // the packed KV-cache attention reads f16 scales with it

/**
 * 32 i8 weights at w · 32 i16 codes x0…x3, as four partial i32 sums. (Both builds: the relaxed
 * i8 × i7 form measured no faster, see the quant package's MEASUREMENTS.md, third round.)
 */
@inline function blockQ8(w: usize, x0: v128, x1: v128, x2: v128, x3: v128): v128 {
  const w0 = v128.load(w), w1 = v128.load(w, 16);
  let p = i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(w0), x0);
  p = i32x4.add(p, i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(w0), x1));
  p = i32x4.add(p, i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(w1), x2));
  return i32x4.add(p, i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(w1), x3));
}

/**
 * 16 bytes of nibbles at qs (32 codes 0…15) · the block's 32 input codes, as four partial i32
 * sums: x0, x1 as i8 (relaxed SIMD), or x0…x3 as i16 in nibble order (plain).
 */
@inline function blockQ4(qs: usize, x0: v128, x1: v128, x2: v128, x3: v128): v128 {
  const v = v128.load(qs);
  if (ASC_FEATURE_RELAXED_SIMD) return relaxedBlock(lowNibbles(v), x0, highNibbles(v), x1);
  // eight 16-bit lanes of two bytes each: four nibbles per lane, input codes in the matching order
  const m = i16x8.splat(0x000f);
  let p = i32x4.dot_i16x8_s(v128.and(v, m), x0);
  p = i32x4.add(p, i32x4.dot_i16x8_s(v128.and(i16x8.shr_u(v, 4), m), x1));
  p = i32x4.add(p, i32x4.dot_i16x8_s(v128.and(i16x8.shr_u(v, 8), m), x2));
  return i32x4.add(p, i32x4.dot_i16x8_s(i16x8.shr_u(v, 12), x3));
}

/** Vector i of a block's input codes at ab: 16 bytes, or nothing where the kernel reads only two (relaxed q4). */
@inline export function codes(type: i32, ab: usize, i: usize): v128 {
  if (ASC_FEATURE_RELAXED_SIMD && type != Q8_0 && i >= 2) return i32x4.splat(0);
  return v128.load(ab + 16 * i);
}

/** One block's integer partial sums: the weight codes at p · the input codes x0…x3. */
@inline function blockDot(type: i32, p: usize, x0: v128, x1: v128, x2: v128, x3: v128): v128 {
  return type == Q8_0 ? blockQ8(p, x0, x1, x2, x3) : blockQ4(p, x0, x1, x2, x3);
}

/** blockDot with the input codes loaded from ab. */
@inline function blockDotAt(type: i32, p: usize, ab: usize): v128 {
  return blockDot(type, p, codes(type, ab, 0), codes(type, ab, 1), codes(type, ab, 2), codes(type, ab, 3));
}

/**
 * Integer sums of up to four blocks starting at block b (a lane is 0 where no block is left) and
 * the matching weight scales (0 there too), for the 32-value block types.
 */
@inline function blockSums(type: i32, w: usize, a: usize, b: i32, count: i32): v128 {
  const blockBytes: usize = type == Q8_0 ? 34 : type == Q4_0 ? 18 : 20;
  const codeBytes: usize = type == Q8_0 ? 64 : 32 * Q4_CODE_BYTES;
  const qsAt: usize = type == Q4_1 ? 4 : 2;
  const p = w + <usize>b * blockBytes + qsAt, ab = a + <usize>b * codeBytes;
  const z = i32x4.splat(0);
  return sum4x4(blockDotAt(type, p, ab), count > 1 ? blockDotAt(type, p + blockBytes, ab + codeBytes) : z,
    count > 2 ? blockDotAt(type, p + 2 * blockBytes, ab + 2 * codeBytes) : z, count > 3 ? blockDotAt(type, p + 3 * blockBytes, ab + 3 * codeBytes) : z);
}

/** Four lanes from p (stride 4 bytes), zero past `count`. */
@inline export function lanes(p: usize, count: i32): v128 {
  if (count == 4) return v128.load(p);
  let v = i32x4.splat(0);
  v = i32x4.replace_lane(v, 0, load<i32>(p));
  if (count > 1) v = i32x4.replace_lane(v, 1, load<i32>(p, 4));
  if (count > 2) v = i32x4.replace_lane(v, 2, load<i32>(p, 8));
  return v;
}

/** The f16 scales at w, w + blockBytes, … of four consecutive blocks, zero past `count`. */
@inline function blockScales(w: usize, blockBytes: usize, count: i32): v128 {
  if (count == 4) return halves4(w, blockBytes);
  let h = i32x4.splat(0);
  h = i32x4.replace_lane(h, 0, <i32>load<i16>(w));
  if (count > 1) h = i32x4.replace_lane(h, 1, <i32>load<i16>(w + blockBytes));
  if (count > 2) h = i32x4.replace_lane(h, 2, <i32>load<i16>(w + 2 * blockBytes));
  return halfToFloat4(h);
}

/**
 * The float terms of up to four blocks b … b + count − 1 of a q8_0, q4_0 or q4_1 row, from their
 * exact integer sums s (lane i: block b + i): (dw·dx)·Σ q·x, plus (mw·dx)·Σ x for q4_1; lanes
 * past `count` are 0. One function for one row and for several (the integers are exact in any
 * order, so sharing this step is what makes every row's bits the same either way).
 */
@inline function termsFromSums(type: i32, s: v128, w: usize, scales: usize, sums: usize, b: i32, count: i32): v128 {
  const blockBytes: usize = type == Q8_0 ? 34 : type == Q4_0 ? 18 : 20;
  const blk = w + <usize>b * blockBytes;
  if (count == 4) return terms4(type, s, blk, v128.load(scales + (<usize>b << 2)), inputTerm(type, sums, b));
  const dx = lanes(scales + (<usize>b << 2), count);
  const dw = blockScales(blk, blockBytes, count);
  if (type == Q4_0) s = i32x4.sub(s, i32x4.shl(lanes(sums + (<usize>b << 2), count), 3)); // Σ (q − 8)·x = Σ q·x − 8·Σ x
  const term = f32x4.mul(f32x4.mul(dw, dx), f32x4.convert_i32x4_s(s));
  if (type != Q4_1) return term;
  const mw = blockScales(blk + 2, blockBytes, count);
  return f32x4.add(term, f32x4.mul(f32x4.mul(mw, dx), f32x4.convert_i32x4_s(lanes(sums + (<usize>b << 2), count))));
}

/**
 * What four blocks b … b + 3 take from the input row besides its scales, the same for every
 * weight row (computed once for the rows of a pass): 8·Σ x for q4_0, f32(Σ x) for q4_1.
 */
@inline export function inputTerm(type: i32, sums: usize, b: i32): v128 {
  if (type == Q4_0) return i32x4.shl(v128.load(sums + (<usize>b << 2)), 3);
  if (type == Q4_1) return f32x4.convert_i32x4_s(v128.load(sums + (<usize>b << 2)));
  return i32x4.splat(0);
}

/** termsFromSums for four whole blocks at blk: dx the input's four scales, t their inputTerm. */
@inline function terms4(type: i32, s: v128, blk: usize, dx: v128, t: v128): v128 {
  const blockBytes: usize = type == Q8_0 ? 34 : type == Q4_0 ? 18 : 20;
  if (type == Q4_1) {
    // d and m of a block are one u32 (d | m << 16): four loads give both halves of four blocks
    let h = v128.load32_splat(blk);
    h = v128.load32_lane(blk + blockBytes, h, 1);
    h = v128.load32_lane(blk + 2 * blockBytes, h, 2);
    h = v128.load32_lane(blk + 3 * blockBytes, h, 3);
    const term = f32x4.mul(f32x4.mul(halfToFloat4(i32x4.shr_s(i32x4.shl(h, 16), 16)), dx), f32x4.convert_i32x4_s(s));
    return f32x4.add(term, f32x4.mul(f32x4.mul(halfToFloat4(i32x4.shr_s(h, 16)), dx), t));
  }
  const dw = halves4(blk, blockBytes);
  if (type == Q4_0) s = i32x4.sub(s, t); // Σ (q − 8)·x = Σ q·x − 8·Σ x
  return f32x4.mul(f32x4.mul(dw, dx), f32x4.convert_i32x4_s(s));
}

@inline function groupTerms(type: i32, w: usize, a: usize, scales: usize, sums: usize, b: i32, count: i32): v128 {
  return termsFromSums(type, blockSums(type, w, a, b, count), w, scales, sums, b, count);
}

/**
 * One row of q8_0, q4_0 or q4_1 blocks (nb of them) · one quantized input row: codes at a,
 * scales (f32 per block) and sums (i32 per block) behind them. Inlined per type, so every
 * `type ==` and `count >` test folds away.
 */
@inline export function rowDot32(type: i32, w: usize, a: usize, scales: usize, sums: usize, nb: i32): f32 {
  let acc = f32x4.splat(0);
  let b = 0;
  for (; b + 4 <= nb; b += 4) acc = f32x4.add(acc, groupTerms(type, w, a, scales, sums, b, 4));
  if (b < nb) acc = f32x4.add(acc, groupTerms(type, w, a, scales, sums, b, nb - b));
  return hsum(acc);
}

/**
 * Blocks p and p + blockBytes of one weight row against two blocks of input codes (x…, y…),
 * folded as fold2 folds them: i32 lanes, or, for the 4-bit types with relaxed SIMD, still i16
 * (fold2i16; quadOf widens them).
 */
@inline export function pairOf(type: i32, p: usize, blockBytes: usize, x0: v128, x1: v128, x2: v128, x3: v128, y0: v128, y1: v128, y2: v128, y3: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD && type != Q8_0) {
    const u = v128.load(p), v = v128.load(p + blockBytes);
    return fold2i16(relaxedBlock16(lowNibbles(u), x0, highNibbles(u), x1), relaxedBlock16(lowNibbles(v), y0, highNibbles(v), y1));
  }
  return fold2(blockDot(type, p, x0, x1, x2, x3), blockDot(type, p + blockBytes, y0, y1, y2, y3));
}

/** Two pairOf results as the four blocks' integer sums [Σ b, Σ b + 1, Σ b + 2, Σ b + 3]. */
@inline export function quadOf(type: i32, e: v128, f: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD && type != Q8_0) return fold4i16(e, f);
  return fold4(e, f);
}

/**
 * Four weight rows, at w + i·offset, · one quantized input row, into out + i·outOffset (the
 * decode step's matrix × vector): each block's input codes are loaded once for the four rows,
 * and the four rows are four ascending streams through memory. Each row's integer block sums
 * are folded into lanes as sum4x4 folds them (fold2 of blocks 0, 1 and of 2, 3, then fold4) and
 * its float steps are rowDot32's, so its bits are too.
 */
@inline function rowsDot32x4Streams(type: i32, w: usize, offset: usize, a: usize, scales: usize, sums: usize, nb: i32, out: usize, outOffset: usize): void {
  const blockBytes: usize = type == Q8_0 ? 34 : type == Q4_0 ? 18 : 20;
  const codeBytes: usize = type == Q8_0 ? 64 : 32 * Q4_CODE_BYTES;
  const qsAt: usize = type == Q4_1 ? 4 : 2;
  const w1 = w + offset, w2 = w1 + offset, w3 = w2 + offset;
  let acc0 = f32x4.splat(0), acc1 = f32x4.splat(0), acc2 = f32x4.splat(0), acc3 = f32x4.splat(0);
  let b = 0;
  for (; b + 4 <= nb; b += 4) {
    const p = w + <usize>b * blockBytes + qsAt, ab = a + <usize>b * codeBytes;
    // blocks b, b + 1
    let x0 = codes(type, ab, 0), x1 = codes(type, ab, 1), x2 = codes(type, ab, 2), x3 = codes(type, ab, 3);
    let y0 = codes(type, ab + codeBytes, 0), y1 = codes(type, ab + codeBytes, 1), y2 = codes(type, ab + codeBytes, 2), y3 = codes(type, ab + codeBytes, 3);
    const e0 = pairOf(type, p, blockBytes, x0, x1, x2, x3, y0, y1, y2, y3);
    const e1 = pairOf(type, p + offset, blockBytes, x0, x1, x2, x3, y0, y1, y2, y3);
    const e2 = pairOf(type, p + 2 * offset, blockBytes, x0, x1, x2, x3, y0, y1, y2, y3);
    const e3 = pairOf(type, p + 3 * offset, blockBytes, x0, x1, x2, x3, y0, y1, y2, y3);
    // blocks b + 2, b + 3
    const q = p + 2 * blockBytes, aq = ab + 2 * codeBytes;
    x0 = codes(type, aq, 0); x1 = codes(type, aq, 1); x2 = codes(type, aq, 2); x3 = codes(type, aq, 3);
    y0 = codes(type, aq + codeBytes, 0); y1 = codes(type, aq + codeBytes, 1); y2 = codes(type, aq + codeBytes, 2); y3 = codes(type, aq + codeBytes, 3);
    const f0 = pairOf(type, q, blockBytes, x0, x1, x2, x3, y0, y1, y2, y3);
    const f1 = pairOf(type, q + offset, blockBytes, x0, x1, x2, x3, y0, y1, y2, y3);
    const f2 = pairOf(type, q + 2 * offset, blockBytes, x0, x1, x2, x3, y0, y1, y2, y3);
    const f3 = pairOf(type, q + 3 * offset, blockBytes, x0, x1, x2, x3, y0, y1, y2, y3);
    // the input's part of the float step once for the four rows
    const dx = v128.load(scales + (<usize>b << 2)), t = inputTerm(type, sums, b), blk = <usize>b * blockBytes;
    acc0 = f32x4.add(acc0, terms4(type, quadOf(type, e0, f0), w + blk, dx, t));
    acc1 = f32x4.add(acc1, terms4(type, quadOf(type, e1, f1), w1 + blk, dx, t));
    acc2 = f32x4.add(acc2, terms4(type, quadOf(type, e2, f2), w2 + blk, dx, t));
    acc3 = f32x4.add(acc3, terms4(type, quadOf(type, e3, f3), w3 + blk, dx, t));
  }
  if (b < nb) {
    acc0 = f32x4.add(acc0, groupTerms(type, w, a, scales, sums, b, nb - b));
    acc1 = f32x4.add(acc1, groupTerms(type, w1, a, scales, sums, b, nb - b));
    acc2 = f32x4.add(acc2, groupTerms(type, w2, a, scales, sums, b, nb - b));
    acc3 = f32x4.add(acc3, groupTerms(type, w3, a, scales, sums, b, nb - b));
  }
  store<f32>(out, hsum(acc0));
  store<f32>(out + outOffset, hsum(acc1));
  store<f32>(out + 2 * outOffset, hsum(acc2));
  store<f32>(out + 3 * outOffset, hsum(acc3));
}

/**
 * Rows of k f16 weights · k floats, converted eight at a time (no float32 copy of the weights):
 * one input row at x, or two (x and x + xStride, outputs at out and out + outStride) sharing each
 * conversion. Each row's sums are taken in the same order either way.
 */
@inline function rowsDotF16(w: usize, x: usize, k: i32, two: bool, xStride: usize, out: usize, outStride: usize): void {
  const k16 = k & ~15;
  let s0 = f32x4.splat(0), s1 = s0, s2 = s0, s3 = s0;
  let t0 = s0, t1 = s0, t2 = s0, t3 = s0;
  let c = 0;
  for (; c < k16; c += 16) {
    const h0 = v128.load(w + (<usize>c << 1)), h1 = v128.load(w + (<usize>c << 1), 16);
    const l0 = i32x4.extend_low_i16x8_s(h0), l1 = i32x4.extend_high_i16x8_s(h0);
    const l2 = i32x4.extend_low_i16x8_s(h1), l3 = i32x4.extend_high_i16x8_s(h1);
    let v0: v128, v1: v128, v2: v128, v3: v128;
    if (anySpecialHalf(h0, h1)) {
      v0 = halfToFloat4(l0); v1 = halfToFloat4(l1); v2 = halfToFloat4(l2); v3 = halfToFloat4(l3);
    } else {
      v0 = finiteHalfToFloat4(l0); v1 = finiteHalfToFloat4(l1); v2 = finiteHalfToFloat4(l2); v3 = finiteHalfToFloat4(l3);
    }
    const xc = x + (<usize>c << 2);
    s0 = madd(s0, v0, v128.load(xc));
    s1 = madd(s1, v1, v128.load(xc, 16));
    s2 = madd(s2, v2, v128.load(xc, 32));
    s3 = madd(s3, v3, v128.load(xc, 48));
    if (two) {
      const yc = xc + xStride;
      t0 = madd(t0, v0, v128.load(yc));
      t1 = madd(t1, v1, v128.load(yc, 16));
      t2 = madd(t2, v2, v128.load(yc, 32));
      t3 = madd(t3, v3, v128.load(yc, 48));
    }
  }
  let d = hsum(f32x4.add(f32x4.add(s0, s1), f32x4.add(s2, s3)));
  let e = hsum(f32x4.add(f32x4.add(t0, t1), f32x4.add(t2, t3)));
  for (; c < k; c++) {
    const h = halfToFloat(load<u16>(w + (<usize>c << 1)));
    d += h * load<f32>(x + (<usize>c << 2));
    if (two) e += h * load<f32>(x + xStride + (<usize>c << 2));
  }
  store<f32>(out, d);
  if (two) store<f32>(out + outStride, e);
}

/**
 * out[r, o] = W[o] · input row r for output rows o0 ≤ o < o1 and every r < rows. For f16 `a` is
 * the float32 input [rows, k]; otherwise the rows quantized by quantizeActivations. Each (r, o)
 * is computed by the same instructions whatever `rows` and the split are (batch-invariant).
 */
export function matmulQuantRows(type: i32, out: usize, a: usize, w: usize, rows: i32, k: i32, n: i32, o0: i32, o1: i32, tmp: usize): void {
  // f16 and q4_k each in a function of their own, compiled only by the models that use them (as
  // the per-type row functions below): inlined here they were most of the 4.3 KB that TurboFan
  // compiled (0.86 MB of compiler memory) for every q8_0 or q4_1 model
  if (type == F16) {
    matmulF16Rows(out, a, w, rows, k, n, o0, o1);
    return;
  }
  const stride = <usize>activationRowBytes(type, k);
  const nScales = type == Q4_K ? k >> 8 : k >> 5;
  const scalesAt = <usize>k << 1, sumsAt = scalesAt + (<usize>nScales << 2);
  if (type == Q4_K) {
    matmulQ4_KRows(out, a, w, rows, k, n, o0, o1, tmp, stride, scalesAt, sumsAt);
    return;
  }
  const rowBytes = <usize>(k >> 5) * (type == Q8_0 ? 34 : type == Q4_0 ? 18 : 20), r4 = rows & ~3;
  if (r4 > 0) {
    if (type == Q8_0) rows4Q8_0(out, a, w, r4, k, n, o0, o1, stride, scalesAt, sumsAt, rowBytes, tmp);
    else if (type == Q4_0) rows4Q4_0(out, a, w, r4, k, n, o0, o1, stride, scalesAt, sumsAt, rowBytes, tmp);
    else rows4Q4_1(out, a, w, r4, k, n, o0, o1, stride, scalesAt, sumsAt, rowBytes, tmp);
  }
  for (let r = r4; r < rows; r++) {
    const ar = a + <usize>r * stride, outRow = out + ((<usize>r * n) << 2);
    if (type == Q8_0) rowQ8_0(outRow, ar, w, k, o0, o1, scalesAt, sumsAt, rowBytes);
    else if (type == Q4_0) rowQ4_0(outRow, ar, w, k, o0, o1, scalesAt, sumsAt, rowBytes);
    else rowQ4_1(outRow, ar, w, k, o0, o1, scalesAt, sumsAt, rowBytes);
  }
}

/** matmulQuantRows for f16 weights: `a` is the float32 input [rows, k]. */
function matmulF16Rows(out: usize, a: usize, w: usize, rows: i32, k: i32, n: i32, o0: i32, o1: i32): void {
  const rowBytes = <usize>k << 1, xStride = <usize>k << 2, outStride = <usize>n << 2;
  for (let o = o0; o < o1; o++) {
    const wo = w + <usize>o * rowBytes;
    let r = 0;
    for (; r + 2 <= rows; r += 2) rowsDotF16(wo, a + <usize>r * xStride, k, true, xStride, out + ((<usize>r * n + o) << 2), outStride);
    if (r < rows) rowsDotF16(wo, a + <usize>r * xStride, k, false, xStride, out + ((<usize>r * n + o) << 2), outStride);
  }
}

/** matmulQuantRows for q4_k weights (input rows quantized to q8_k, `stride` bytes apart). */
function matmulQ4_KRows(out: usize, a: usize, w: usize, rows: i32, k: i32, n: i32, o0: i32, o1: i32, tmp: usize, stride: usize, scalesAt: usize, sumsAt: usize): void {
  const rowBytes = <usize>(k >> 8) * 144, outStride = <usize>n << 2, r4 = rows & ~3;
  for (let o = o0; o < o1; o++) {
    const wo = w + <usize>o * rowBytes;
    for (let r = 0; r < r4; r += 4) rowsDotQ4_K4(wo, a + <usize>r * stride, stride, scalesAt, sumsAt, k >> 8, out + ((<usize>r * n + o) << 2), outStride, tmp);
  }
  // the rows left over (a decode step's one): with relaxed SIMD four weight rows per pass, o + i·quarter
  // (four ascending streams, as rows32 below); the plain build's i16 codes leave no registers to share
  for (let r = r4; r < rows; r++) {
    const ar = a + <usize>r * stride, outRow = out + ((<usize>r * n) << 2);
    let o = o0;
    if (ASC_FEATURE_RELAXED_SIMD) {
      const quarter = (o1 - o0) >> 2;
      for (; o < o0 + quarter; o++) rowsDotQ4_K4Streams(w + <usize>o * rowBytes, <usize>quarter * rowBytes, ar, ar + scalesAt, ar + sumsAt, k >> 8, outRow + (<usize>o << 2), <usize>quarter << 2, tmp);
      o = o0 + 4 * quarter;
    }
    for (; o < o1; o++) store<f32>(outRow + (<usize>o << 2), rowDotQ4_K(w + <usize>o * rowBytes, ar, ar + scalesAt, ar + sumsAt, k >> 8));
  }
}

// One function per (block type, four input rows or one), each the @inline kernel below with its
// type as a constant, and none of them inlined here: V8 compiles a wasm function on its first
// call and recompiles it with its optimizing tier once hot, and what that costs in compiler
// memory grows with the function. Inlined into one function, the six were 41 KB of wasm that
// took TurboFan 6.4 MB of memory (159 ms) the first time a decode step got hot; one of them is
// 4–6 KB, and a decode step only ever calls the one-row function of its type.
function rows4Q8_0(out: usize, a: usize, w: usize, r4: i32, k: i32, n: i32, o0: i32, o1: i32, stride: usize, scalesAt: usize, sumsAt: usize, rowBytes: usize, tmp: usize): void {
  rows4(Q8_0, out, a, w, r4, k, n, o0, o1, stride, scalesAt, sumsAt, rowBytes, tmp);
}
function rows4Q4_0(out: usize, a: usize, w: usize, r4: i32, k: i32, n: i32, o0: i32, o1: i32, stride: usize, scalesAt: usize, sumsAt: usize, rowBytes: usize, tmp: usize): void {
  rows4(Q4_0, out, a, w, r4, k, n, o0, o1, stride, scalesAt, sumsAt, rowBytes, tmp);
}
function rows4Q4_1(out: usize, a: usize, w: usize, r4: i32, k: i32, n: i32, o0: i32, o1: i32, stride: usize, scalesAt: usize, sumsAt: usize, rowBytes: usize, tmp: usize): void {
  rows4(Q4_1, out, a, w, r4, k, n, o0, o1, stride, scalesAt, sumsAt, rowBytes, tmp);
}
function rowQ8_0(outRow: usize, ar: usize, w: usize, k: i32, o0: i32, o1: i32, scalesAt: usize, sumsAt: usize, rowBytes: usize): void {
  row32(Q8_0, outRow, ar, w, k, o0, o1, scalesAt, sumsAt, rowBytes);
}
function rowQ4_0(outRow: usize, ar: usize, w: usize, k: i32, o0: i32, o1: i32, scalesAt: usize, sumsAt: usize, rowBytes: usize): void {
  row32(Q4_0, outRow, ar, w, k, o0, o1, scalesAt, sumsAt, rowBytes);
}
function rowQ4_1(outRow: usize, ar: usize, w: usize, k: i32, o0: i32, o1: i32, scalesAt: usize, sumsAt: usize, rowBytes: usize): void {
  row32(Q4_1, outRow, ar, w, k, o0, o1, scalesAt, sumsAt, rowBytes);
}

/** Input rows 0…r4 (a multiple of 4) · weight rows o0…o1, four input rows per pass. */
@inline function rows4(
  type: i32, out: usize, a: usize, w: usize, r4: i32, k: i32, n: i32, o0: i32, o1: i32,
  stride: usize, scalesAt: usize, sumsAt: usize, rowBytes: usize, tmp: usize,
): void {
  for (let o = o0; o < o1; o++) {
    const wo = w + <usize>o * rowBytes;
    for (let r = 0; r < r4; r += 4) rowsDot32x4(type, wo, a + <usize>r * stride, stride, scalesAt, sumsAt, k >> 5, out + ((<usize>r * n + o) << 2), <usize>n << 2, tmp);
  }
}

/**
 * One input row (a decode step's) · weight rows o0…o1: rows o, o + quarter, o + 2·quarter and
 * o + 3·quarter per pass, four ascending streams (adjacent rows interleaved block by block
 * defeat the hardware prefetcher).
 */
@inline function row32(type: i32, outRow: usize, ar: usize, w: usize, k: i32, o0: i32, o1: i32, scalesAt: usize, sumsAt: usize, rowBytes: usize): void {
  const quarter = (o1 - o0) >> 2;
  for (let o = o0; o < o0 + quarter; o++) {
    rowsDot32x4Streams(type, w + <usize>o * rowBytes, <usize>quarter * rowBytes, ar, ar + scalesAt, ar + sumsAt, k >> 5, outRow + (<usize>o << 2), <usize>quarter << 2);
  }
  for (let o = o0 + 4 * quarter; o < o1; o++) store<f32>(outRow + (<usize>o << 2), rowDot32(type, w + <usize>o * rowBytes, ar, ar + scalesAt, ar + sumsAt, k >> 5));
}

// ---- four input rows at a time (prefill, batched decode): every weight block is read and
// unpacked once for the four rows. The integer sums are exact in any order and the float steps
// are the one-row kernel's (termsFromSums; quant-dot-q4k.ts for q4_k), so each row gets the same bits as
// alone. Scratch at tmp (thread-private): per row two folded pairs of blocks (32 bytes) and an
// accumulator (16 bytes) for the block types; eight sub-block sums (128 bytes) for q4_k.

/**
 * Integer sums of blocks b, b + 1 of a q8_0 / q4_0 / q4_1 row against four input rows (codes at
 * a + r·stride), folded into one i32x4 per row at tmp + 32·r + 16·half.
 */
@inline function pairSums4Rows(type: i32, w: usize, a: usize, stride: usize, b: i32, tmp: usize, half: usize): void {
  const blockBytes: usize = type == Q8_0 ? 34 : type == Q4_0 ? 18 : 20;
  const codeBytes: usize = type == Q8_0 ? 64 : 32 * Q4_CODE_BYTES;
  const p0 = w + <usize>b * blockBytes + (type == Q4_1 ? 4 : 2), p1 = p0 + blockBytes;
  const c0 = <usize>b * codeBytes;
  if (type == Q8_0) {
    const x0 = v128.load(p0), x1 = v128.load(p0, 16), y0 = v128.load(p1), y1 = v128.load(p1, 16);
    const e0 = i16x8.extend_low_i8x16_s(x0), e1 = i16x8.extend_high_i8x16_s(x0), e2 = i16x8.extend_low_i8x16_s(x1), e3 = i16x8.extend_high_i8x16_s(x1);
    const f0 = i16x8.extend_low_i8x16_s(y0), f1 = i16x8.extend_high_i8x16_s(y0), f2 = i16x8.extend_low_i8x16_s(y1), f3 = i16x8.extend_high_i8x16_s(y1);
    for (let r: usize = 0; r < 4; r++) {
      const ar = a + r * stride + c0;
      v128.store(tmp + 32 * r + half, fold2(dot32(e0, e1, e2, e3, ar), dot32(f0, f1, f2, f3, ar + 64)));
    }
  } else if (ASC_FEATURE_RELAXED_SIMD) {
    const x = v128.load(p0), y = v128.load(p1);
    const lo0 = lowNibbles(x), hi0 = highNibbles(x), lo1 = lowNibbles(y), hi1 = highNibbles(y);
    for (let r: usize = 0; r < 4; r++) {
      const ar = a + r * stride + c0;
      v128.store(tmp + 32 * r + half, fold2i16(relaxedBlock16(lo0, v128.load(ar), hi0, v128.load(ar, 16)), relaxedBlock16(lo1, v128.load(ar, 32), hi1, v128.load(ar, 48))));
    }
  } else {
    const m = i16x8.splat(0x000f);
    const x = v128.load(p0), y = v128.load(p1);
    const n0 = v128.and(x, m), n1 = v128.and(i16x8.shr_u(x, 4), m), n2 = v128.and(i16x8.shr_u(x, 8), m), n3 = i16x8.shr_u(x, 12);
    const q0 = v128.and(y, m), q1 = v128.and(i16x8.shr_u(y, 4), m), q2 = v128.and(i16x8.shr_u(y, 8), m), q3 = i16x8.shr_u(y, 12);
    for (let r: usize = 0; r < 4; r++) {
      const ar = a + r * stride + c0;
      v128.store(tmp + 32 * r + half, fold2(dot32(n0, n1, n2, n3, ar), dot32(q0, q1, q2, q3, ar + 64)));
    }
  }
}

/** Four input rows (at a, stride apart) · one q8_0 / q4_0 / q4_1 weight row: outputs at out + r·outStride. */
@inline function rowsDot32x4(
  type: i32, w: usize, a: usize, stride: usize, scalesAt: usize, sumsAt: usize, nb: i32, out: usize, outStride: usize, tmp: usize,
): void {
  const accs = tmp + 128;
  for (let r: usize = 0; r < 4; r++) v128.store(accs + 16 * r, f32x4.splat(0));
  let b = 0;
  for (; b + 4 <= nb; b += 4) {
    pairSums4Rows(type, w, a, stride, b, tmp, 0);
    pairSums4Rows(type, w, a, stride, b + 2, tmp, 16);
    for (let r: usize = 0; r < 4; r++) {
      const ar = a + r * stride;
      const s = quadOf(type, v128.load(tmp + 32 * r), v128.load(tmp + 32 * r, 16));
      v128.store(accs + 16 * r, f32x4.add(v128.load(accs + 16 * r), termsFromSums(type, s, w, ar + scalesAt, ar + sumsAt, b, 4)));
    }
  }
  for (let r: usize = 0; r < 4; r++) {
    const ar = a + r * stride;
    let acc = v128.load(accs + 16 * r);
    if (b < nb) acc = f32x4.add(acc, groupTerms(type, w, ar, ar + scalesAt, ar + sumsAt, b, nb - b));
    store<f32>(out + r * outStride, hsum(acc));
  }
}
