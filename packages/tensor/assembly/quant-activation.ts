// Quantizes input rows for the quantized matrix products (reference: src/quant/activation.ts,
// which gives the same codes, scales and sums). One row of k values becomes, at `act`:
//
//   +0                 codes: k × i16 (the plain SIMD kernels) or k × i8 (the relaxed-SIMD ones)
//   +2k                scales: one f32 per block (32 values, or 256 for the q8_k partner of q4_k)
//   +2k + 4·nScales    sums: one i32 per 32 values, Σ codes
//
// The codes are laid out in the order the weight kernel consumes them (quant-dot.ts), so the
// inner loops load both operands with plain vector loads:
//   q8_0 weights: i16, natural order (the weight bytes are widened to i16 in the kernel)
//   q4_0 / q4_1, plain: i16 per block of 32 in "nibble order": the kernel reads the 16 weight
//     bytes as eight 16-bit lanes, lane i holding bytes 2i and 2i+1, and peels four nibbles off
//     each lane with shifts and masks, giving the elements 2i, 2i+16, 2i+1, 2i+17. The codes are
//     stored in those four groups of eight: [x0 x2 … x14 | x16 x18 … x30 | x1 x3 … x15 | x17 … x31].
//   q4_k, plain: the same per 32-byte chunk of 64 values (two 16-byte loads, see quant-dot.ts).
//   q4_0 / q4_1 / q4_k, relaxed: i8, natural order (the kernel splits low and high nibbles).
import { Q4_K, Q8_0 } from "./quant-types";

/** Bytes of one quantized input row of k values for weights of ggml type `type` (16-byte multiple). */
export function activationRowBytes(type: i32, k: i32): i32 {
  const scales = type == Q4_K ? k >> 8 : k >> 5;
  return (2 * k + 4 * scales + 4 * (k >> 5) + 15) & ~15;
}

// roundf as trunc(v + copysign(0.49999997, v)): adding the largest float below one half never
// carries a value under .5 up to the next integer, and carries every .5 and above (exact for
// |v| < 2^23; larger floats are integers already and stay put).
const BELOW_HALF = 0x3effffff;
const SIGN = 0x80000000;

@inline function roundAwayFromZero(v: v128): v128 {
  return f32x4.trunc(f32x4.add(v, v128.or(v128.and(v, i32x4.splat(SIGN)), i32x4.splat(BELOW_HALF))));
}

/** Largest |x| over `n` floats (n a multiple of 16); NaN if any is NaN. */
@inline export function absMax(x: usize, n: i32): f32 {
  let m0 = f32x4.splat(0), m1 = f32x4.splat(0), m2 = f32x4.splat(0), m3 = f32x4.splat(0);
  for (let j = 0; j < n; j += 16) {
    const p = x + (<usize>j << 2);
    m0 = f32x4.max(m0, f32x4.abs(v128.load(p)));
    m1 = f32x4.max(m1, f32x4.abs(v128.load(p, 16)));
    m2 = f32x4.max(m2, f32x4.abs(v128.load(p, 32)));
    m3 = f32x4.max(m3, f32x4.abs(v128.load(p, 48)));
  }
  const m = f32x4.max(f32x4.max(m0, m1), f32x4.max(m2, m3));
  return max(max(f32x4.extract_lane(m, 0), f32x4.extract_lane(m, 1)), max(f32x4.extract_lane(m, 2), f32x4.extract_lane(m, 3)));
}

/**
 * 16 floats at x times `scale`, rounded (away from zero, or to even with `nearestEven`) and
 * saturated to [−127, 127], as 16 i8 lanes.
 */
@inline export function codes16(x: usize, scale: v128, nearestEven: bool): v128 {
  let c0 = f32x4.mul(v128.load(x), scale), c1 = f32x4.mul(v128.load(x, 16), scale);
  let c2 = f32x4.mul(v128.load(x, 32), scale), c3 = f32x4.mul(v128.load(x, 48), scale);
  if (nearestEven) {
    c0 = f32x4.nearest(c0); c1 = f32x4.nearest(c1); c2 = f32x4.nearest(c2); c3 = f32x4.nearest(c3);
  } else {
    c0 = roundAwayFromZero(c0); c1 = roundAwayFromZero(c1); c2 = roundAwayFromZero(c2); c3 = roundAwayFromZero(c3);
  }
  // NaN truncates to 0; the narrowing saturates; −128 (from −inf) is lifted to −127
  const lo = i16x8.narrow_i32x4_s(i32x4.trunc_sat_f32x4_s(c0), i32x4.trunc_sat_f32x4_s(c1));
  const hi = i16x8.narrow_i32x4_s(i32x4.trunc_sat_f32x4_s(c2), i32x4.trunc_sat_f32x4_s(c3));
  return i8x16.max_s(i8x16.narrow_i16x8_s(lo, hi), i8x16.splat(-127));
}

/**
 * One row: codes into `tmp` (k × i8, natural order), scales and sums into the row's areas. The
 * q8_0 rule (scale per 32, d = max|x| / 127, roundf(x · (1/d))) for every weight type but q4_k;
 * the q8_k rule (scale per 256, iscale = 127 / max|x|, round to even, d = 1 / iscale) for q4_k.
 */
function quantizeCodes(type: i32, x: usize, k: i32, tmp: usize, scales: usize, sums: usize): void {
  const group = type == Q4_K ? 256 : 32;
  for (let b = 0; b < k / group; b++) {
    const xb = x + (<usize>(b * group) << 2);
    const amax = absMax(xb, group);
    let scale: f32, d: f32;
    if (type == Q4_K) {
      scale = amax != 0 ? <f32>127 / amax : 0;
      d = amax != 0 ? <f32>1 / scale : 0;
    } else {
      d = amax / 127;
      scale = d != 0 ? <f32>1 / d : 0;
    }
    store<f32>(scales + (<usize>b << 2), d);
    const sv = f32x4.splat(scale);
    for (let j = 0; j < group; j += 16) v128.store(tmp + <usize>(b * group + j), codes16(xb + (<usize>j << 2), sv, type == Q4_K));
  }
  for (let g = 0; g < k >> 5; g++) {
    // Σ of 32 codes: pairwise widening to i16, then to i32
    const c = tmp + (<usize>g << 5);
    const s16 = i16x8.add(i16x8.extadd_pairwise_i8x16_s(v128.load(c)), i16x8.extadd_pairwise_i8x16_s(v128.load(c, 16)));
    const s32 = i32x4.extadd_pairwise_i16x8_s(s16);
    store<i32>(sums + (<usize>g << 2), i32x4.extract_lane(s32, 0) + i32x4.extract_lane(s32, 1) + i32x4.extract_lane(s32, 2) + i32x4.extract_lane(s32, 3));
  }
}

// Where element e of a block of 32 (q4_0/q4_1) or a chunk of 64 (q4_k) goes in nibble order.
@inline function nibbleSlot32(e: i32): i32 {
  const high = e >> 4, j = e & 15; // element j (low nibble) or j + 16 (high nibble) of byte j
  return ((j & 1) << 4) | (high << 3) | (j >> 1);
}
@inline function nibbleSlot64(e: i32): i32 {
  // byte l (0…31) of the chunk holds elements l (low nibble) and l + 32 (high nibble); l < 16
  // comes from the first 16-byte load, l ≥ 16 from the second. Sub-block order: the low
  // nibbles' groups [first n0, first n2, second n0, second n2], then the high nibbles' likewise.
  const high = e >> 5, l = e & 31;
  const load = l >> 4, byte = l & 15;
  return (high << 5) | (load << 4) | ((byte & 1) << 3) | (byte >> 1);
}

/**
 * Quantizes `rows` rows of k floats (x, row stride k) for weights of ggml type `type`, into rows
 * of activationRowBytes(type, k) at `act`. `tmp` is k bytes of scratch.
 */
export function quantizeActivations(type: i32, x: usize, rows: i32, k: i32, act: usize, tmp: usize): void {
  const stride = <usize>activationRowBytes(type, k);
  const nScales = type == Q4_K ? k >> 8 : k >> 5;
  for (let r = 0; r < rows; r++) {
    const row = act + <usize>r * stride;
    const scales = row + (<usize>k << 1);
    quantizeCodes(type, x + <usize>r * k * 4, k, tmp, scales, scales + (<usize>nScales << 2));
    if (ASC_FEATURE_RELAXED_SIMD && type != Q8_0) {
      memory.copy(row, tmp, <usize>k); // i8, natural order
    } else if (type == Q8_0) {
      for (let e = 0; e < k; e++) store<i16>(row + (<usize>e << 1), load<i8>(tmp + e));
    } else if (type == Q4_K) {
      for (let e = 0; e < k; e++) store<i16>(row + (<usize>(((e >> 6) << 6) + nibbleSlot64(e & 63)) << 1), load<i8>(tmp + e));
    } else {
      for (let e = 0; e < k; e++) store<i16>(row + (<usize>(((e >> 5) << 5) + nibbleSlot32(e & 31)) << 1), load<i8>(tmp + e));
    }
  }
}

