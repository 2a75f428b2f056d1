// SIMD helpers shared by the quantized kernels (quant-dot.ts, quant-dot-q4k.ts and the packed
// KV-cache attention): f16 scales to f32, nibble unpacking, the relaxed-SIMD block product and
// the integer lane folds.

// Bytes per input code in the activation rows: the relaxed kernels read q4 codes as i8.
export const Q4_CODE_BYTES: usize = ASC_FEATURE_RELAXED_SIMD ? 1 : 2;

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
@inline export function finiteHalfToFloat4(h: v128): v128 {
  return f32x4.mul(v128.and(i32x4.shl(h, 13), i32x4.splat(0x8fffe000)), f32x4.splat(5.192296858534828e33));
}

/** Whether any of the 16 f16 in h0, h1 has the all-ones exponent (inf or NaN). */
@inline export function anySpecialHalf(h0: v128, h1: v128): bool {
  const e = i16x8.splat(0x7c00);
  return v128.any_true(v128.or(i16x8.eq(v128.and(h0, e), e), i16x8.eq(v128.and(h1, e), e)));
}

@inline export function halfToFloat(h: u32): f32 {
  return f32x4.extract_lane(halfToFloat4(i32x4.splat(<i32><i16>h)), 0);
}

/**
 * The f16 at p, p + stride, p + 2·stride, p + 3·stride as an f32x4: gathered into the low four
 * i16 lanes by lane loads (one instruction each on x64, where a scalar load and a lane insert
 * are two), then sign-extended as halfToFloat4 wants them.
 */
@inline export function halves4(p: usize, stride: usize): v128 {
  let h = v128.load16_splat(p);
  h = v128.load16_lane(p + stride, h, 1);
  h = v128.load16_lane(p + 2 * stride, h, 2);
  h = v128.load16_lane(p + 3 * stride, h, 3);
  return halfToFloat4(i32x4.extend_low_i16x8_s(h));
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

/**
 * Σ q·x over 32 values as four partial i32 sums, with the relaxed-SIMD dot product: q0, q1 hold
 * 16 codes 0…15 each (valid "i7" operands, so the result is exact and the same on every
 * engine), x0, x1 the matching 16 input codes (i8). The i16 pair sums (at most 2·15·127) of the
 * two halves are added before widening. (i16x8.relaxed_dot rather than the i32x4 "_add" form:
 * V8 11.3's baseline compiler, Node 20's, computes the latter wrong in some register
 * assignments; test/backend-wasm-tiers.test.ts runs the kernels under each compiler.)
 */
@inline export function relaxedBlock(q0: v128, x0: v128, q1: v128, x1: v128): v128 {
  return i32x4.extadd_pairwise_i16x8_s(relaxedBlock16(q0, x0, q1, x1));
}

/** relaxedBlock before the widening: eight i16 lanes of four products each, |lane| ≤ 4·15·127 = 7620. */
@inline export function relaxedBlock16(q0: v128, x0: v128, q1: v128, x1: v128): v128 {
  return i16x8.add(i16x8.relaxed_dot_i8x16_i7x16_s(x0, q0), i16x8.relaxed_dot_i8x16_i7x16_s(x1, q1));
}

// fold2 and fold4 for the i16 sums of relaxedBlock16, with a single widening at the end: the
// 32-bit lanes of two blocks are interleaved and added as i16 pairs (|lane| ≤ 2·7620), then
// again for four blocks (≤ 4·7620 = 30480 < 2^15: exact), and one extadd gives [Σ v0, Σ v1, Σ v2,
// Σ v3], the integers sum4x4 gives from the widened blocks. One widening (a multiply on x64)
// per four blocks instead of four.
@inline export function fold2i16(v0: v128, v1: v128): v128 {
  return i16x8.add(v128.shuffle<i32>(v0, v1, 0, 4, 1, 5), v128.shuffle<i32>(v0, v1, 2, 6, 3, 7));
}
@inline export function fold4i16(t0: v128, t1: v128): v128 {
  return i32x4.extadd_pairwise_i16x8_s(i16x8.add(v128.shuffle<i32>(t0, t1, 0, 1, 4, 5), v128.shuffle<i32>(t0, t1, 2, 3, 6, 7)));
}

/** The low and high nibble of each byte. (A 16-bit shift and a byte mask: x64 has no 8-bit shift, so i8x16.shr_u costs more.) */
@inline export function lowNibbles(v: v128): v128 {
  return v128.and(v, i8x16.splat(0x0f));
}
@inline export function highNibbles(v: v128): v128 {
  return v128.and(i16x8.shr_u(v, 4), i8x16.splat(0x0f));
}

@inline export function fold2(v0: v128, v1: v128): v128 {
  return i32x4.add(v128.shuffle<i32>(v0, v1, 0, 4, 1, 5), v128.shuffle<i32>(v0, v1, 2, 6, 3, 7));
}
@inline export function fold4(t0: v128, t1: v128): v128 {
  return i32x4.add(v128.shuffle<i32>(t0, t1, 0, 1, 4, 5), v128.shuffle<i32>(t0, t1, 2, 3, 6, 7));
}

/** Σ of four i16x8 · i16x8 dot products: decoded codes e0…e3 with 32 i16 input codes at a. */
@inline export function dot32(e0: v128, e1: v128, e2: v128, e3: v128, a: usize): v128 {
  return i32x4.add(
    i32x4.add(i32x4.dot_i16x8_s(e0, v128.load(a)), i32x4.dot_i16x8_s(e1, v128.load(a, 16))),
    i32x4.add(i32x4.dot_i16x8_s(e2, v128.load(a, 32)), i32x4.dot_i16x8_s(e3, v128.load(a, 48))));
}
