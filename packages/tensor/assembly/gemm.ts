// Matrix multiply C (+)= op(A)·op(B) for row-major f32 matrices, the GotoBLAS way: copy a block
// of each operand into a packed layout the inner kernel reads strictly sequentially, then sweep
// a 4×8 register tile over the packed blocks.
//
//   op(A) [m, k]: A stored [m, k], or [k, m] with transA (dW = dYᵀ·X reads dY in place)
//   op(B) [k, n]: B stored [k, n], or [n, k] with transB (nn.Linear / GGUF weights, one row per output)
//
//   for jc: NC columns of C           B block KC×NC packed as NC/8 panels of [KC][8]   (L2)
//     for pc: KC-deep slices of k
//       for ic: MC rows of C          A block MC×KC packed as MC/4 panels of [KC][4]   (L2)
//         for each 8-column B panel, for each 4-row A panel:
//           the 4×8 tile: C[4, 8] (+)= Σ_p a[p][0..3] ⊗ b[p][0..7]
//
// The tile is an outer product: per k step, two f32x4 loads of b, four broadcast loads of a
// (v128.load32_splat, which x86 runs on a load port), eight multiply-adds into eight
// accumulators that stay in registers for the whole slice. Eight accumulators plus three
// operands fit the 16 vector registers V8 has on x86-64; wider tiles (5×8, 6×8, 4×12) spill and
// ran slower here, as did the dot-product form (2×4 tiles of partial sums reduced across lanes).
// Packing pads edges with zeros, so the tile never branches; edge tiles go through a small
// buffer and only the valid part is written back.
import { madd, transpose4x4 } from "./simd";

export const KC = 256;
export const MC = 64;
export const NC = 256;
const MR = 4;
const NR = 8;
/** Bytes of per-thread scratch a matmul needs: the packed B and A blocks and one edge tile. */
export const MATMUL_SCRATCH: i32 = (KC * NC + MC * KC + MR * NR) * 4;

// Pack rows ic..ic+mc (padded to a multiple of 4) × depth pc..pc+kc of op(A) into panels of 4
// rows: dst[panel][p][r] = op(A)[ic + 4·panel + r, pc + p]. lda: floats between stored rows.
function packA(dst: usize, a: usize, lda: i32, transA: bool, ic: i32, mc: i32, pc: i32, kc: i32): void {
  const lda4 = <usize>lda * 4;
  for (let i = 0; i < mc; i += MR) {
    const rows = min(MR, mc - i);
    const panel = dst + <usize>i * kc * 4; // MR·kc floats per panel
    if (transA) {
      // op(A)[i.., p] = A[p, i..]: four neighbours in one stored row
      const src = a + (<usize>pc * lda + ic + i) * 4;
      for (let p = 0; p < kc; p++) {
        const s = src + <usize>p * lda4, d = panel + (<usize>p << 4);
        if (rows == MR) v128.store(d, v128.load(s));
        else for (let r = 0; r < MR; r++) store<f32>(d + (<usize>r << 2), r < rows ? load<f32>(s + (<usize>r << 2)) : 0);
      }
    } else if (rows == MR) {
      // four stored rows, read 4 deep at a time and transposed in registers
      const s0 = a + (<usize>(ic + i) * lda + pc) * 4, s1 = s0 + lda4, s2 = s1 + lda4, s3 = s2 + lda4;
      const k4 = kc & ~3;
      let p = 0;
      for (; p < k4; p += 4) transpose4x4(s0 + (<usize>p << 2), lda4, panel + (<usize>p << 4), 16);
      for (; p < kc; p++) {
        const off = <usize>p << 2, d = panel + (<usize>p << 4);
        store<f32>(d, load<f32>(s0 + off)); store<f32>(d, load<f32>(s1 + off), 4);
        store<f32>(d, load<f32>(s2 + off), 8); store<f32>(d, load<f32>(s3 + off), 12);
      }
    } else {
      for (let p = 0; p < kc; p++) {
        const d = panel + (<usize>p << 4);
        for (let r = 0; r < MR; r++) store<f32>(d + (<usize>r << 2), r < rows ? load<f32>(a + (<usize>(ic + i + r) * lda + pc + p) * 4) : 0);
      }
    }
  }
}

// Pack depth pc..pc+kc × columns jc..jc+nc (padded to a multiple of 8) of op(B) into panels of
// 8 columns: dst[panel][p][j] = op(B)[pc + p, jc + 8·panel + j]. ldb: floats between stored rows.
function packB(dst: usize, b: usize, ldb: i32, transB: bool, pc: i32, kc: i32, jc: i32, nc: i32): void {
  const ldb4 = <usize>ldb * 4;
  for (let j = 0; j < nc; j += NR) {
    const cols = min(NR, nc - j);
    const panel = dst + <usize>j * kc * 4; // NR·kc floats per panel
    if (!transB) {
      // op(B)[p, j..] is a stored row: eight neighbours
      const src = b + (<usize>pc * ldb + jc + j) * 4;
      for (let p = 0; p < kc; p++) {
        const s = src + <usize>p * ldb4, d = panel + (<usize>p << 5);
        if (cols == NR) { v128.store(d, v128.load(s)); v128.store(d, v128.load(s, 16), 16); }
        else for (let c = 0; c < NR; c++) store<f32>(d + (<usize>c << 2), c < cols ? load<f32>(s + (<usize>c << 2)) : 0);
      }
    } else if (cols == NR) {
      // eight stored rows (one per output column), 4 deep at a time, transposed in registers
      const k4 = kc & ~3;
      for (let half = 0; half < 2; half++) {
        const s0 = b + (<usize>(jc + j + 4 * half) * ldb + pc) * 4, s1 = s0 + ldb4, s2 = s1 + ldb4, s3 = s2 + ldb4;
        const col = panel + (<usize>half << 4);
        let p = 0;
        for (; p < k4; p += 4) transpose4x4(s0 + (<usize>p << 2), ldb4, col + (<usize>p << 5), 32);
        for (; p < kc; p++) {
          const off = <usize>p << 2, d = col + (<usize>p << 5);
          store<f32>(d, load<f32>(s0 + off)); store<f32>(d, load<f32>(s1 + off), 4);
          store<f32>(d, load<f32>(s2 + off), 8); store<f32>(d, load<f32>(s3 + off), 12);
        }
      }
    } else {
      for (let p = 0; p < kc; p++) {
        const d = panel + (<usize>p << 5);
        for (let c = 0; c < NR; c++) store<f32>(d + (<usize>c << 2), c < cols ? load<f32>(b + (<usize>(jc + j + c) * ldb + pc + p) * 4) : 0);
      }
    }
  }
}

// The 4×8 tile over kc packed steps, stored to t (row stride ldt bytes): added to what t holds
// when `add`, else written.
@inline function tile4x8(kc: i32, ap: usize, bp: usize, t: usize, ldt: usize, add: bool): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0), c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0), c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  let pa = ap, pb = bp;
  for (let p = 0; p < kc; p++) {
    const b0 = v128.load(pb), b1 = v128.load(pb, 16);
    let x = v128.load32_splat(pa); c00 = madd(c00, x, b0); c01 = madd(c01, x, b1);
    x = v128.load32_splat(pa, 4); c10 = madd(c10, x, b0); c11 = madd(c11, x, b1);
    x = v128.load32_splat(pa, 8); c20 = madd(c20, x, b0); c21 = madd(c21, x, b1);
    x = v128.load32_splat(pa, 12); c30 = madd(c30, x, b0); c31 = madd(c31, x, b1);
    pa += 16; pb += 32;
  }
  if (add) {
    c00 = f32x4.add(c00, v128.load(t)); c01 = f32x4.add(c01, v128.load(t, 16));
    c10 = f32x4.add(c10, v128.load(t + ldt)); c11 = f32x4.add(c11, v128.load(t + ldt, 16));
    c20 = f32x4.add(c20, v128.load(t + 2 * ldt)); c21 = f32x4.add(c21, v128.load(t + 2 * ldt, 16));
    c30 = f32x4.add(c30, v128.load(t + 3 * ldt)); c31 = f32x4.add(c31, v128.load(t + 3 * ldt, 16));
  }
  v128.store(t, c00); v128.store(t, c01, 16);
  v128.store(t + ldt, c10); v128.store(t + ldt, c11, 16);
  v128.store(t + 2 * ldt, c20); v128.store(t + 2 * ldt, c21, 16);
  v128.store(t + 3 * ldt, c30); v128.store(t + 3 * ldt, c31, 16);
}

/**
 * C[i0:i1, j0:j1] (+)= op(A)[i0:i1, :]·op(B)[:, j0:j1] for one matrix: op(A) [m, k], op(B)
 * [k, n], C [m, n] (see the header for the stored layouts). `scratch` holds MATMUL_SCRATCH
 * bytes owned by the calling thread.
 */
export function gemmBlock(
  c: usize, a: usize, b: usize, m: i32, k: i32, n: i32, transA: bool, transB: bool, accumulate: bool,
  i0: i32, i1: i32, j0: i32, j1: i32, scratch: usize,
): void {
  const lda = transA ? m : k, ldb = transB ? k : n;
  const ldc = <usize>n * 4;
  const bPack = scratch, aPack = scratch + <usize>KC * NC * 4, edge = aPack + <usize>MC * KC * 4;
  for (let jc = j0; jc < j1; jc += NC) {
    const nc = min(NC, j1 - jc);
    for (let pc = 0; pc < k; pc += KC) {
      const kc = min(KC, k - pc);
      const add = accumulate || pc > 0;
      packB(bPack, b, ldb, transB, pc, kc, jc, nc);
      for (let ic = i0; ic < i1; ic += MC) {
        const mc = min(MC, i1 - ic);
        packA(aPack, a, lda, transA, ic, mc, pc, kc);
        for (let j = 0; j < nc; j += NR) {
          const bp = bPack + <usize>j * kc * 4;
          const cols = min(NR, nc - j);
          for (let i = 0; i < mc; i += MR) {
            const ap = aPack + <usize>i * kc * 4;
            const ct = c + <usize>(ic + i) * ldc + (<usize>(jc + j) << 2);
            const rows = min(MR, mc - i);
            if (rows == MR && cols == NR) {
              tile4x8(kc, ap, bp, ct, ldc, add);
            } else {
              // an edge tile: through the buffer, then only the rows × cols that exist
              tile4x8(kc, ap, bp, edge, NR * 4, false);
              for (let r = 0; r < rows; r++) {
                for (let q = 0; q < cols; q++) {
                  const dst = ct + <usize>r * ldc + (<usize>q << 2);
                  const v = load<f32>(edge + (<usize>(r * NR + q) << 2));
                  store<f32>(dst, add ? load<f32>(dst) + v : v);
                }
              }
            }
          }
        }
      }
    }
  }
}
