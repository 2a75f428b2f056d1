// Matrix multiply C = A·B (+C) for row-major f32 matrices, as dot products over k:
//
//   C[i, j] = Σ_p A[i, p]·Bᵀ[j, p]      (A rows and Bᵀ rows both contiguous in p)
//
// With B stored [n, k] (`transB`, the nn.Linear / GGUF weight layout) Bᵀ rows are B's own rows
// and nothing is packed; with B stored [k, n] each KC×NB block is first transposed into scratch.
// The 2×4 tile keeps eight f32x4 partial sums (two A rows against four Bᵀ rows) and reduces
// them once at the end of the k-slice. This beats the usual broadcast-A outer-product tile on
// x86 because WebAssembly's splat lowers to a shuffle that competes with the multiply and add
// ports, while the dot form needs no shuffle inside the loop (measured while choosing it: ~32
// vs ~25 GFLOP/s at 512³ on one core of an AVX-512 EPYC).
//
//   for each KC-deep slice of k
//     for each block of NB columns of C   (Bᵀ block NB×KC = 64 KB, stays in L2)
//       for each 2 rows of A              (2×KC of A stays in L1)
//         for each 4 columns of the block: the 2×4 tile
import { madd, hsum } from "./simd";

export const KC = 256;
export const NB = 64;
/** Bytes of per-thread scratch a matmul needs: one transposed NB×KC block of B. */
export const MATMUL_SCRATCH: i32 = NB * KC * 4;

// [Σ s0, Σ s1, Σ s2, Σ s3]: four horizontal sums in one vector (a 4×4 transpose folded into adds)
@inline function sum4(s0: v128, s1: v128, s2: v128, s3: v128): v128 {
  const h01 = f32x4.add(v128.shuffle<f32>(s0, s1, 0, 4, 1, 5), v128.shuffle<f32>(s0, s1, 2, 6, 3, 7));
  const h23 = f32x4.add(v128.shuffle<f32>(s2, s3, 0, 4, 1, 5), v128.shuffle<f32>(s2, s3, 2, 6, 3, 7));
  return f32x4.add(v128.shuffle<f32>(h01, h23, 0, 1, 4, 5), v128.shuffle<f32>(h01, h23, 2, 3, 6, 7));
}

// C[i..i+2, j..j+4] (+)= A[i..i+2, slice]·Bᵀ[j..j+4, slice]ᵀ. a0: A row i at the slice start,
// w0: Bᵀ row j at the slice start; lda, ldw, ldc in bytes.
@inline function tile2x4(kc: i32, a0: usize, lda: usize, w0: usize, ldw: usize, c: usize, ldc: usize, loadC: bool): void {
  const a1 = a0 + lda;
  const w1 = w0 + ldw, w2 = w1 + ldw, w3 = w2 + ldw;
  let s00 = f32x4.splat(0), s01 = f32x4.splat(0), s02 = f32x4.splat(0), s03 = f32x4.splat(0);
  let s10 = f32x4.splat(0), s11 = f32x4.splat(0), s12 = f32x4.splat(0), s13 = f32x4.splat(0);
  const k4 = kc & ~3;
  let p = 0;
  for (; p < k4; p += 4) {
    const off = <usize>p << 2;
    const x0 = v128.load(a0 + off), x1 = v128.load(a1 + off);
    let w = v128.load(w0 + off); s00 = madd(s00, x0, w); s10 = madd(s10, x1, w);
    w = v128.load(w1 + off); s01 = madd(s01, x0, w); s11 = madd(s11, x1, w);
    w = v128.load(w2 + off); s02 = madd(s02, x0, w); s12 = madd(s12, x1, w);
    w = v128.load(w3 + off); s03 = madd(s03, x0, w); s13 = madd(s13, x1, w);
  }
  let r0 = sum4(s00, s01, s02, s03), r1 = sum4(s10, s11, s12, s13);
  for (; p < kc; p++) {
    // k % 4 leftovers: one column of the four Bᵀ rows as a vector
    const off = <usize>p << 2;
    let w = f32x4.splat(load<f32>(w0 + off));
    w = f32x4.replace_lane(w, 1, load<f32>(w1 + off));
    w = f32x4.replace_lane(w, 2, load<f32>(w2 + off));
    w = f32x4.replace_lane(w, 3, load<f32>(w3 + off));
    r0 = madd(r0, v128.load32_splat(a0 + off), w);
    r1 = madd(r1, v128.load32_splat(a1 + off), w);
  }
  if (loadC) { r0 = f32x4.add(r0, v128.load(c)); r1 = f32x4.add(r1, v128.load(c + ldc)); }
  v128.store(c, r0); v128.store(c + ldc, r1);
}

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

// Bᵀ block: dst[j·kc + p] = B[pc + p, jc + j] for j < nb, p < kc, from B [k, n], by 4×4
// register transposes (rows p..p+3 × columns j..j+3 in, columns out as rows).
function packBT(dst: usize, b: usize, n: i32, pc: i32, kc: i32, jc: i32, nb: i32): void {
  const ldb = <usize>n * 4, ldd = <usize>kc * 4;
  const k4 = kc & ~3, n4 = nb & ~3;
  for (let p = 0; p < k4; p += 4) {
    const src = b + (<usize>(pc + p) * n + jc) * 4;
    for (let j = 0; j < n4; j += 4) {
      const s = src + (<usize>j << 2);
      const r0 = v128.load(s), r1 = v128.load(s + ldb), r2 = v128.load(s + 2 * ldb), r3 = v128.load(s + 3 * ldb);
      const t0 = v128.shuffle<f32>(r0, r1, 0, 4, 1, 5), t1 = v128.shuffle<f32>(r0, r1, 2, 6, 3, 7);
      const t2 = v128.shuffle<f32>(r2, r3, 0, 4, 1, 5), t3 = v128.shuffle<f32>(r2, r3, 2, 6, 3, 7);
      const d = dst + <usize>j * ldd + (<usize>p << 2);
      v128.store(d, v128.shuffle<f32>(t0, t2, 0, 1, 4, 5));
      v128.store(d + ldd, v128.shuffle<f32>(t0, t2, 2, 3, 6, 7));
      v128.store(d + 2 * ldd, v128.shuffle<f32>(t1, t3, 0, 1, 4, 5));
      v128.store(d + 3 * ldd, v128.shuffle<f32>(t1, t3, 2, 3, 6, 7));
    }
    for (let j = n4; j < nb; j++) {
      for (let q = 0; q < 4; q++) {
        store<f32>(dst + <usize>j * ldd + (<usize>(p + q) << 2), load<f32>(src + <usize>q * ldb + (<usize>j << 2)));
      }
    }
  }
  for (let p = k4; p < kc; p++) {
    const src = b + (<usize>(pc + p) * n + jc) * 4;
    for (let j = 0; j < nb; j++) store<f32>(dst + <usize>j * ldd + (<usize>p << 2), load<f32>(src + (<usize>j << 2)));
  }
}

/**
 * C[i0:i1, j0:j1] (+)= A[i0:i1, :]·B[:, j0:j1] for one matrix: a [m, k], b [k, n] or [n, k]
 * (transB), c [m, n]. `scratch` holds MATMUL_SCRATCH bytes owned by the calling thread.
 */
export function gemmBlock(
  c: usize, a: usize, b: usize, k: i32, n: i32, transB: bool, accumulate: bool,
  i0: i32, i1: i32, j0: i32, j1: i32, scratch: usize,
): void {
  const lda = <usize>k * 4, ldc = <usize>n * 4;
  for (let pc = 0; pc < k; pc += KC) {
    const kc = min(KC, k - pc);
    const loadC = accumulate || pc > 0;
    for (let jc = j0; jc < j1; jc += NB) {
      const nb = min(NB, j1 - jc);
      // Bᵀ row j of this block: transB reads B in place, otherwise the packed copy
      let wBase: usize, ldw: usize;
      if (transB) {
        wBase = b + (<usize>jc * k + pc) * 4; ldw = lda;
      } else {
        packBT(scratch, b, n, pc, kc, jc, nb);
        wBase = scratch; ldw = <usize>kc * 4;
      }
      const n4 = nb & ~3;
      let i = i0;
      for (; i + 2 <= i1; i += 2) {
        const ai = a + <usize>i * lda + <usize>pc * 4;
        const ci = c + <usize>i * ldc + <usize>jc * 4;
        let j = 0;
        for (; j < n4; j += 4) tile2x4(kc, ai, lda, wBase + <usize>j * ldw, ldw, ci + (<usize>j << 2), ldc, loadC);
        for (; j < nb; j++) {
          const w = wBase + <usize>j * ldw, cj = ci + (<usize>j << 2);
          const d0 = dot(ai, w, kc), d1 = dot(ai + lda, w, kc);
          store<f32>(cj, loadC ? load<f32>(cj) + d0 : d0);
          store<f32>(cj + ldc, loadC ? load<f32>(cj + ldc) + d1 : d1);
        }
      }
      if (i < i1) {
        // odd last row
        const ai = a + <usize>i * lda + <usize>pc * 4;
        const ci = c + <usize>i * ldc + <usize>jc * 4;
        for (let j = 0; j < nb; j++) {
          const cj = ci + (<usize>j << 2);
          const d = dot(ai, wBase + <usize>j * ldw, kc);
          store<f32>(cj, loadC ? load<f32>(cj) + d : d);
        }
      }
    }
  }
}

/**
 * out[r] = Σ_c w[r, c]·x[c] for rows r0 ≤ r < r1 of w [rows, cols], one row after the other.
 *
 * A decode step streams every weight once from DRAM, so this kernel is bound by memory
 * bandwidth, and what matters is that w is read strictly in address order: the hardware
 * stream prefetcher then runs ahead of the loads. Interleaving rows (the usual "4 rows share
 * each load of x" register tile) looks to the prefetcher like several short strided streams;
 * measured on this 2-core EPYC, 32000×288 from DRAM: 1 row at a time 24 GB/s, 2 or 4 rows
 * interleaved 8–9 GB/s (the same in C with SSE intrinsics). x stays in L1, so reloading it per
 * row costs little; four f32x4 accumulators hide the add latency.
 */
export function gemvRows(out: usize, w: usize, x: usize, cols: i32, r0: i32, r1: i32, accumulate: bool): void {
  const ld = <usize>cols * 4;
  const c16 = cols & ~15, c4 = cols & ~3;
  for (let r = r0; r < r1; r++) {
    const row = w + <usize>r * ld;
    let s0 = f32x4.splat(0), s1 = f32x4.splat(0), s2 = f32x4.splat(0), s3 = f32x4.splat(0);
    let c = 0;
    for (; c < c16; c += 16) {
      const off = <usize>c << 2;
      s0 = madd(s0, v128.load(row + off), v128.load(x + off));
      s1 = madd(s1, v128.load(row + off, 16), v128.load(x + off, 16));
      s2 = madd(s2, v128.load(row + off, 32), v128.load(x + off, 32));
      s3 = madd(s3, v128.load(row + off, 48), v128.load(x + off, 48));
    }
    for (; c < c4; c += 4) {
      const off = <usize>c << 2;
      s0 = madd(s0, v128.load(row + off), v128.load(x + off));
    }
    let d = hsum(f32x4.add(f32x4.add(s0, s1), f32x4.add(s2, s3)));
    for (; c < cols; c++) d += load<f32>(row + (<usize>c << 2)) * load<f32>(x + (<usize>c << 2));
    const o = out + (<usize>r << 2);
    store<f32>(o, accumulate ? load<f32>(o) + d : d);
  }
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
