// Quantized matrix × vector / matrix × matrix (reference: src/quant/reference.ts, which gives the
// same bits). A weight row is ggml blocks (src/quant/types.ts draws them); the input row was
// quantized once by quant-activation.ts. Per block the products are summed exactly in integers
// (i32x4.dot_i16x8_s on 16-bit lanes, or the relaxed-SIMD i8 × i7 dot product where the module
// is built with it); floats enter once per block: (weight scale · input scale) · integer sum.
//
// Float sums are kept the way the reference keeps them: the integer sums of four consecutive
// blocks are gathered into one i32x4 (block b in lane b mod 4), scaled and added into an f32x4
// accumulator, and the lanes are added as (l0 + l2) + (l1 + l3) at the end. q4_k adds its
// super-blocks one after the other in a scalar. f16 rows are plain float dot products.
import { F16, Q4_0, Q4_1, Q4_K, Q8_0 } from "./quant-types";
import { activationRowBytes } from "./quant-activation";
import { hsum, madd } from "./simd";

// Bytes per input code in the activation rows: the relaxed kernels read q4 codes as i8.
const Q4_CODE_BYTES: usize = ASC_FEATURE_RELAXED_SIMD ? 1 : 2;

/**
 * f16 bits → f32, four lanes: `h` holds each f16 sign-extended to 32 bits (as i32x4.extend_*_s
 * gives it). Shifted left by 13, the exponent and mantissa sit where an f32 keeps them and the
 * smeared sign fills bits 28…31; the mask keeps bit 31 of it. Multiplying by 2^112 re-biases the
 * exponent (15 → 127) and scales subnormals exactly, sign included. Exponent 31 (inf, NaN) comes
 * out finite (≥ 65536, above any finite f16) and gets the all-ones exponent instead.
 */
@inline export function halfToFloat4(h: v128): v128 {
  const bits = v128.and(i32x4.shl(h, 13), i32x4.splat(0x8fffe000));
  const scaled = f32x4.mul(bits, f32x4.splat(5.192296858534828e33)); // 2^112
  const special = i32x4.gt_s(v128.and(bits, i32x4.splat(0x7fffffff)), i32x4.splat(0x0f7fffff));
  return v128.bitselect(v128.or(bits, i32x4.splat(0x7f800000)), scaled, special);
}

/** halfToFloat4 for lanes known to hold no inf or NaN: the shift, the mask and the multiply. */
@inline function finiteHalfToFloat4(h: v128): v128 {
  return f32x4.mul(v128.and(i32x4.shl(h, 13), i32x4.splat(0x8fffe000)), f32x4.splat(5.192296858534828e33));
}

/** Whether any of the 16 f16 in h0, h1 has the all-ones exponent (inf or NaN). */
@inline function anySpecialHalf(h0: v128, h1: v128): bool {
  const e = i16x8.splat(0x7c00);
  return v128.any_true(v128.or(i16x8.eq(v128.and(h0, e), e), i16x8.eq(v128.and(h1, e), e)));
}

@inline function halfToFloat(h: u32): f32 {
  return f32x4.extract_lane(halfToFloat4(i32x4.splat(<i32><i16>h)), 0);
}

/** The f16 at p, p + stride, p + 2·stride, p + 3·stride as an f32x4. */
@inline function halves4(p: usize, stride: usize): v128 {
  let h = i32x4.splat(<i32>load<i16>(p));
  h = i32x4.replace_lane(h, 1, <i32>load<i16>(p + stride));
  h = i32x4.replace_lane(h, 2, <i32>load<i16>(p + 2 * stride));
  h = i32x4.replace_lane(h, 3, <i32>load<i16>(p + 3 * stride));
  return halfToFloat4(h);
}

/** [Σ v0, Σ v1, Σ v2, Σ v3] of four i32x4: a transpose folded into the additions. */
@inline export function sum4x4(v0: v128, v1: v128, v2: v128, v3: v128): v128 {
  const t0 = i32x4.add(v128.shuffle<i32>(v0, v1, 0, 4, 1, 5), v128.shuffle<i32>(v0, v1, 2, 6, 3, 7));
  const t1 = i32x4.add(v128.shuffle<i32>(v2, v3, 0, 4, 1, 5), v128.shuffle<i32>(v2, v3, 2, 6, 3, 7));
  return i32x4.add(v128.shuffle<i32>(t0, t1, 0, 1, 4, 5), v128.shuffle<i32>(t0, t1, 2, 3, 6, 7));
}

@inline export function hsumI32(v: v128): i32 {
  const pairs = i32x4.add(v, v128.shuffle<i32>(v, v, 2, 3, 0, 1));
  return i32x4.extract_lane(pairs, 0) + i32x4.extract_lane(pairs, 1);
}

/** 32 i8 weights at w · 32 i16 codes at a, as four partial i32 sums. */
@inline function blockQ8(w: usize, a: usize): v128 {
  const w0 = v128.load(w), w1 = v128.load(w, 16);
  let p = i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(w0), v128.load(a));
  p = i32x4.add(p, i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(w0), v128.load(a, 16)));
  p = i32x4.add(p, i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(w1), v128.load(a, 32)));
  return i32x4.add(p, i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(w1), v128.load(a, 48)));
}

/**
 * Σ q·x over 32 values as four partial i32 sums, with the relaxed-SIMD dot product: q0, q1 hold
 * 16 codes 0…15 each (valid "i7" operands, so the result is exact and the same on every
 * engine), x0, x1 the matching 16 input codes (i8). The i16 pair sums (at most 2·15·127) of the
 * two halves are added before widening. (i16x8.relaxed_dot rather than the i32x4 "_add" form:
 * V8 11.3's baseline compiler, Node 20's, computes the latter wrong in some register
 * assignments; test/backend-wasm-tiers.test.ts runs the kernels under each compiler.)
 */
@inline function relaxedBlock(q0: v128, x0: v128, q1: v128, x1: v128): v128 {
  return i32x4.extadd_pairwise_i16x8_s(i16x8.add(i16x8.relaxed_dot_i8x16_i7x16_s(x0, q0), i16x8.relaxed_dot_i8x16_i7x16_s(x1, q1)));
}

/** The low and high nibble of each byte. (A 16-bit shift and a byte mask: x64 has no 8-bit shift, so i8x16.shr_u costs more.) */
@inline function lowNibbles(v: v128): v128 {
  return v128.and(v, i8x16.splat(0x0f));
}
@inline function highNibbles(v: v128): v128 {
  return v128.and(i16x8.shr_u(v, 4), i8x16.splat(0x0f));
}

/** 16 bytes of nibbles at qs (32 codes 0…15) · the block's 32 input codes at a, as four partial i32 sums. */
@inline function blockQ4(qs: usize, a: usize): v128 {
  const v = v128.load(qs);
  if (ASC_FEATURE_RELAXED_SIMD) return relaxedBlock(lowNibbles(v), v128.load(a), highNibbles(v), v128.load(a, 16));
  // eight 16-bit lanes of two bytes each: four nibbles per lane, input codes in the matching order
  const m = i16x8.splat(0x000f);
  let p = i32x4.dot_i16x8_s(v128.and(v, m), v128.load(a));
  p = i32x4.add(p, i32x4.dot_i16x8_s(v128.and(i16x8.shr_u(v, 4), m), v128.load(a, 16)));
  p = i32x4.add(p, i32x4.dot_i16x8_s(v128.and(i16x8.shr_u(v, 8), m), v128.load(a, 32)));
  return i32x4.add(p, i32x4.dot_i16x8_s(i16x8.shr_u(v, 12), v128.load(a, 48)));
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
  if (type == Q8_0) {
    return sum4x4(blockQ8(p, ab), count > 1 ? blockQ8(p + blockBytes, ab + codeBytes) : z,
      count > 2 ? blockQ8(p + 2 * blockBytes, ab + 2 * codeBytes) : z, count > 3 ? blockQ8(p + 3 * blockBytes, ab + 3 * codeBytes) : z);
  }
  return sum4x4(blockQ4(p, ab), count > 1 ? blockQ4(p + blockBytes, ab + codeBytes) : z,
    count > 2 ? blockQ4(p + 2 * blockBytes, ab + 2 * codeBytes) : z, count > 3 ? blockQ4(p + 3 * blockBytes, ab + 3 * codeBytes) : z);
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
  const dx = lanes(scales + (<usize>b << 2), count);
  const blk = w + <usize>b * blockBytes;
  const dw = blockScales(blk, blockBytes, count);
  if (type == Q4_0) s = i32x4.sub(s, i32x4.shl(lanes(sums + (<usize>b << 2), count), 3)); // Σ (q − 8)·x = Σ q·x − 8·Σ x
  const term = f32x4.mul(f32x4.mul(dw, dx), f32x4.convert_i32x4_s(s));
  if (type != Q4_1) return term;
  const mw = blockScales(blk + 2, blockBytes, count);
  return f32x4.add(term, f32x4.mul(f32x4.mul(mw, dx), f32x4.convert_i32x4_s(lanes(sums + (<usize>b << 2), count))));
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

/** 4 bytes of a u32 as the four i32 lanes of a vector. */
@inline function bytes4(u: u32): v128 {
  return i32x4.extend_low_i16x8_u(i16x8.extend_low_i8x16_u(i32x4.splat(u)));
}

/**
 * One row of q4_k super-blocks (nsb of them) · one q8_k input row. Per super-block: the eight
 * sub-block sums Σ q·x, their 6-bit scales and mins unpacked four at a time (ggml's masks), and
 * d·dx·Σ sc·(Σ q·x) − dmin·dx·Σ m·(Σ x) added into a float32 scalar.
 */
function rowDotQ4_K(w: usize, a: usize, scales: usize, sums: usize, nsb: i32): f32 {
  let acc: f32 = 0;
  const chunkCodes: usize = 64 * Q4_CODE_BYTES;
  for (let sb = 0; sb < nsb; sb++) {
    const blk = w + <usize>sb * 144, ab = a + <usize>sb * 4 * chunkCodes;
    let s0 = i32x4.splat(0), s1 = s0, s2 = s0, s3 = s0, s4 = s0, s5 = s0, s6 = s0, s7 = s0;
    for (let c = 0; c < 4; c++) {
      const qs = blk + 16 + (<usize>c << 5), ac = ab + <usize>c * chunkCodes;
      const first = v128.load(qs), second = v128.load(qs, 16);
      let even: v128, odd: v128; // sub-blocks 2c (low nibbles) and 2c + 1 (high nibbles)
      if (ASC_FEATURE_RELAXED_SIMD) {
        even = relaxedBlock(lowNibbles(first), v128.load(ac), lowNibbles(second), v128.load(ac, 16));
        odd = relaxedBlock(highNibbles(first), v128.load(ac, 32), highNibbles(second), v128.load(ac, 48));
      } else {
        const m = i16x8.splat(0x000f);
        even = i32x4.add(
          i32x4.add(i32x4.dot_i16x8_s(v128.and(first, m), v128.load(ac)), i32x4.dot_i16x8_s(v128.and(i16x8.shr_u(first, 8), m), v128.load(ac, 16))),
          i32x4.add(i32x4.dot_i16x8_s(v128.and(second, m), v128.load(ac, 32)), i32x4.dot_i16x8_s(v128.and(i16x8.shr_u(second, 8), m), v128.load(ac, 48))));
        odd = i32x4.add(
          i32x4.add(i32x4.dot_i16x8_s(v128.and(i16x8.shr_u(first, 4), m), v128.load(ac, 64)), i32x4.dot_i16x8_s(i16x8.shr_u(first, 12), v128.load(ac, 80))),
          i32x4.add(i32x4.dot_i16x8_s(v128.and(i16x8.shr_u(second, 4), m), v128.load(ac, 96)), i32x4.dot_i16x8_s(i16x8.shr_u(second, 12), v128.load(ac, 112))));
      }
      if (c == 0) { s0 = even; s1 = odd; } else if (c == 1) { s2 = even; s3 = odd; } else if (c == 2) { s4 = even; s5 = odd; } else { s6 = even; s7 = odd; }
    }
    acc += superBlockTerm(blk, sum4x4(s0, s1, s2, s3), sum4x4(s4, s5, s6, s7), sums + (<usize>sb << 5), load<f32>(scales + (<usize>sb << 2)));
  }
  return acc;
}

/**
 * A q4_k super-block's float term from its exact integer sub-block sums (lo: sub-blocks 0…3,
 * hi: 4…7), the input's per-32 sums at `sums` and its scale dx:
 * d·dx·Σ sc·(Σ q·x) − dmin·dx·Σ m·(Σ x). The scales and mins are unpacked four at a time from
 * the 12 bytes read as three u32 (ggml's masks): sc[0…3] = u0 & 63, m[0…3] = u1 & 63,
 * sc[4…7] = (u2 & 15) | (u0 >> 6) << 4, m[4…7] = (u2 >> 4) | (u1 >> 6) << 4, per byte.
 */
@inline function superBlockTerm(blk: usize, lo: v128, hi: v128, sums: usize, dx: f32): f32 {
  const u0 = load<u32>(blk, 4), u1 = load<u32>(blk, 8), u2 = load<u32>(blk, 12);
  const scLow = bytes4(u0 & 0x3f3f3f3f), mLow = bytes4(u1 & 0x3f3f3f3f);
  const scHigh = bytes4((u2 & 0x0f0f0f0f) | (((u0 >> 6) & 0x03030303) << 4));
  const mHigh = bytes4(((u2 >> 4) & 0x0f0f0f0f) | (((u1 >> 6) & 0x03030303) << 4));
  const scaled = hsumI32(i32x4.add(i32x4.mul(lo, scLow), i32x4.mul(hi, scHigh)));
  const mins = hsumI32(i32x4.add(i32x4.mul(v128.load(sums), mLow), i32x4.mul(v128.load(sums, 16), mHigh)));
  return (halfToFloat(load<u16>(blk)) * dx) * <f32>scaled - (halfToFloat(load<u16>(blk, 2)) * dx) * <f32>mins;
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
  if (type == F16) {
    const rowBytes = <usize>k << 1, xStride = <usize>k << 2, outStride = <usize>n << 2;
    for (let o = o0; o < o1; o++) {
      const wo = w + <usize>o * rowBytes;
      let r = 0;
      for (; r + 2 <= rows; r += 2) rowsDotF16(wo, a + <usize>r * xStride, k, true, xStride, out + ((<usize>r * n + o) << 2), outStride);
      if (r < rows) rowsDotF16(wo, a + <usize>r * xStride, k, false, xStride, out + ((<usize>r * n + o) << 2), outStride);
    }
    return;
  }
  const stride = <usize>activationRowBytes(type, k);
  const nScales = type == Q4_K ? k >> 8 : k >> 5;
  const scalesAt = <usize>k << 1, sumsAt = scalesAt + (<usize>nScales << 2);
  if (type == Q4_K) {
    const rowBytes = <usize>(k >> 8) * 144;
    for (let o = o0; o < o1; o++) {
      const wo = w + <usize>o * rowBytes;
      let r = 0;
      for (; r + 4 <= rows; r += 4) rowsDotQ4_K4(wo, a + <usize>r * stride, stride, scalesAt, sumsAt, k >> 8, out + ((<usize>r * n + o) << 2), <usize>n << 2, tmp);
      for (; r < rows; r++) {
        const ar = a + <usize>r * stride;
        store<f32>(out + ((<usize>r * n + o) << 2), rowDotQ4_K(wo, ar, ar + scalesAt, ar + sumsAt, k >> 8));
      }
    }
    return;
  }
  if (type == Q8_0) rows32(Q8_0, out, a, w, rows, k, n, o0, o1, stride, scalesAt, sumsAt, tmp);
  else if (type == Q4_0) rows32(Q4_0, out, a, w, rows, k, n, o0, o1, stride, scalesAt, sumsAt, tmp);
  else rows32(Q4_1, out, a, w, rows, k, n, o0, o1, stride, scalesAt, sumsAt, tmp);
}

@inline function rows32(
  type: i32, out: usize, a: usize, w: usize, rows: i32, k: i32, n: i32, o0: i32, o1: i32,
  stride: usize, scalesAt: usize, sumsAt: usize, tmp: usize,
): void {
  const rowBytes = <usize>(k >> 5) * (type == Q8_0 ? 34 : type == Q4_0 ? 18 : 20);
  for (let o = o0; o < o1; o++) {
    const wo = w + <usize>o * rowBytes;
    let r = 0;
    for (; r + 4 <= rows; r += 4) rowsDot32x4(type, wo, a + <usize>r * stride, stride, scalesAt, sumsAt, k >> 5, out + ((<usize>r * n + o) << 2), <usize>n << 2, tmp);
    for (; r < rows; r++) {
      const ar = a + <usize>r * stride;
      store<f32>(out + ((<usize>r * n + o) << 2), rowDot32(type, wo, ar, ar + scalesAt, ar + sumsAt, k >> 5));
    }
  }
}

// ---- four input rows at a time (prefill, batched decode): every weight block is read and
// unpacked once for the four rows. The integer sums are exact in any order and the float steps
// are the one-row kernel's (termsFromSums, superBlockTerm), so each row gets the same bits as
// alone. Scratch at tmp (thread-private): per row two folded pairs of blocks (32 bytes) and an
// accumulator (16 bytes) for the block types; eight sub-block sums (128 bytes) for q4_k.

@inline function fold2(v0: v128, v1: v128): v128 {
  return i32x4.add(v128.shuffle<i32>(v0, v1, 0, 4, 1, 5), v128.shuffle<i32>(v0, v1, 2, 6, 3, 7));
}
@inline function fold4(t0: v128, t1: v128): v128 {
  return i32x4.add(v128.shuffle<i32>(t0, t1, 0, 1, 4, 5), v128.shuffle<i32>(t0, t1, 2, 3, 6, 7));
}

/** Σ of four i16x8 · i16x8 dot products: decoded codes e0…e3 with 32 i16 input codes at a. */
@inline function dot32(e0: v128, e1: v128, e2: v128, e3: v128, a: usize): v128 {
  return i32x4.add(
    i32x4.add(i32x4.dot_i16x8_s(e0, v128.load(a)), i32x4.dot_i16x8_s(e1, v128.load(a, 16))),
    i32x4.add(i32x4.dot_i16x8_s(e2, v128.load(a, 32)), i32x4.dot_i16x8_s(e3, v128.load(a, 48))));
}

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
      v128.store(tmp + 32 * r + half, fold2(relaxedBlock(lo0, v128.load(ar), hi0, v128.load(ar, 16)), relaxedBlock(lo1, v128.load(ar, 32), hi1, v128.load(ar, 48))));
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
      const s = fold4(v128.load(tmp + 32 * r), v128.load(tmp + 32 * r, 16));
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

/** Four input rows (at a, stride apart) · one q4_k weight row of nsb super-blocks: outputs at out + r·outStride. */
function rowsDotQ4_K4(w: usize, a: usize, stride: usize, scalesAt: usize, sumsAt: usize, nsb: i32, out: usize, outStride: usize, tmp: usize): void {
  const chunkCodes: usize = 64 * Q4_CODE_BYTES;
  let acc0: f32 = 0, acc1: f32 = 0, acc2: f32 = 0, acc3: f32 = 0;
  for (let sb = 0; sb < nsb; sb++) {
    const blk = w + <usize>sb * 144, ab = a + <usize>sb * 4 * chunkCodes;
    for (let c: usize = 0; c < 4; c++) {
      const qs = blk + 16 + (c << 5);
      const first = v128.load(qs), second = v128.load(qs, 16);
      if (ASC_FEATURE_RELAXED_SIMD) {
        const lo0 = lowNibbles(first), lo1 = lowNibbles(second), hi0 = highNibbles(first), hi1 = highNibbles(second);
        for (let r: usize = 0; r < 4; r++) {
          const ac = ab + r * stride + c * chunkCodes, t = tmp + 128 * r + 32 * c;
          v128.store(t, relaxedBlock(lo0, v128.load(ac), lo1, v128.load(ac, 16)));
          v128.store(t, relaxedBlock(hi0, v128.load(ac, 32), hi1, v128.load(ac, 48)), 16);
        }
      } else {
        const m = i16x8.splat(0x000f);
        const f0 = v128.and(first, m), f1 = v128.and(i16x8.shr_u(first, 4), m), f2 = v128.and(i16x8.shr_u(first, 8), m), f3 = i16x8.shr_u(first, 12);
        const g0 = v128.and(second, m), g1 = v128.and(i16x8.shr_u(second, 4), m), g2 = v128.and(i16x8.shr_u(second, 8), m), g3 = i16x8.shr_u(second, 12);
        for (let r: usize = 0; r < 4; r++) {
          const ac = ab + r * stride + c * chunkCodes, t = tmp + 128 * r + 32 * c;
          v128.store(t, dot32(f0, f2, g0, g2, ac));
          v128.store(t, dot32(f1, f3, g1, g3, ac + 64), 16);
        }
      }
    }
    for (let r: usize = 0; r < 4; r++) {
      const t = tmp + 128 * r, ar = a + r * stride;
      const lo = sum4x4(v128.load(t), v128.load(t, 16), v128.load(t, 32), v128.load(t, 48));
      const hi = sum4x4(v128.load(t, 64), v128.load(t, 80), v128.load(t, 96), v128.load(t, 112));
      const term = superBlockTerm(blk, lo, hi, ar + sumsAt + (<usize>sb << 5), load<f32>(ar + scalesAt + (<usize>sb << 2)));
      if (r == 0) acc0 += term; else if (r == 1) acc1 += term; else if (r == 2) acc2 += term; else acc3 += term;
    }
  }
  store<f32>(out, acc0);
  store<f32>(out + outStride, acc1);
  store<f32>(out + 2 * outStride, acc2);
  store<f32>(out + 3 * outStride, acc3);
}

