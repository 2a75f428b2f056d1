// Matrix × vector kernels (the decode step's products and single-row matmuls). The
// matrix × matrix kernel is gemm.ts.
import { fmadd, madd, hsum } from "./simd";

/** Σ_p x[p]·y[p] over len floats. */
@inline export function dot(x: usize, y: usize, len: i32): f32 {
  const l8 = len & ~7;
  let s0 = f32x4.splat(0), s1 = f32x4.splat(0);
  let d = 0;
  for (; d < l8; d += 8) {
    const off = <usize>d << 2;
    s0 = madd(s0, v128.load(x + off), v128.load(y + off));
    s1 = madd(s1, v128.load(x + off, 16), v128.load(y + off, 16));
  }
  let s = hsum(f32x4.add(s0, s1));
  for (; d < len; d++) s += load<f32>(x + (<usize>d << 2)) * load<f32>(y + (<usize>d << 2));
  return s;
}

/**
 * out[r] = Σ_c w[r, c]·x[c] for rows r0 ≤ r < r1 of w [rows, cols].
 *
 * A decode step streams every weight once from DRAM, so this kernel is bound by memory
 * bandwidth, and what matters is that each stream of w is read strictly in address order: the
 * hardware stream prefetcher then runs ahead of the loads. Interleaving adjacent rows (the usual
 * "4 rows share each load of x" register tile) looks to the prefetcher like several short strided
 * streams; measured on this 2-core EPYC, 32000×288 from DRAM: 1 row at a time 24 GB/s, 2 or 4
 * adjacent rows interleaved 8–9 GB/s (the same in C with SSE intrinsics). Two rows far apart are
 * two long ascending streams, which it follows: so a long range is computed as rows r and
 * r + half side by side, sharing each load of x (x stays in L1 either way). Each row keeps its
 * own four f32x4 accumulators in the one fixed order (linear.ts relies on it), so a row's sum is
 * the same bits whichever way it is computed.
 */
export function gemvRows(out: usize, w: usize, x: usize, cols: i32, r0: i32, r1: i32, accumulate: bool): void {
  let r = r0;
  if (r1 - r0 >= PAIRED_MIN_ROWS) {
    const ld = <usize>cols * 4;
    let half = (r1 - r0) >> 1;
    const gap = (<usize>half * ld) & 4095;
    // two streams a multiple of 4 KiB apart load addresses with the same low 12 bits side by
    // side, which x86 cores can take for a store dependency (4K aliasing): a precaution, not measured here
    if (gap < 512 || gap > 3584) half--;
    for (; r < r0 + half; r++) rowPair(out, w + <usize>r * ld, <usize>half * ld, x, cols, r, half, accumulate);
    r = r0 + 2 * half;
  }
  for (; r < r1; r++) rowDot(out, w + <usize>r * <usize>cols * 4, x, cols, r, accumulate);
}

/** Ranges shorter than this are read one row after the other (linear.ts's 4-row remainders). */
const PAIRED_MIN_ROWS = 8;

/**
 * out[r] (+)= w row · x in the fixed order: lanes s0…s3 over the 16-column groups, then the
 * 4-column groups into s0, hsum((s0 + s1) + (s2 + s3)), then the last cols mod 4 one by one.
 */
@inline function rowDot(out: usize, row: usize, x: usize, cols: i32, r: i32, accumulate: bool): void {
  const c16 = cols & ~15;
  let s0 = f32x4.splat(0), s1 = f32x4.splat(0), s2 = f32x4.splat(0), s3 = f32x4.splat(0);
  let c = 0;
  for (; c < c16; c += 16) {
    const off = <usize>c << 2;
    s0 = fmadd(s0, v128.load(row + off), v128.load(x + off));
    s1 = fmadd(s1, v128.load(row + off, 16), v128.load(x + off, 16));
    s2 = fmadd(s2, v128.load(row + off, 32), v128.load(x + off, 32));
    s3 = fmadd(s3, v128.load(row + off, 48), v128.load(x + off, 48));
  }
  finishRow(out, row, x, cols, c, r, s0, s1, s2, s3, accumulate);
}

/** rowDot for rows r (at row) and r + half (at row + offset) together, each x vector loaded once. */
@inline function rowPair(out: usize, row: usize, offset: usize, x: usize, cols: i32, r: i32, half: i32, accumulate: bool): void {
  const c16 = cols & ~15;
  const other = row + offset;
  let s0 = f32x4.splat(0), s1 = f32x4.splat(0), s2 = f32x4.splat(0), s3 = f32x4.splat(0);
  let t0 = f32x4.splat(0), t1 = f32x4.splat(0), t2 = f32x4.splat(0), t3 = f32x4.splat(0);
  let c = 0;
  for (; c < c16; c += 16) {
    const off = <usize>c << 2;
    const x0 = v128.load(x + off), x1 = v128.load(x + off, 16), x2 = v128.load(x + off, 32), x3 = v128.load(x + off, 48);
    s0 = fmadd(s0, v128.load(row + off), x0);
    t0 = fmadd(t0, v128.load(other + off), x0);
    s1 = fmadd(s1, v128.load(row + off, 16), x1);
    t1 = fmadd(t1, v128.load(other + off, 16), x1);
    s2 = fmadd(s2, v128.load(row + off, 32), x2);
    t2 = fmadd(t2, v128.load(other + off, 32), x2);
    s3 = fmadd(s3, v128.load(row + off, 48), x3);
    t3 = fmadd(t3, v128.load(other + off, 48), x3);
  }
  finishRow(out, row, x, cols, c, r, s0, s1, s2, s3, accumulate);
  finishRow(out, other, x, cols, c, r + half, t0, t1, t2, t3, accumulate);
}

/** The rest of rowDot from column c (a multiple of 16) with its four lanes so far. */
@inline function finishRow(out: usize, row: usize, x: usize, cols: i32, c: i32, r: i32, s0: v128, s1: v128, s2: v128, s3: v128, accumulate: bool): void {
  const c4 = cols & ~3;
  for (; c < c4; c += 4) {
    const off = <usize>c << 2;
    s0 = fmadd(s0, v128.load(row + off), v128.load(x + off));
  }
  let d = hsum(f32x4.add(f32x4.add(s0, s1), f32x4.add(s2, s3)));
  for (; c < cols; c++) d += load<f32>(row + (<usize>c << 2)) * load<f32>(x + (<usize>c << 2));
  const o = out + (<usize>r << 2);
  store<f32>(o, accumulate ? load<f32>(o) + d : d);
}

/**
 * out[j0:j1] (+)= x·B[:, j0:j1] for one row vector x [k] and B [k, n]: each row of B is added
 * in, scaled by one x value (the layout where a dot product per output would stride).
 */
export function gevmCols(out: usize, x: usize, b: usize, k: i32, n: i32, j0: i32, j1: i32, accumulate: bool): void {
  const o = out + (<usize>j0 << 2);
  const len = j1 - j0;
  if (!accumulate) memory.fill(o, 0, <usize>len << 2);
  const l4 = len & ~3;
  for (let p = 0; p < k; p++) {
    const xp = load<f32>(x + (<usize>p << 2));
    const xv = f32x4.splat(xp);
    const row = b + (<usize>p * n + j0) * 4;
    let j = 0;
    for (; j < l4; j += 4) {
      const off = <usize>j << 2;
      v128.store(o + off, madd(v128.load(o + off), xv, v128.load(row + off)));
    }
    for (; j < len; j++) {
      const off = <usize>j << 2;
      store<f32>(o + off, load<f32>(o + off) + xp * load<f32>(row + off));
    }
  }
}
