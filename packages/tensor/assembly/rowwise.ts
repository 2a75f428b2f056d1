// Row-wise kernels on [rows, cols] row-major f32: softmax, rmsnorm, layernorm. Each row is
// swept with f32x4 and a scalar tail for cols % 4; sums are kept in f32 lanes.
import { exp4, exp1, hsum, hmax } from "./simd";

@inline function rowSum(p: usize, cols: i32): f32 {
  const c4 = cols & ~3;
  let acc = f32x4.splat(0);
  let c = 0;
  for (; c < c4; c += 4) acc = f32x4.add(acc, v128.load(p + (<usize>c << 2)));
  let s = hsum(acc);
  for (; c < cols; c++) s += load<f32>(p + (<usize>c << 2));
  return s;
}

/** Row-wise softmax with the row max subtracted first (so exp never overflows). out may be x. */
export function softmax(out: usize, x: usize, rows: i32, cols: i32): void {
  const c4 = cols & ~3;
  for (let r = 0; r < rows; r++) {
    const xr = x + <usize>r * cols * 4, orow = out + <usize>r * cols * 4;
    let mv = f32x4.splat(-Infinity);
    let c = 0;
    for (; c < c4; c += 4) mv = f32x4.pmax(mv, v128.load(xr + (<usize>c << 2)));
    let mx = hmax(mv);
    for (; c < cols; c++) mx = max(mx, load<f32>(xr + (<usize>c << 2)));
    const mxv = f32x4.splat(mx);
    let sv = f32x4.splat(0);
    for (c = 0; c < c4; c += 4) {
      const e = exp4(f32x4.sub(v128.load(xr + (<usize>c << 2)), mxv));
      v128.store(orow + (<usize>c << 2), e);
      sv = f32x4.add(sv, e);
    }
    let sum = hsum(sv);
    for (; c < cols; c++) {
      const e = exp1(load<f32>(xr + (<usize>c << 2)) - mx);
      store<f32>(orow + (<usize>c << 2), e);
      sum += e;
    }
    const inv = f32x4.splat(<f32>1 / sum);
    for (c = 0; c < c4; c += 4) v128.store(orow + (<usize>c << 2), f32x4.mul(v128.load(orow + (<usize>c << 2)), inv));
    for (; c < cols; c++) store<f32>(orow + (<usize>c << 2), load<f32>(orow + (<usize>c << 2)) / sum);
  }
}

/** out = x / sqrt(mean(x²) + eps) · weight, per row. */
export function rmsnorm(out: usize, x: usize, weight: usize, rows: i32, cols: i32, eps: f32): void {
  const c4 = cols & ~3;
  for (let r = 0; r < rows; r++) {
    const xr = x + <usize>r * cols * 4, orow = out + <usize>r * cols * 4;
    let acc = f32x4.splat(0);
    let c = 0;
    for (; c < c4; c += 4) {
      const v = v128.load(xr + (<usize>c << 2));
      acc = f32x4.add(acc, f32x4.mul(v, v));
    }
    let sumSq = hsum(acc);
    for (; c < cols; c++) { const v = load<f32>(xr + (<usize>c << 2)); sumSq += v * v; }
    const inv: f32 = <f32>1 / Mathf.sqrt(sumSq / <f32>cols + eps);
    const iv = f32x4.splat(inv);
    for (c = 0; c < c4; c += 4) {
      const off = <usize>c << 2;
      v128.store(orow + off, f32x4.mul(f32x4.mul(v128.load(xr + off), iv), v128.load(weight + off)));
    }
    for (; c < cols; c++) {
      const off = <usize>c << 2;
      store<f32>(orow + off, load<f32>(xr + off) * inv * load<f32>(weight + off));
    }
  }
}

/** out = (x − mean) / sqrt(var + eps) · weight + bias per row, biased variance; bias 0 = none. */
export function layernorm(out: usize, x: usize, weight: usize, bias: usize, rows: i32, cols: i32, eps: f32): void {
  const c4 = cols & ~3;
  for (let r = 0; r < rows; r++) {
    const xr = x + <usize>r * cols * 4, orow = out + <usize>r * cols * 4;
    const mean = rowSum(xr, cols) / <f32>cols;
    // second pass over (x − mean)² rather than E[x²] − mean², which cancels badly
    const mv = f32x4.splat(mean);
    let acc = f32x4.splat(0);
    let c = 0;
    for (; c < c4; c += 4) {
      const d = f32x4.sub(v128.load(xr + (<usize>c << 2)), mv);
      acc = f32x4.add(acc, f32x4.mul(d, d));
    }
    let sq = hsum(acc);
    for (; c < cols; c++) { const d = load<f32>(xr + (<usize>c << 2)) - mean; sq += d * d; }
    const inv: f32 = <f32>1 / Mathf.sqrt(sq / <f32>cols + eps);
    const iv = f32x4.splat(inv);
    for (c = 0; c < c4; c += 4) {
      const off = <usize>c << 2;
      let y = f32x4.mul(f32x4.mul(f32x4.sub(v128.load(xr + off), mv), iv), v128.load(weight + off));
      if (bias != 0) y = f32x4.add(y, v128.load(bias + off));
      v128.store(orow + off, y);
    }
    for (; c < cols; c++) {
      const off = <usize>c << 2;
      let y = (load<f32>(xr + off) - mean) * inv * load<f32>(weight + off);
      if (bias != 0) y += load<f32>(bias + off);
      store<f32>(orow + off, y);
    }
  }
}
