// Kernels of the backward pass and of the optimizer: the elementwise derivatives, the data
// movement backward rules need (transposes, head gathers) and the Adam(W) update. The row-wise
// derivatives (softmax, norms, cross-entropy) are in train-rows.ts.
// Gradients accumulate: every `g…` output is added into (`+=`), as the autograd engine's rules do.
// Statistics are recomputed per row from the forward inputs (nothing is saved by the forward).
import { exp4, madd, transpose4x4 } from "./simd";

@inline function at(p: usize, i: i32): usize {
  return p + (<usize>i << 2);
}

// ---- data movement -----------------------------------------------------------------------

/** out[b, c, r] = x[b, r, c]: `batch` matrices [rows, cols] -> [cols, rows], by 4×4 register tiles. */
export function transpose(out: usize, x: usize, batch: i32, rows: i32, cols: i32): void {
  const per = <usize>rows * cols * 4;
  const ldx = <usize>cols * 4, ldo = <usize>rows * 4;
  const r4 = rows & ~3, c4 = cols & ~3;
  for (let b = 0; b < batch; b++) {
    const xb = x + <usize>b * per, ob = out + <usize>b * per;
    for (let r = 0; r < r4; r += 4) {
      const src = xb + <usize>r * ldx;
      for (let c = 0; c < c4; c += 4) transpose4x4(src + (<usize>c << 2), ldx, ob + <usize>c * ldo + (<usize>r << 2), ldo);
      for (let c = c4; c < cols; c++) {
        for (let q = 0; q < 4; q++) store<f32>(ob + <usize>c * ldo + (<usize>(r + q) << 2), load<f32>(src + <usize>q * ldx + (<usize>c << 2)));
      }
    }
    for (let r = r4; r < rows; r++) {
      const src = xb + <usize>r * ldx;
      for (let c = 0; c < cols; c++) store<f32>(ob + <usize>c * ldo + (<usize>r << 2), load<f32>(src + (<usize>c << 2)));
    }
  }
}

@inline function copyRow(dst: usize, src: usize, d: i32): void {
  memory.copy(dst, src, <usize>d << 2);
}

@inline function addRow(dst: usize, src: usize, d: i32): void {
  const d4 = d & ~3;
  let i = 0;
  for (; i < d4; i += 4) v128.store(at(dst, i), f32x4.add(v128.load(at(dst, i)), v128.load(at(src, i))));
  for (; i < d; i++) store<f32>(at(dst, i), load<f32>(at(dst, i)) + load<f32>(at(src, i)));
}

/**
 * x [batch, seq, nSrc, d] -> out [batch, nHeads, seq, d]: one block of rows per head, head h
 * reading source head ⌊h / (nHeads / nSrc)⌋ (grouped-query K and V repeat across their group).
 */
export function gatherHeads(out: usize, x: usize, batch: i32, seq: i32, nSrc: i32, nHeads: i32, d: i32): void {
  const group = nHeads / nSrc;
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < nHeads; h++) {
      const src = h / group;
      for (let s = 0; s < seq; s++) {
        copyRow(out + (<usize>((b * nHeads + h) * seq + s) * d << 2), x + (<usize>((b * seq + s) * nSrc + src) * d << 2), d);
      }
    }
  }
}

/** The transpose of gatherHeads: g [batch, seq, nDst, d] += Σ over each group of x [batch, nDst·group, seq, d]. */
export function scatterHeadsAdd(g: usize, x: usize, batch: i32, seq: i32, nDst: i32, group: i32, d: i32): void {
  const nHeads = nDst * group;
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < nHeads; h++) {
      const dst = h / group;
      for (let s = 0; s < seq; s++) {
        addRow(g + (<usize>((b * seq + s) * nDst + dst) * d << 2), x + (<usize>((b * nHeads + h) * seq + s) * d << 2), d);
      }
    }
  }
}

// ---- elementwise ---------------------------------------------------------------------------

/** out += alpha·x */
export function axpy(out: usize, x: usize, alpha: f32, len: i32): void {
  const l4 = len & ~3;
  const av = f32x4.splat(alpha);
  let i = 0;
  for (; i < l4; i += 4) v128.store(at(out, i), madd(v128.load(at(out, i)), av, v128.load(at(x, i))));
  for (; i < len; i++) store<f32>(at(out, i), load<f32>(at(out, i)) + alpha * load<f32>(at(x, i)));
}

/** out += a·b (the backward of a product: d(a·b)/da = b) */
export function mulAdd(out: usize, a: usize, b: usize, len: i32): void {
  const l4 = len & ~3;
  let i = 0;
  for (; i < l4; i += 4) v128.store(at(out, i), madd(v128.load(at(out, i)), v128.load(at(a, i)), v128.load(at(b, i))));
  for (; i < len; i++) store<f32>(at(out, i), load<f32>(at(out, i)) + load<f32>(at(a, i)) * load<f32>(at(b, i)));
}

/** x *= s, in place; the product is formed in f64 and rounded once, as the js reference's */
export function scale(x: usize, s: f64, len: i32): void {
  const l2 = len & ~1;
  const sv = f64x2.splat(s);
  let i = 0;
  for (; i < l2; i += 2) {
    const v = f64x2.promote_low_f32x4(v128.load64_zero(at(x, i)));
    v128.store64_lane(at(x, i), f32x4.demote_f64x2_zero(f64x2.mul(v, sv)), 0);
  }
  for (; i < len; i++) store<f32>(at(x, i), <f32>(<f64>load<f32>(at(x, i)) * s));
}

/** Σ x², accumulated in f64 (two lanes per f32x4 half). */
export function sumSquares(x: usize, len: i32): f64 {
  const l4 = len & ~3;
  let lo = f64x2.splat(0), hi = f64x2.splat(0);
  let i = 0;
  for (; i < l4; i += 4) {
    const v = v128.load(at(x, i));
    const a = f64x2.promote_low_f32x4(v), b = f64x2.promote_low_f32x4(v128.shuffle<f32>(v, v, 2, 3, 0, 1));
    lo = f64x2.add(lo, f64x2.mul(a, a));
    hi = f64x2.add(hi, f64x2.mul(b, b));
  }
  const s = f64x2.add(lo, hi);
  let total = f64x2.extract_lane(s, 0) + f64x2.extract_lane(s, 1);
  for (; i < len; i++) { const v = <f64>load<f32>(at(x, i)); total += v * v; }
  return total;
}

// σ(z) for four lanes: 1/(1 + e^−z); e^−z overflowing to +inf gives 0, as it should
@inline function sigmoid4(z: v128): v128 {
  return f32x4.div(f32x4.splat(1), f32x4.add(f32x4.splat(1), exp4(f32x4.neg(z))));
}

@inline function sigmoid1(z: f32): f32 {
  return f32x4.extract_lane(sigmoid4(f32x4.splat(z)), 0);
}

const GELU_K: f32 = 0.7978845608028654; // √(2/π)
const GELU_C: f32 = 0.044715;

// gelu(x) = x·σ(2u), u = k(x + c·x³)  =>  gelu'(x) = s + 2x·s(1 − s)·k(1 + 3c·x²), s = σ(2u)
@inline function geluGrad4(x: v128): v128 {
  const x2 = f32x4.mul(x, x);
  const u2 = f32x4.mul(f32x4.splat(2 * GELU_K), madd(x, f32x4.splat(GELU_C), f32x4.mul(x2, x)));
  const s = sigmoid4(u2);
  const du = f32x4.mul(f32x4.splat(2 * GELU_K), madd(f32x4.splat(1), f32x4.splat(3 * GELU_C), x2));
  return madd(s, f32x4.mul(x, f32x4.mul(s, f32x4.sub(f32x4.splat(1), s))), du);
}

/** gx += dy · gelu'(x), gelu the tanh approximation (GPT-2) */
export function geluBackward(gx: usize, x: usize, dy: usize, len: i32): void {
  const l4 = len & ~3;
  let i = 0;
  for (; i < l4; i += 4) v128.store(at(gx, i), madd(v128.load(at(gx, i)), v128.load(at(dy, i)), geluGrad4(v128.load(at(x, i)))));
  for (; i < len; i++) {
    const d = f32x4.extract_lane(geluGrad4(f32x4.splat(load<f32>(at(x, i)))), 0);
    store<f32>(at(gx, i), load<f32>(at(gx, i)) + load<f32>(at(dy, i)) * d);
  }
}

// silu(x) = x·σ(x)  =>  silu'(x) = σ(x)·(1 + x(1 − σ(x)))
@inline function siluGrad4(x: v128): v128 {
  const s = sigmoid4(x);
  return f32x4.mul(s, madd(f32x4.splat(1), x, f32x4.sub(f32x4.splat(1), s)));
}

/** gx += dy · silu'(x) */
export function siluBackward(gx: usize, x: usize, dy: usize, len: i32): void {
  const l4 = len & ~3;
  let i = 0;
  for (; i < l4; i += 4) v128.store(at(gx, i), madd(v128.load(at(gx, i)), v128.load(at(dy, i)), siluGrad4(v128.load(at(x, i)))));
  for (; i < len; i++) {
    const v = load<f32>(at(x, i));
    const s = sigmoid1(v);
    store<f32>(at(gx, i), load<f32>(at(gx, i)) + load<f32>(at(dy, i)) * s * (1 + v * (1 - s)));
  }
}

// ---- optimizer ---------------------------------------------------------------------------

/**
 * One Adam(W) update in place, in f64 lanes with the js reference's order of operations, so
 * both backends give the same bits:
 *   g = grad + l2·p;  m ← β1·m + (1 − β1)·g;  v ← β2·v + (1 − β2)·g²
 *   p ← p·shrink − stepSize·m / (√v / c2 + eps)
 * (m and v are rounded to f32 when stored, and the update reads them back rounded.)
 */
export function adam(p: usize, grad: usize, m: usize, v: usize, len: i32, beta1: f64, beta2: f64, eps: f64, stepSize: f64, c2: f64, shrink: f64, l2: f64): void {
  const b1 = f64x2.splat(beta1), b2 = f64x2.splat(beta2), nb1 = f64x2.splat(1 - beta1), nb2 = f64x2.splat(1 - beta2);
  const ev = f64x2.splat(eps), ss = f64x2.splat(stepSize), cv = f64x2.splat(c2), sh = f64x2.splat(shrink), lv = f64x2.splat(l2);
  const l2n = len & ~1;
  let i = 0;
  for (; i < l2n; i += 2) {
    const pv = f64x2.promote_low_f32x4(v128.load64_zero(at(p, i)));
    const g = f64x2.add(f64x2.promote_low_f32x4(v128.load64_zero(at(grad, i))), f64x2.mul(lv, pv));
    const mOld = f64x2.promote_low_f32x4(v128.load64_zero(at(m, i)));
    const vOld = f64x2.promote_low_f32x4(v128.load64_zero(at(v, i)));
    const mNew = f32x4.demote_f64x2_zero(f64x2.add(f64x2.mul(b1, mOld), f64x2.mul(nb1, g)));
    const vNew = f32x4.demote_f64x2_zero(f64x2.add(f64x2.mul(b2, vOld), f64x2.mul(f64x2.mul(nb2, g), g)));
    v128.store64_lane(at(m, i), mNew, 0);
    v128.store64_lane(at(v, i), vNew, 0);
    const mr = f64x2.promote_low_f32x4(mNew), vr = f64x2.promote_low_f32x4(vNew);
    const denom = f64x2.add(f64x2.div(f64x2.sqrt(vr), cv), ev);
    const pNew = f64x2.sub(f64x2.mul(pv, sh), f64x2.div(f64x2.mul(ss, mr), denom));
    v128.store64_lane(at(p, i), f32x4.demote_f64x2_zero(pNew), 0);
  }
  for (; i < len; i++) {
    const pv = <f64>load<f32>(at(p, i));
    const g = <f64>load<f32>(at(grad, i)) + l2 * pv;
    const mNew = <f32>(beta1 * <f64>load<f32>(at(m, i)) + (1 - beta1) * g);
    const vNew = <f32>(beta2 * <f64>load<f32>(at(v, i)) + (1 - beta2) * g * g);
    store<f32>(at(m, i), mNew);
    store<f32>(at(v, i), vNew);
    store<f32>(at(p, i), <f32>(pv * shrink - (stepSize * <f64>mNew) / (Math.sqrt(<f64>vNew) / c2 + eps)));
  }
}
