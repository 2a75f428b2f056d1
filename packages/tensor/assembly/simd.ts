// Shared SIMD helpers for the kernels. Pointers are byte addresses into linear memory;
// f32x4 loads and stores may be unaligned (WebAssembly allows it; x86 pays nothing).

/** c + a·b on four lanes. Plain SIMD128 has no fused multiply-add, so this rounds twice. */
@inline export function madd(c: v128, a: v128, b: v128): v128 {
  return f32x4.add(c, f32x4.mul(a, b));
}

/**
 * c + a·b for the sums of the f32 linear kernels (gemvRows, linearRows). In the relaxed-SIMD
 * build it is f32x4.relaxed_madd, which V8 emits as one fused vfmadd where the CPU has FMA (both
 * of its compilers, Liftoff and TurboFan: the same bits), else as madd. A fused multiply-add is
 * one instruction instead of two and rounds once: the batched tile runs ~1.3× faster on this
 * EPYC (Zen 3 issues two FMAs or two mul + two add per cycle, so the gain is fewer instructions,
 * not more arithmetic). Which of the two it is stays fixed for a module on a machine, and every
 * path to a linear output sums through this helper in the same order, so batch invariance holds
 * in either build; the plain and relaxed builds differ from each other in the last bits.
 */
@inline export function fmadd(c: v128, a: v128, b: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return madd(c, a, b);
}

/**
 * A 4×4 block transposed in registers: four f32x4 rows read at s, s + lds, s + 2·lds, s + 3·lds
 * are stored as four columns-become-rows at d, d + ldd, … (strides in bytes). The packing of
 * the matmul operands and the transpose kernel all go through it.
 */
@inline export function transpose4x4(s: usize, lds: usize, d: usize, ldd: usize): void {
  const r0 = v128.load(s), r1 = v128.load(s + lds), r2 = v128.load(s + 2 * lds), r3 = v128.load(s + 3 * lds);
  const t0 = v128.shuffle<f32>(r0, r1, 0, 4, 1, 5), t1 = v128.shuffle<f32>(r0, r1, 2, 6, 3, 7);
  const t2 = v128.shuffle<f32>(r2, r3, 0, 4, 1, 5), t3 = v128.shuffle<f32>(r2, r3, 2, 6, 3, 7);
  v128.store(d, v128.shuffle<f32>(t0, t2, 0, 1, 4, 5));
  v128.store(d + ldd, v128.shuffle<f32>(t0, t2, 2, 3, 6, 7));
  v128.store(d + 2 * ldd, v128.shuffle<f32>(t1, t3, 0, 1, 4, 5));
  v128.store(d + 3 * ldd, v128.shuffle<f32>(t1, t3, 2, 3, 6, 7));
}

/**
 * −|x| lanewise, as the sign bit set: the bits of f32x4.neg(f32x4.abs(x)) (both are bit
 * operations, NaNs included) in one instruction, where V8 builds a mask for each of the two.
 */
@inline export function negAbs4(x: v128): v128 {
  return v128.or(x, f32x4.splat(-0.0));
}

/**
 * Copies `bytes` bytes from src to dst (regions apart): 16 at a time through v128, the rest by
 * memory.copy. For the short rows of a decode step (a 256-byte key or value row): V8 compiles
 * memory.copy to a call into the C runtime's memmove, whose entry and exit cost more than the copy.
 */
@inline export function copyRow(dst: usize, src: usize, bytes: usize): void {
  let i: usize = 0;
  for (; i + 16 <= bytes; i += 16) v128.store(dst + i, v128.load(src + i));
  if (i < bytes) memory.copy(dst + i, src + i, bytes - i);
}

/** Sum of the four lanes. */
@inline export function hsum(v: v128): f32 {
  // (l0 + l2) + (l1 + l3): fold the high half onto the low half, then the two survivors.
  const pairs = f32x4.add(v, v128.shuffle<f32>(v, v, 2, 3, 0, 1));
  return f32x4.extract_lane(pairs, 0) + f32x4.extract_lane(pairs, 1);
}

/** Largest of the four lanes. */
@inline export function hmax(v: v128): f32 {
  const pairs = f32x4.pmax(v, v128.shuffle<f32>(v, v, 2, 3, 0, 1));
  return max(f32x4.extract_lane(pairs, 0), f32x4.extract_lane(pairs, 1));
}

// exp(x) by range reduction: x = n·ln2 + r with n = round(x·log2 e) and |r| ≤ ln2/2, so
// exp(x) = 2^n · exp(r). ln2 is split in two (C1 exact in few bits, C2 the rest) so n·C1 is
// exact and r keeps its low bits. exp(r) is the degree-7 Taylor-like minimax polynomial of
// Cephes expf (relative error about 1e-7 on the reduced range).
//
// 2^n is applied as two factors, 2^(n>>1) added into p's exponent bits and 2^(n − n>>1) as a
// float, both normal for every n the clamp allows. So the result follows IEEE rules as the js
// reference's Math.exp does once rounded to f32: above ln(FLT_MAX) ≈ 88.72 it overflows to +inf,
// between −87.3 and −103.9 it is a subnormal rounded once (in the last multiply), below that 0;
// NaN stays NaN. (A single 2^n built in the exponent field is only valid for n ≥ −126.)
// The clamp keeps n within ±160 without changing any result: exp(90) is already +inf and
// exp(−110)·110 is already below half the smallest subnormal (what silu and gelu need).
export const EXP_HI: f32 = 90;
export const EXP_LO: f32 = -110;
const LOG2E: f32 = 1.44269504088896341;
const LN2_HI: f32 = 0.693359375;
const LN2_LO: f32 = -2.12194440e-4;
const P0: f32 = 1.9875691500e-4;
const P1: f32 = 1.3981999507e-3;
const P2: f32 = 8.3334519073e-3;
const P3: f32 = 4.1665795894e-2;
const P4: f32 = 1.6666665459e-1;
const P5: f32 = 5.0000001201e-1;

/** n = round(x·log2 e) as floats, for x already clamped to [EXP_LO, EXP_HI]. */
@inline export function expRound4(x: v128): v128 {
  return f32x4.floor(madd(f32x4.splat(0.5), x, f32x4.splat(LOG2E)));
}

/** q = exp(r)·2^(n >> shift) with r = x − n·ln2: the factor of exp(x) that carries the polynomial. */
@inline export function expHigh4(x: v128, n: v128, shift: i32): v128 {
  let r = f32x4.sub(x, f32x4.mul(n, f32x4.splat(LN2_HI)));
  r = f32x4.sub(r, f32x4.mul(n, f32x4.splat(LN2_LO)));
  const r2 = f32x4.mul(r, r);
  let p = madd(f32x4.splat(P1), f32x4.splat(P0), r);
  p = madd(f32x4.splat(P2), p, r);
  p = madd(f32x4.splat(P3), p, r);
  p = madd(f32x4.splat(P4), p, r);
  p = madd(f32x4.splat(P5), p, r);
  p = f32x4.add(madd(r, p, r2), f32x4.splat(1));
  // p is in [0.7, 1.42]: adding n >> shift (≥ −80 for the callers' clamps) to its exponent field keeps it normal
  return i32x4.add(p, i32x4.shl(i32x4.shr_s(i32x4.trunc_sat_f32x4_s(n), shift), 23));
}

/** 2^k for integer lanes k in [−126, 127], built in the exponent field. */
@inline export function pow2i4(k: v128): v128 {
  return i32x4.shl(i32x4.add(k, i32x4.splat(127)), 23);
}

/** exp on four lanes, relative error ≈ 1e-7, with IEEE overflow, subnormals, ±inf and NaN. */
@inline export function exp4(x: v128): v128 {
  x = f32x4.pmin(f32x4.pmax(x, f32x4.splat(EXP_LO)), f32x4.splat(EXP_HI));
  const n = expRound4(x);
  const ni = i32x4.trunc_sat_f32x4_s(n);
  return f32x4.mul(expHigh4(x, n, 1), pow2i4(i32x4.sub(ni, i32x4.shr_s(ni, 1))));
}

/** exp of one float through the same polynomial, so tails match the vector body. */
@inline export function exp1(x: f32): f32 {
  return f32x4.extract_lane(exp4(f32x4.splat(x)), 0);
}
