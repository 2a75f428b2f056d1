// Elementwise kernels over `len` floats. out may be the same array as an input: every lane is
// read before it is written.
import { exp4, madd } from "./simd";

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

// silu(x) = x · sigmoid(x) = x / (1 + e^−x)
@inline function silu4(x: v128): v128 {
  return f32x4.div(x, f32x4.add(f32x4.splat(1), exp4(f32x4.neg(x))));
}

// gelu(x) = 0.5·x·(1 + tanh(u)), u = √(2/π)(x + 0.044715x³), with tanh(u) = 1 − 2/(e^{2u} + 1)
@inline function gelu4(x: v128): v128 {
  const x3 = f32x4.mul(f32x4.mul(x, x), x);
  const u = f32x4.mul(f32x4.splat(0.7978845608028654), madd(x, f32x4.splat(0.044715), x3));
  const e2u = exp4(f32x4.add(u, u));
  const tanh = f32x4.sub(f32x4.splat(1), f32x4.div(f32x4.splat(2), f32x4.add(e2u, f32x4.splat(1))));
  return f32x4.mul(f32x4.mul(f32x4.splat(0.5), x), f32x4.add(f32x4.splat(1), tanh));
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

/** out = silu(gate) · up */
export function swiglu(out: usize, gate: usize, up: usize, len: i32): void {
  let i = 0;
  for (; i + 4 <= len; i += 4) {
    const off = <usize>i << 2;
    v128.store(out + off, f32x4.mul(silu4(v128.load(gate + off)), v128.load(up + off)));
  }
  for (; i < len; i++) {
    const off = <usize>i << 2;
    store<f32>(out + off, f32x4.extract_lane(silu4(f32x4.splat(load<f32>(gate + off))), 0) * load<f32>(up + off));
  }
}
