// Packs KV-cache rows as they are appended (reference: src/quant/kv-pack.ts, the same bytes):
// ggml's reference quantizers, one 32-value block at a time, each step in float32 as C computes
// it; the last block of a row that does not fill it is zero-padded.
//
//   f32    the floats' bytes                     f16    | v: f16 | …, round to nearest even
//   q8_0   | d: f16 | 32 × i8 |                  q4_0   | d: f16 | 16 × u8 |
//   q4_1   | d: f16 | m: f16 | 16 × u8 |         (nibble bytes: j = q[j] | q[j + 16] << 4)
//
// Two paths per block type, for what V8 pays to compile them (a 15M model's peak RSS is mostly
// such fixed costs): a whole block of finite values whose scale and its inverse are finite and
// non-zero — every block of a real cache — is packed by straight-line SIMD code in the row
// function, which a decode step calls often enough for V8 to recompile it with TurboFan, cheaply
// because it has a single loop. Anything else (a row's zero-padded tail, a NaN or an infinity, an
// all-zero block, a q4_1 block whose minimum or maximum is ±0, where the scalar rule's "first one
// wins" decides the sign) goes to the scalar rule, a function of its own with loops, that stays
// in V8's baseline tier unless a cache is full of such blocks. The scalar rule alone, four
// 32-step loops in one hot function, took TurboFan 1.0 MB of compiler memory (Node 20,
// --trace-wasm-compilation-times), most of which the process keeps.
import { F16, Q4_0, Q4_1, Q8_0 } from "./quant-types";
import { codes16 } from "./quant-activation";

const F32: i32 = 0;

/** f32 → f16 bits, round to nearest even; NaN keeps its sign and top payload bits, quiet bit set. */
function halfBits(x: f32): i32 {
  const bits = reinterpret<i32>(x);
  const sign = (bits >>> 16) & 0x8000;
  const exponent = (bits >>> 23) & 0xff;
  const mantissa = bits & 0x7fffff;
  if (exponent == 0xff) return mantissa == 0 ? sign | 0x7c00 : sign | 0x7e00 | (mantissa >>> 13);
  const halfExponent = exponent - 127 + 15;
  if (halfExponent >= 0x1f) return sign | 0x7c00;
  if (halfExponent <= 0) {
    if (halfExponent < -10) return sign;
    const significand = mantissa | 0x800000;
    const shift = 14 - halfExponent;
    let m = significand >>> shift;
    const remainder = significand & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (remainder > halfway || (remainder == halfway && (m & 1) == 1)) m += 1;
    return sign | m;
  }
  let half = sign | (halfExponent << 10) | (mantissa >>> 13);
  const remainder = mantissa & 0x1fff;
  if (remainder > 0x1000 || (remainder == 0x1000 && (half & 1) == 1)) half += 1;
  return half;
}

@inline function storeHalf(p: usize, x: f32): void {
  store<u16>(p, <u16>halfBits(x));
}

/** C roundf: halves away from zero (exact in f64 for any f32). */
@inline function roundf(x: f32): f64 {
  const v = <f64>x;
  return v < 0 ? -floor(-v + 0.5) : floor(v + 0.5);
}

/** (int8_t)x as gcc compiles it for x86-64: cvttss2si (0x80000000 for NaN, ±inf, out of range), low byte. */
@inline function toInt8(x: f64): i32 {
  const t = abs(x) < 2147483648.0 ? <i32>x : i32.MIN_VALUE; // abs(NaN) < … is false
  return (t << 24) >> 24;
}

/** Value j of the block at x holding n valid floats (0 past n: the zero padding of a row's tail). */
@inline function at(x: usize, j: i32, n: i32): f32 {
  return j < n ? load<f32>(x + (<usize>j << 2)) : 0;
}

/** The scalar rule for a q8_0 block of n ≤ 32 values (zero past n). */
function blockQ8_0(x: usize, n: i32, y: usize): void {
  let amax: f32 = 0;
  for (let j = 0; j < 32; j++) {
    const v = abs(at(x, j, n));
    amax = amax > v ? amax : v; // C's MAX: a NaN resets it, the next value replaces it
  }
  const d = amax / <f32>127;
  const id: f32 = d != 0 ? <f32>1 / d : 0; // NaN counts as true in C
  storeHalf(y, d);
  for (let j = 0; j < 32; j++) store<i8>(y + 2 + j, <i8>toInt8(roundf(at(x, j, n) * id)));
}

/** The scalar rule for a q4_0 block of n ≤ 32 values (zero past n). */
function blockQ4_0(x: usize, n: i32, y: usize): void {
  let amax: f32 = 0, max: f32 = 0;
  for (let j = 0; j < 32; j++) {
    const v = at(x, j, n);
    if (amax < abs(v)) {
      amax = abs(v);
      max = v;
    }
  }
  const d = max / <f32>-8;
  const id: f32 = d != 0 ? <f32>1 / d : 0;
  storeHalf(y, d);
  for (let j = 0; j < 16; j++) {
    const q0 = min(15, toInt8(<f64>(at(x, j, n) * id + <f32>8.5))) & 0xff;
    const q1 = min(15, toInt8(<f64>(at(x, j + 16, n) * id + <f32>8.5))) & 0xff;
    store<u8>(y + 2 + j, <u8>(q0 | (q1 << 4)));
  }
}

/** The scalar rule for a q4_1 block of n ≤ 32 values (zero past n). */
function blockQ4_1(x: usize, n: i32, y: usize): void {
  let lo = f32.MAX_VALUE, hi = -f32.MAX_VALUE;
  for (let j = 0; j < 32; j++) {
    const v = at(x, j, n);
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const d = (hi - lo) / <f32>15;
  const id: f32 = d != 0 ? <f32>1 / d : 0;
  storeHalf(y, d);
  storeHalf(y + 2, lo);
  for (let j = 0; j < 16; j++) {
    const q0 = min(15, toInt8(<f64>((at(x, j, n) - lo) * id + <f32>0.5))) & 0xff;
    const q1 = min(15, toInt8(<f64>((at(x, j + 16, n) - lo) * id + <f32>0.5))) & 0xff;
    store<u8>(y + 4 + j, <u8>(q0 | (q1 << 4)));
  }
}

// ---- the SIMD path: the same float32 steps on four lanes at once (no fused multiply-add in wasm)

const INF: f32 = Infinity;

/** True for a finite, non-zero float (false for NaN). */
@inline function usable(v: f32): bool {
  return abs(v) < INF && v != 0;
}

@inline function lanesMax(m: v128): f32 {
  return max(max(f32x4.extract_lane(m, 0), f32x4.extract_lane(m, 1)), max(f32x4.extract_lane(m, 2), f32x4.extract_lane(m, 3)));
}

// Straight-line code rather than 8-step loops: TurboFan unrolls small inner loops, and the
// unrolled copies are what its compile of this function spent most of its memory on.

@inline function abs4(x: usize, at: usize): v128 {
  return f32x4.abs(v128.load(x + at));
}

/** max |x| over the 32 floats at x; NaN when one is NaN (f32x4.max propagates it). */
@inline function absMax32(x: usize): f32 {
  const m0 = f32x4.max(abs4(x, 0), abs4(x, 16)), m1 = f32x4.max(abs4(x, 32), abs4(x, 48));
  const m2 = f32x4.max(abs4(x, 64), abs4(x, 80)), m3 = f32x4.max(abs4(x, 96), abs4(x, 112));
  return lanesMax(f32x4.max(f32x4.max(m0, m1), f32x4.max(m2, m3)));
}

/** Bits 4i…4i+3 set where |x[4i + lane]| == target (one vector's share of absEqualMask). */
@inline function equalBits(x: usize, i: usize, target: v128): u32 {
  return <u32>i32x4.bitmask(f32x4.eq(abs4(x, i << 4), target)) << <u32>(i << 2);
}

/** Bit j set when |x[j]| == a, for the 32 floats at x. */
@inline function absEqualMask(x: usize, a: f32): u32 {
  const t = f32x4.splat(a);
  return equalBits(x, 0, t) | equalBits(x, 1, t) | equalBits(x, 2, t) | equalBits(x, 3, t)
    | equalBits(x, 4, t) | equalBits(x, 5, t) | equalBits(x, 6, t) | equalBits(x, 7, t);
}

/** min(15, trunc(x · id + add)) for 16 floats at x, as 16 bytes (the values are 0…16 here: no wrap). */
@inline function nibbles16(x: usize, shift: v128, id: v128, add: v128): v128 {
  const fifteen = i32x4.splat(15);
  const q0 = i32x4.min_s(i32x4.trunc_sat_f32x4_s(f32x4.add(f32x4.mul(f32x4.sub(v128.load(x), shift), id), add)), fifteen);
  const q1 = i32x4.min_s(i32x4.trunc_sat_f32x4_s(f32x4.add(f32x4.mul(f32x4.sub(v128.load(x, 16), shift), id), add)), fifteen);
  const q2 = i32x4.min_s(i32x4.trunc_sat_f32x4_s(f32x4.add(f32x4.mul(f32x4.sub(v128.load(x, 32), shift), id), add)), fifteen);
  const q3 = i32x4.min_s(i32x4.trunc_sat_f32x4_s(f32x4.add(f32x4.mul(f32x4.sub(v128.load(x, 48), shift), id), add)), fifteen);
  return i8x16.narrow_i16x8_u(i16x8.narrow_i32x4_s(q0, q1), i16x8.narrow_i32x4_s(q2, q3));
}

/** q[j] | q[j + 16] << 4 for the 32 codes of the block at x (codes < 16: the shift stays in its byte). */
@inline function storeNibbles(y: usize, x: usize, shift: v128, id: v128, add: v128): void {
  v128.store(y, v128.or(nibbles16(x, shift, id, add), i16x8.shl(nibbles16(x + 64, shift, id, add), 4)));
}

/** A whole q8_0 block by SIMD when its scale allows (see the top); false leaves it to the scalar rule. */
@inline function fastQ8_0(x: usize, y: usize): bool {
  const amax = absMax32(x);
  const d = amax / <f32>127;
  if (!usable(amax) || !usable(d) || !usable(<f32>1 / d)) return false;
  const id = f32x4.splat(<f32>1 / d);
  storeHalf(y, d);
  // roundf(x · id) for |x · id| ≤ 127 (amax · id rounds to 127 at most): codes16's rounding
  v128.store(y + 2, codes16(x, id, false));
  v128.store(y + 18, codes16(x + 64, id, false));
  return true;
}

@inline function fastQ4_0(x: usize, y: usize): bool {
  const amax = absMax32(x);
  if (!usable(amax)) return false;
  // the first value of the largest magnitude, as the scalar rule's strict `<` keeps it
  const extreme = load<f32>(x + (<usize>ctz(absEqualMask(x, amax)) << 2));
  const d = extreme / <f32>-8;
  if (!usable(d) || !usable(<f32>1 / d)) return false;
  storeHalf(y, d);
  storeNibbles(y + 2, x, f32x4.splat(0), f32x4.splat(<f32>1 / d), f32x4.splat(8.5));
  return true;
}

@inline function fastQ4_1(x: usize, y: usize): bool {
  // pmin / pmax are the scalar rule's `v < min ? v : min` per lane (a NaN is never taken); lanes
  // may disagree with the scalar order only between −0 and +0, which usable() sends to it
  // in the scalar rule's order within each lane: values i, i + 4, i + 8, …
  let lo = f32x4.splat(f32.MAX_VALUE), hi = f32x4.splat(-f32.MAX_VALUE);
  let v = v128.load(x); lo = f32x4.pmin(lo, v); hi = f32x4.pmax(hi, v);
  v = v128.load(x, 16); lo = f32x4.pmin(lo, v); hi = f32x4.pmax(hi, v);
  v = v128.load(x, 32); lo = f32x4.pmin(lo, v); hi = f32x4.pmax(hi, v);
  v = v128.load(x, 48); lo = f32x4.pmin(lo, v); hi = f32x4.pmax(hi, v);
  v = v128.load(x, 64); lo = f32x4.pmin(lo, v); hi = f32x4.pmax(hi, v);
  v = v128.load(x, 80); lo = f32x4.pmin(lo, v); hi = f32x4.pmax(hi, v);
  v = v128.load(x, 96); lo = f32x4.pmin(lo, v); hi = f32x4.pmax(hi, v);
  v = v128.load(x, 112); lo = f32x4.pmin(lo, v); hi = f32x4.pmax(hi, v);
  const lowest = min(min(f32x4.extract_lane(lo, 0), f32x4.extract_lane(lo, 1)), min(f32x4.extract_lane(lo, 2), f32x4.extract_lane(lo, 3)));
  const highest = lanesMax(hi);
  const d = (highest - lowest) / <f32>15;
  if (!usable(lowest) || !usable(highest) || !usable(d) || !usable(<f32>1 / d)) return false;
  storeHalf(y, d);
  storeHalf(y + 2, lowest);
  storeNibbles(y + 4, x, f32x4.splat(lowest), f32x4.splat(<f32>1 / d), f32x4.splat(0.5));
  return true;
}

// One function per type, so that a cache compiles only its own.
function rowQ8_0(x: usize, rowLen: i32, y: usize): void {
  for (let b = 0; b * 32 < rowLen; b++) {
    const xb = x + (<usize>(b * 32) << 2), yb = y + <usize>b * 34, n = min(32, rowLen - b * 32);
    if (n < 32 || !fastQ8_0(xb, yb)) blockQ8_0(xb, n, yb);
  }
}

function rowQ4_0(x: usize, rowLen: i32, y: usize): void {
  for (let b = 0; b * 32 < rowLen; b++) {
    const xb = x + (<usize>(b * 32) << 2), yb = y + <usize>b * 18, n = min(32, rowLen - b * 32);
    if (n < 32 || !fastQ4_0(xb, yb)) blockQ4_0(xb, n, yb);
  }
}

function rowQ4_1(x: usize, rowLen: i32, y: usize): void {
  for (let b = 0; b * 32 < rowLen; b++) {
    const xb = x + (<usize>(b * 32) << 2), yb = y + <usize>b * 20, n = min(32, rowLen - b * 32);
    if (n < 32 || !fastQ4_1(xb, yb)) blockQ4_1(xb, n, yb);
  }
}

function rowF16(x: usize, rowLen: i32, y: usize): void {
  for (let i = 0; i < rowLen; i++) storeHalf(y + (<usize>i << 1), load<f32>(x + (<usize>i << 2)));
}

/**
 * `rows` rows of rowLen floats at src into KV rows of `type` (ggml id: 0 f32, 1 f16, 8 q8_0,
 * 2 q4_0, 3 q4_1), rowBytes apart from dst.
 */
export function packKvRows(type: i32, src: usize, rows: i32, rowLen: i32, dst: usize, rowBytes: i32): void {
  for (let r = 0; r < rows; r++) {
    const x = src + (<usize>(r * rowLen) << 2), y = dst + <usize>(r * rowBytes);
    if (type == F32) memory.copy(y, x, <usize>rowLen << 2);
    else if (type == F16) rowF16(x, rowLen, y);
    else if (type == Q8_0) rowQ8_0(x, rowLen, y);
    else if (type == Q4_0) rowQ4_0(x, rowLen, y);
    else if (type == Q4_1) rowQ4_1(x, rowLen, y);
  }
}
