// The projection of a linear layer over rows of activations, y[r] = W·x[r] (nn.Linear without
// bias, W stored [outFeatures, inFeatures]): the kernel behind LinearWeight.project. Reference:
// jsBackend.linear in src/backend/js.ts.
//
// Batch invariance. Row r's result must not depend on how many rows run with it, so a token's
// logits are the same bits in a one-token decode step, in a prefill chunk and in a batched
// decode (what exact speculative decoding and a deterministic server rely on). Every output is
// therefore summed in one fixed order, the order of the decode kernel gemvRows (matmul.ts):
//
//   lanes:   s0 ← columns c ≡ 0..3 (mod 16), s1 ← 4..7, s2 ← 8..11, s3 ← 12..15,
//            each lane a running f32 sum in column order, for c < c16 = k & ~15;
//   then     s0 ← the 4-column groups c16 ≤ c < k & ~3;
//   then     d = hsum((s0 + s1) + (s2 + s3)), then d += the last k mod 4 products one by one.
//
// Each lane step is s ← fmadd(s, w, x) (simd.ts): fused, one rounding, in the relaxed-SIMD build
// on a CPU with FMA; a multiply then an add in the plain build. Both kernels use the same helper,
// so within a build the sums are the same bits.
//
// gemvRows streams one weight row at a time with its four accumulators, which is what a decode
// step needs (the weights come from DRAM and the prefetcher follows one stream). For many rows
// that form would load every weight once per row; the tile below reuses each loaded weight
// vector across 2 rows of x and each x vector across 4 weight rows, like a gemm register tile,
// yet computes exactly the same sums: it runs the four lanes s0…s3 as four passes over the
// columns (pass q reads columns 16c + 4q … 16c + 4q + 3), so one accumulator per output is
// enough and a 2 × 4 tile of outputs keeps 8 accumulators in registers. The passes of a tile
// park their accumulators in 512 bytes of scratch between blocks of KB columns, so the tile's
// 6 rows of operands stay in L1 across the four passes; continuing a sum from scratch does not
// change its order. The last pass reduces straight from its registers. Threads split the
// outputs, never a sum (jobs.ts). Measured beside the packed gemm on prefill shapes (128 rows,
// one thread): 1.03–1.08× its time (storing the last lane too: 1.07–1.18×).
import { gemvRows } from "./matmul";
import { fmadd } from "./simd";

/** Columns per block: a 2 × 4 tile's operands (6 rows of 2 KB) stay in L1 across the 4 passes. */
const KB: i32 = 512;
/** Bytes of scratch the tile needs: 4 lanes × 8 outputs × one f32x4. */
export const LINEAR_SCRATCH: i32 = 4 * 8 * 16;

/**
 * out[r, j] = Σ_c w[j, c]·x[r, c] for every row r < rows and outputs j0 ≤ j < j1; x [rows, k],
 * w [n, k], out [rows, n]. `scratch` holds LINEAR_SCRATCH bytes owned by the calling thread.
 */
export function linearRows(out: usize, x: usize, w: usize, rows: i32, k: i32, n: i32, j0: i32, j1: i32, scratch: usize): void {
  const ld = <usize>k * 4, ldo = <usize>n * 4;
  let j = j0;
  for (; j + 3 < j1; j += 4) {
    const w0 = w + <usize>j * ld;
    let i = 0;
    for (; i + 1 < rows; i += 2) tile2x4(out + <usize>i * ldo + (<usize>j << 2), ldo, x + <usize>i * ld, w0, k, scratch);
    // an odd last row: the decode kernel gives the same sums
    if (i < rows) gemvRows(out + <usize>i * ldo, w, x + <usize>i * ld, k, j, j + 4, false);
  }
  if (j < j1) for (let i = 0; i < rows; i++) gemvRows(out + <usize>i * ldo, w, x + <usize>i * ld, k, j, j1, false);
}

/** Outputs j0 ≤ j < j1 of linearRows for every row: one row as the decode kernel, more as tiles (the same sums). */
@inline export function linearOutputs(out: usize, x: usize, w: usize, rows: i32, k: i32, n: i32, j0: i32, j1: i32, scratch: usize): void {
  if (rows == 1) gemvRows(out, w, x, k, j0, j1, false);
  else linearRows(out, x, w, rows, k, n, j0, j1, scratch);
}

// Outputs (2 rows of x) × (4 rows of w, from w0) into o (row stride ldo bytes). Inlined into
// linearRows with its blocks' four passes written out (lanePass with a constant lane), and the
// first block apart from the rest so its passes start from zeros without a test: on the embedded
// model's k = 128 a pass is only 8 steps of the inner loop, and the pass loop, its lane tests and
// the call per tile had cost ~10 % of the time (bench/linear-rows.mjs, README "linear kernel").
@inline function tile2x4(o: usize, ldo: usize, xa: usize, w0: usize, k: i32, scratch: usize): void {
  const c16 = k & ~15;
  lanePasses(0, min(c16, KB), o, ldo, xa, w0, k, scratch);
  for (let kb = KB; kb < c16; kb += KB) lanePasses(kb, min(c16, kb + KB), o, ldo, xa, w0, k, scratch);
}

/** The tile's four lane passes over the block of columns [kb, kEnd). */
@inline function lanePasses(kb: i32, kEnd: i32, o: usize, ldo: usize, xa: usize, w0: usize, k: i32, scratch: usize): void {
  lanePass(0, kb, kEnd, o, ldo, xa, w0, k, scratch);
  lanePass(1, kb, kEnd, o, ldo, xa, w0, k, scratch);
  lanePass(2, kb, kEnd, o, ldo, xa, w0, k, scratch);
  lanePass(3, kb, kEnd, o, ldo, xa, w0, k, scratch);
}

/**
 * Lane q (a constant once inlined) of the tile's 8 outputs over the block [kb, kEnd): continued
 * from scratch past the first block, parked in scratch (at q·128 bytes: x row a with w rows 0..3,
 * then x row b) unless it is the last pass of the last block, which reduces the outputs.
 */
@inline function lanePass(q: i32, kb: i32, kEnd: i32, o: usize, ldo: usize, xa: usize, w0: usize, k: i32, scratch: usize): void {
  const ld = <usize>k * 4;
  const xb = xa + ld, w1 = w0 + ld, w2 = w1 + ld, w3 = w2 + ld;
  const c16 = k & ~15, c4 = k & ~3;
  const s = scratch + (<usize>q << 7);
  let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
  let b0 = f32x4.splat(0), b1 = f32x4.splat(0), b2 = f32x4.splat(0), b3 = f32x4.splat(0);
  if (kb > 0) {
    a0 = v128.load(s); a1 = v128.load(s, 16); a2 = v128.load(s, 32); a3 = v128.load(s, 48);
    b0 = v128.load(s, 64); b1 = v128.load(s, 80); b2 = v128.load(s, 96); b3 = v128.load(s, 112);
  }
  for (let c = kb + (q << 2); c < kEnd; c += 16) {
    const off = <usize>c << 2;
    const pa = v128.load(xa + off), pb = v128.load(xb + off);
    let v = v128.load(w0 + off); a0 = fmadd(a0, v, pa); b0 = fmadd(b0, v, pb);
    v = v128.load(w1 + off); a1 = fmadd(a1, v, pa); b1 = fmadd(b1, v, pb);
    v = v128.load(w2 + off); a2 = fmadd(a2, v, pa); b2 = fmadd(b2, v, pb);
    v = v128.load(w3 + off); a3 = fmadd(a3, v, pa); b3 = fmadd(b3, v, pb);
  }
  if (q == 0 && kEnd == c16) {
    // gemvRows' 4-column groups past the last 16, into s0
    for (let c = c16; c < c4; c += 4) {
      const off = <usize>c << 2;
      const pa = v128.load(xa + off), pb = v128.load(xb + off);
      let v = v128.load(w0 + off); a0 = fmadd(a0, v, pa); b0 = fmadd(b0, v, pb);
      v = v128.load(w1 + off); a1 = fmadd(a1, v, pa); b1 = fmadd(b1, v, pb);
      v = v128.load(w2 + off); a2 = fmadd(a2, v, pa); b2 = fmadd(b2, v, pb);
      v = v128.load(w3 + off); a3 = fmadd(a3, v, pa); b3 = fmadd(b3, v, pb);
    }
  }
  if (q == 3 && kEnd == c16) {
    // the last pass: lane s3 is complete in registers, s0…s2 wait in scratch
    finish4(o, scratch, a0, a1, a2, a3, xa, w0, ld, c4, k);
    finish4(o + ldo, scratch + 64, b0, b1, b2, b3, xb, w0, ld, c4, k);
  } else {
    v128.store(s, a0); v128.store(s, a1, 16); v128.store(s, a2, 32); v128.store(s, a3, 48);
    v128.store(s, b0, 64); v128.store(s, b1, 80); v128.store(s, b2, 96); v128.store(s, b3, 112);
  }
}

// Four outputs of one row of x (w rows w0 … w0 + 3·ld) from their four lanes, with gemvRows'
// reduction: d = hsum((s0 + s1) + (s2 + s3)) (s0…s2 of output i at lane + 16·i, + 128 and + 256
// bytes of scratch), then the last k mod 4 products one by one. The four hsums run side by side
// (reduce4), one f32x4 store for the four outputs.
@inline function finish4(dst: usize, lane: usize, s3a: v128, s3b: v128, s3c: v128, s3d: v128, xr: usize, w0: usize, ld: usize, c4: i32, k: i32): void {
  v128.store(dst, reduce4(lanes(lane, s3a), lanes(lane + 16, s3b), lanes(lane + 32, s3c), lanes(lane + 48, s3d)));
  if (c4 == k) return;
  for (let i = 0; i < 4; i++) {
    const o = dst + (<usize>i << 2), wr = w0 + <usize>i * ld;
    let d = load<f32>(o);
    for (let c = c4; c < k; c++) d += load<f32>(wr + (<usize>c << 2)) * load<f32>(xr + (<usize>c << 2));
    store<f32>(o, d);
  }
}

/** (s0 + s1) + (s2 + s3) of one output: s0…s2 at lane, lane + 128, lane + 256 bytes, s3 given. */
@inline function lanes(lane: usize, s3: v128): v128 {
  return f32x4.add(f32x4.add(v128.load(lane), v128.load(lane, 128)), f32x4.add(v128.load(lane, 256), s3));
}

/**
 * [hsum(a), hsum(b), hsum(c), hsum(d)] with hsum's own additions (simd.ts: (v0 + v2) + (v1 + v3)),
 * so each lane is the same bits as hsum of its vector: the pairs v0 + v2 and v1 + v3 of a and b,
 * then of c and d, in one add each, then each vector's two pair sums in one add.
 */
@inline function reduce4(a: v128, b: v128, c: v128, d: v128): v128 {
  const ab = f32x4.add(v128.shuffle<f32>(a, b, 0, 1, 4, 5), v128.shuffle<f32>(a, b, 2, 3, 6, 7)); // a0+a2, a1+a3, b0+b2, b1+b3
  const cd = f32x4.add(v128.shuffle<f32>(c, d, 0, 1, 4, 5), v128.shuffle<f32>(c, d, 2, 3, 6, 7));
  return f32x4.add(v128.shuffle<f32>(ab, cd, 0, 2, 4, 6), v128.shuffle<f32>(ab, cd, 1, 3, 5, 7));
}
