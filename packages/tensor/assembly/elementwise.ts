// Elementwise kernels over `len` floats. out may be the same array as an input: every lane is
// read before it is written.
import { EXP_LO, expHigh4, expRound4, madd, negAbs4, pow2i4 } from "./simd";

export function add(out: usize, a: usize, b: usize, len: i32): void {
  const l4 = len & ~3;
  let i = 0;
  for (; i < l4; i += 4) {
    const off = <usize>i << 2;
    v128.store(out + off, f32x4.add(v128.load(a + off), v128.load(b + off)));
  }
  for (; i < len; i++) {
    const off = <usize>i << 2;
    store<f32>(out + off, load<f32>(a + off) + load<f32>(b + off));
  }
}

export function mul(out: usize, a: usize, b: usize, len: i32): void {
  const l4 = len & ~3;
  let i = 0;
  for (; i < l4; i += 4) {
    const off = <usize>i << 2;
    v128.store(out + off, f32x4.mul(v128.load(a + off), v128.load(b + off)));
  }
  for (; i < len; i++) {
    const off = <usize>i << 2;
    store<f32>(out + off, load<f32>(a + off) * load<f32>(b + off));
  }
}

// The sigmoid family, σ(z) = 1/(1 + e^−z), evaluated so that each lane comes out as the js
// reference's f64 arithmetic does once rounded to f32, ±inf, NaN and |z| > 88 included:
//   z ≥ 0:  x·σ(z) = x / (1 + e)        with e = e^−z
//   z < 0:  x·σ(z) = x·e / (1 + e)      with e = e^z
// e = e^−|z| ≤ 1 never overflows (e^−z would for z < −88.7, where f64 does not). For z < −87.3
// e is subnormal, so x·e is formed from normal factors of e (simd.ts: q with the polynomial,
// then powers of two) and rounded once, at the end. Where −|z| is below the clamp, q is forced
// to 0: x·e is then x·0, which is NaN for x = ±inf as in the reference (−inf/(1 + e^inf)).

/** x·σ(z), lanewise (e = q·s: two factors reach down to 2^−159, as exp4). */
@inline function mulSigmoid4(x: v128, z: v128): v128 {
  const a = negAbs4(z);
  const ac = f32x4.pmax(a, f32x4.splat(EXP_LO));
  const n = expRound4(ac);
  const ni = i32x4.trunc_sat_f32x4_s(n);
  const q = v128.andnot(expHigh4(ac, n, 1), f32x4.lt(a, f32x4.splat(EXP_LO)));
  const s = pow2i4(i32x4.sub(ni, i32x4.shr_s(ni, 1)));
  const num = v128.bitselect(f32x4.mul(f32x4.mul(x, q), s), x, f32x4.lt(z, f32x4.splat(0)));
  return f32x4.div(num, f32x4.add(f32x4.splat(1), f32x4.mul(q, s)));
}

// With a third factor y up to FLT_MAX ≈ 2^128 the product x·y·e^x stays representable down to
// x ≈ −198, so swiglu's exp reaches further: q·s1·s2, n split into a quarter and two three-eighths.
const SWIGLU_EXP_LO: f32 = -200;

/**
 * x·σ(x)·y, lanewise. y is divided by (1 + e) before it meets x, and the small factors of e come
 * last, so a subnormal σ(x) is never rounded before the product (|x·q| ≤ 2.1: no spurious
 * overflow below |y| ≈ 1.6e38).
 */
@inline function mulSigmoidBy4(x: v128, y: v128): v128 {
  const a = negAbs4(x);
  const ac = f32x4.pmax(a, f32x4.splat(SWIGLU_EXP_LO));
  const n = expRound4(ac);
  const m = i32x4.sub(i32x4.trunc_sat_f32x4_s(n), i32x4.shr_s(i32x4.trunc_sat_f32x4_s(n), 2));
  const q = v128.andnot(expHigh4(ac, n, 2), f32x4.lt(a, f32x4.splat(SWIGLU_EXP_LO)));
  const s1 = pow2i4(i32x4.shr_s(m, 1)), s2 = pow2i4(i32x4.sub(m, i32x4.shr_s(m, 1)));
  const w = f32x4.div(y, f32x4.add(f32x4.splat(1), f32x4.mul(f32x4.mul(q, s1), s2)));
  const tail = f32x4.mul(f32x4.mul(f32x4.mul(f32x4.mul(x, q), w), s1), s2);
  return v128.bitselect(tail, f32x4.mul(x, w), f32x4.lt(x, f32x4.splat(0)));
}

// silu(x) = x · σ(x)
@inline function silu4(x: v128): v128 {
  return mulSigmoid4(x, x);
}

// gelu(x) = 0.5·x·(1 + tanh(u)), u = √(2/π)(x + 0.044715x³), computed as x·σ(2u): the same value
// (1 + tanh u = 2σ(2u)) without the cancellation of 1 + tanh u near −1 for negative x
@inline function gelu4(x: v128): v128 {
  const x3 = f32x4.mul(f32x4.mul(x, x), x);
  const z = f32x4.mul(f32x4.splat(1.5957691216057308), madd(x, f32x4.splat(0.044715), x3));
  return mulSigmoid4(x, z);
}

// Unary and binary maps share one shape: whole vectors, then the tail one lane at a time
// through the same vector formula (so the tail is exactly as accurate as the body).
export function silu(out: usize, x: usize, len: i32): void {
  let i = 0;
  for (; i + 4 <= len; i += 4) v128.store(out + (<usize>i << 2), silu4(v128.load(x + (<usize>i << 2))));
  for (; i < len; i++) {
    const off = <usize>i << 2;
    store<f32>(out + off, f32x4.extract_lane(silu4(f32x4.splat(load<f32>(x + off))), 0));
  }
}

export function gelu(out: usize, x: usize, len: i32): void {
  let i = 0;
  for (; i + 4 <= len; i += 4) v128.store(out + (<usize>i << 2), gelu4(v128.load(x + (<usize>i << 2))));
  for (; i < len; i++) {
    const off = <usize>i << 2;
    store<f32>(out + off, f32x4.extract_lane(gelu4(f32x4.splat(load<f32>(x + off))), 0));
  }
}

/**
 * out = silu(gate) · up, with up folded into the sigmoid (see mulSigmoidBy4). Four vectors a
 * round: each vector's result is the end of one long chain of dependent operations (the exp's
 * polynomial, then a division), and four independent chains side by side keep the core busy
 * where one leaves it waiting on latency: ~1.5× on the embedded FFN's 384 (bench/decode-pieces.mjs;
 * eight a round spill registers and gain less). Lanewise, so the bits are the one-vector loop's.
 */
export function swiglu(out: usize, gate: usize, up: usize, len: i32): void {
  let i = 0;
  for (; i + 16 <= len; i += 16) {
    const off = <usize>i << 2;
    const r0 = mulSigmoidBy4(v128.load(gate + off), v128.load(up + off));
    const r1 = mulSigmoidBy4(v128.load(gate + off, 16), v128.load(up + off, 16));
    const r2 = mulSigmoidBy4(v128.load(gate + off, 32), v128.load(up + off, 32));
    const r3 = mulSigmoidBy4(v128.load(gate + off, 48), v128.load(up + off, 48));
    v128.store(out + off, r0);
    v128.store(out + off, r1, 16);
    v128.store(out + off, r2, 32);
    v128.store(out + off, r3, 48);
  }
  for (; i + 4 <= len; i += 4) {
    const off = <usize>i << 2;
    v128.store(out + off, mulSigmoidBy4(v128.load(gate + off), v128.load(up + off)));
  }
  for (; i < len; i++) {
    const off = <usize>i << 2;
    store<f32>(out + off, f32x4.extract_lane(mulSigmoidBy4(f32x4.splat(load<f32>(gate + off)), f32x4.splat(load<f32>(up + off))), 0));
  }
}
