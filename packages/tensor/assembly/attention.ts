// Causal scaled dot-product attention with grouped-query heads:
//   scores[t] = q·k_t / √headDim for keys t ≤ last,   p = softmax(scores),   out = Σ_t p_t · v_t
// q [seqQ, nHeads, headDim]; k, v rows are kvStride floats apart, head g at g·headDim;
// out [seqQ, nHeads, headDim]; probs (optional) [nHeads, seqQ, seqKv].
//
// Work is cut by (query, head) units u = i·nHeads + h, and the heads of one query are done
// together, walking the key and value rows once in address order (all heads of row t, then row
// t + 1). Head by head would stride through the cache nHeads times, one headDim-wide slice per
// 4·kvStride bytes; in a decode step the cache comes from DRAM, where the sequential walk lets
// the hardware prefetcher run ahead (the same effect as in gemvRows). The scores of four keys are
// computed side by side and each head's weighted sum of values is held in registers across a
// block of 16 value rows; both give the same bits as the one-key-at-a-time form (dot, then one
// axpy per value row), whatever the query's position, so prefill and decode still agree exactly.
// Two heads of one group (grouped-query: they read the same key and value rows) take their
// scores and their weighted sums together, each key and value vector loaded once for both
// (dots4Pair, weightedValuesPair: together ~15 % of a decode row's attention on the embedded
// model's 4/2 heads of 32, bench/decode-pieces.mjs); the sums and their order are unchanged.
import { exp4, exp1, hsum, madd } from "./simd";
import { dot } from "./matmul";

// scores[0..n) = softmax(scores[0..n)) in place: max subtracted, exp, divided by the sum
export function softmaxRow(scores: usize, n: i32): void {
  let mx: f32 = -Infinity;
  for (let t = 0; t < n; t++) mx = max(mx, load<f32>(scores + (<usize>t << 2)));
  const n4 = n & ~3;
  const mv = f32x4.splat(mx);
  let sv = f32x4.splat(0);
  let t = 0;
  for (; t < n4; t += 4) {
    const e = exp4(f32x4.sub(v128.load(scores + (<usize>t << 2)), mv));
    v128.store(scores + (<usize>t << 2), e);
    sv = f32x4.add(sv, e);
  }
  let sum = hsum(sv);
  for (; t < n; t++) {
    const e = exp1(load<f32>(scores + (<usize>t << 2)) - mx);
    store<f32>(scores + (<usize>t << 2), e);
    sum += e;
  }
  const inv: f32 = <f32>1 / sum;
  const iv = f32x4.splat(inv);
  for (t = 0; t < n4; t += 4) v128.store(scores + (<usize>t << 2), f32x4.mul(v128.load(scores + (<usize>t << 2)), iv));
  for (; t < n; t++) store<f32>(scores + (<usize>t << 2), load<f32>(scores + (<usize>t << 2)) * inv);
}

// Heads h0 ≤ h < h1 of query i. Scores of head h live in probs' row when given, else in scratch
// at (h − h0)·seqKv floats.
function attendQuery(
  out: usize, q: usize, k: usize, v: usize, probs: usize,
  seqQ: i32, seqKv: i32, nHeads: i32, group: i32, headDim: i32, kvStride: i32,
  i: i32, h0: i32, h1: i32, scratch: usize,
): void {
  const scale = <f32>(1 / Math.sqrt(<f64>headDim));
  const headBytes = <usize>headDim * 4, rowBytes = <usize>kvStride * 4;
  const last = seqKv - seqQ + i; // causal: query i sees keys 0..last
  const n = last + 1;
  const qRow = q + <usize>i * nHeads * headBytes;
  const oRow = out + <usize>i * nHeads * headBytes;
  const scoresStride: usize = probs != 0 ? <usize>seqQ * seqKv * 4 : <usize>seqKv * 4;
  const scores0: usize = probs != 0 ? probs + (<usize>(h0 * seqQ + i) * seqKv << 2) : scratch;

  // head h reads kv head h / group; stepped alongside h rather than divided per key row
  const g0 = h0 / group, inGroup0 = h0 % group;
  // four keys at a time (the same sums as dot's, see dots4) while headDim is a multiple of 8
  const t4 = (headDim & 7) == 0 ? n & ~3 : 0;
  for (let t = 0; t < t4; t += 4) {
    const kRow = k + <usize>t * rowBytes;
    let kvHead = kRow + <usize>g0 * headBytes, inGroup = inGroup0;
    for (let h = h0; h < h1; h++) {
      const at = scores0 + <usize>(h - h0) * scoresStride + (<usize>t << 2);
      if (inGroup + 1 < group && h + 1 < h1) {
        // heads h and h + 1 read the same kv head: its four key rows loaded once for both
        dots4Pair(qRow + <usize>h * headBytes, kvHead, rowBytes, headDim, f32x4.splat(scale), at, at + scoresStride);
        h++;
        inGroup++;
      } else {
        v128.store(at, f32x4.mul(dots4(qRow + <usize>h * headBytes, kvHead, rowBytes, headDim), f32x4.splat(scale)));
      }
      if (++inGroup == group) { inGroup = 0; kvHead += headBytes; }
    }
  }
  for (let t = t4; t < n; t++) {
    const kRow = k + <usize>t * rowBytes;
    let kvHead = kRow + <usize>g0 * headBytes, inGroup = inGroup0;
    for (let h = h0; h < h1; h++) {
      const s = dot(qRow + <usize>h * headBytes, kvHead, headDim) * scale;
      store<f32>(scores0 + <usize>(h - h0) * scoresStride + (<usize>t << 2), s);
      if (++inGroup == group) { inGroup = 0; kvHead += headBytes; }
    }
  }
  for (let h = h0; h < h1; h++) {
    const scores = scores0 + <usize>(h - h0) * scoresStride;
    softmaxRow(scores, n);
    if (probs != 0 && n < seqKv) memory.fill(scores + (<usize>n << 2), 0, <usize>(seqKv - n) << 2);
  }

  // out_h = Σ_t p_t·v_t, summed in t order: blocks of V_BLOCK value rows (still one walk through
  // the cache in address order), each head's output held in registers across a block
  memory.fill(oRow + <usize>h0 * headBytes, 0, <usize>(h1 - h0) * headBytes);
  for (let t0 = 0; t0 < n; t0 += V_BLOCK) {
    const t1 = min(n, t0 + V_BLOCK);
    let kvHead = v + <usize>g0 * headBytes, inGroup = inGroup0;
    for (let h = h0; h < h1; h++) {
      const scores = scores0 + <usize>(h - h0) * scoresStride;
      if (inGroup + 1 < group && h + 1 < h1) {
        // heads h and h + 1 read the same kv head: one walk through its value rows for both
        weightedValuesPair(oRow + <usize>h * headBytes, scores, scores + scoresStride, kvHead, rowBytes, t0, t1, headDim);
        h++;
        inGroup++;
      } else {
        weightedValues(oRow + <usize>h * headBytes, kvHead, rowBytes, scores, t0, t1, headDim);
      }
      if (++inGroup == group) { inGroup = 0; kvHead += headBytes; }
    }
  }
}

/**
 * weightedValues for two heads that share their value rows, side by side in memory (y and y +
 * headDim floats, scores pa and pb): 16 floats of both at a time, each value vector loaded once
 * for the two; every element's terms still added in t order, so the bits are two
 * weightedValues calls'. The rest of headDim (below 16) goes head by head.
 */
function weightedValuesPair(y: usize, pa: usize, pb: usize, v: usize, stride: usize, t0: i32, t1: i32, headDim: i32): void {
  const yb = y + (<usize>headDim << 2);
  let d = 0;
  for (; d + 16 <= headDim; d += 16) {
    const ya = y + (<usize>d << 2), yd = yb + (<usize>d << 2);
    let a0 = v128.load(ya), a1 = v128.load(ya, 16), a2 = v128.load(ya, 32), a3 = v128.load(ya, 48);
    let b0 = v128.load(yd), b1 = v128.load(yd, 16), b2 = v128.load(yd, 32), b3 = v128.load(yd, 48);
    let row = v + <usize>t0 * stride + (<usize>d << 2);
    for (let t = t0; t < t1; t++) {
      const p = f32x4.splat(load<f32>(pa + (<usize>t << 2))), q = f32x4.splat(load<f32>(pb + (<usize>t << 2)));
      const v0 = v128.load(row), v1 = v128.load(row, 16), v2 = v128.load(row, 32), v3 = v128.load(row, 48);
      a0 = madd(a0, p, v0); a1 = madd(a1, p, v1); a2 = madd(a2, p, v2); a3 = madd(a3, p, v3);
      b0 = madd(b0, q, v0); b1 = madd(b1, q, v1); b2 = madd(b2, q, v2); b3 = madd(b3, q, v3);
      row += stride;
    }
    v128.store(ya, a0); v128.store(ya, a1, 16); v128.store(ya, a2, 32); v128.store(ya, a3, 48);
    v128.store(yd, b0); v128.store(yd, b1, 16); v128.store(yd, b2, 32); v128.store(yd, b3, 48);
  }
  if (d < headDim) {
    const off = <usize>d << 2;
    weightedValues(y + off, v + off, stride, pa, t0, t1, headDim - d);
    weightedValues(yb + off, v + off, stride, pb, t0, t1, headDim - d);
  }
}

/** Value rows per block of attendQuery's weighted sum (16 rows of a 64-float kvStride: 4 KB). */
const V_BLOCK: i32 = 16;

/**
 * The dot products of q (headDim floats) with four key rows (at k, k + stride, …), as one vector:
 * each summed as dot() sums it (two f32x4 lanes over 8-float steps, hsum of their sum), so a
 * score is the same bits computed here or one at a time. The four hsums run side by side: the
 * lanes (a0 + a2) + (a1 + a3) of each row's vector gathered by two rounds of shuffles.
 */
@inline function dots4(q: usize, k: usize, stride: usize, headDim: i32): v128 {
  const k1 = k + stride, k2 = k1 + stride, k3 = k2 + stride;
  let a0 = f32x4.splat(0), b0 = f32x4.splat(0), a1 = f32x4.splat(0), b1 = f32x4.splat(0);
  let a2 = f32x4.splat(0), b2 = f32x4.splat(0), a3 = f32x4.splat(0), b3 = f32x4.splat(0);
  for (let d = 0; d < headDim; d += 8) {
    const off = <usize>d << 2;
    const qa = v128.load(q + off), qb = v128.load(q + off, 16);
    a0 = madd(a0, qa, v128.load(k + off)); b0 = madd(b0, qb, v128.load(k + off, 16));
    a1 = madd(a1, qa, v128.load(k1 + off)); b1 = madd(b1, qb, v128.load(k1 + off, 16));
    a2 = madd(a2, qa, v128.load(k2 + off)); b2 = madd(b2, qb, v128.load(k2 + off, 16));
    a3 = madd(a3, qa, v128.load(k3 + off)); b3 = madd(b3, qb, v128.load(k3 + off, 16));
  }
  return sums4(f32x4.add(a0, b0), f32x4.add(a1, b1), f32x4.add(a2, b2), f32x4.add(a3, b3));
}

/** The lane sums (x0 + x2) + (x1 + x3) of four vectors, as one vector (hsum's order, side by side). */
@inline function sums4(s0: v128, s1: v128, s2: v128, s3: v128): v128 {
  // (x0 + x2, x1 + x3) of rows 0 and 1, then of rows 2 and 3; then each pair's two halves added
  const p01 = f32x4.add(v128.shuffle<f32>(s0, s1, 0, 1, 4, 5), v128.shuffle<f32>(s0, s1, 2, 3, 6, 7));
  const p23 = f32x4.add(v128.shuffle<f32>(s2, s3, 0, 1, 4, 5), v128.shuffle<f32>(s2, s3, 2, 3, 6, 7));
  return f32x4.add(v128.shuffle<f32>(p01, p23, 0, 2, 4, 6), v128.shuffle<f32>(p01, p23, 1, 3, 5, 7));
}

/**
 * dots4 of two query heads (at q and q + headDim floats) with the same four key rows, scaled and
 * stored at outA and outB: each row's vectors loaded once for both heads. dot's two sums (the
 * first and the last four floats of every 8-float step) are independent until they are added,
 * so they are taken in two passes of eight accumulators (two heads × four keys) each, not
 * sixteen at once (more than the engine's vector registers); the sums and their order are dots4's.
 */
@inline function dots4Pair(q: usize, k: usize, stride: usize, headDim: i32, scale: v128, outA: usize, outB: usize): void {
  const qb = q + (<usize>headDim << 2);
  const k1 = k + stride, k2 = k1 + stride, k3 = k2 + stride;
  let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
  let c0 = f32x4.splat(0), c1 = f32x4.splat(0), c2 = f32x4.splat(0), c3 = f32x4.splat(0);
  for (let d = 0; d < headDim; d += 8) {
    const off = <usize>d << 2;
    const x = v128.load(q + off), y = v128.load(qb + off);
    const v0 = v128.load(k + off), v1 = v128.load(k1 + off), v2 = v128.load(k2 + off), v3 = v128.load(k3 + off);
    a0 = madd(a0, x, v0); a1 = madd(a1, x, v1); a2 = madd(a2, x, v2); a3 = madd(a3, x, v3);
    c0 = madd(c0, y, v0); c1 = madd(c1, y, v1); c2 = madd(c2, y, v2); c3 = madd(c3, y, v3);
  }
  let b0 = f32x4.splat(0), b1 = f32x4.splat(0), b2 = f32x4.splat(0), b3 = f32x4.splat(0);
  let e0 = f32x4.splat(0), e1 = f32x4.splat(0), e2 = f32x4.splat(0), e3 = f32x4.splat(0);
  for (let d = 0; d < headDim; d += 8) {
    const off = (<usize>d << 2) + 16;
    const x = v128.load(q + off), y = v128.load(qb + off);
    const v0 = v128.load(k + off), v1 = v128.load(k1 + off), v2 = v128.load(k2 + off), v3 = v128.load(k3 + off);
    b0 = madd(b0, x, v0); b1 = madd(b1, x, v1); b2 = madd(b2, x, v2); b3 = madd(b3, x, v3);
    e0 = madd(e0, y, v0); e1 = madd(e1, y, v1); e2 = madd(e2, y, v2); e3 = madd(e3, y, v3);
  }
  v128.store(outA, f32x4.mul(sums4(f32x4.add(a0, b0), f32x4.add(a1, b1), f32x4.add(a2, b2), f32x4.add(a3, b3)), scale));
  v128.store(outB, f32x4.mul(sums4(f32x4.add(c0, e0), f32x4.add(c1, e1), f32x4.add(c2, e2), f32x4.add(c3, e3)), scale));
}

/**
 * y[0..headDim) += Σ_{t0 ≤ t < t1} p_t·v_t (v_t at v + t·stride, p_t at scores + 4t), each
 * element's terms added in t order, as one axpy per row would: 32 floats at a time in eight
 * registers, then 4, then single floats.
 */
function weightedValues(y: usize, v: usize, stride: usize, scores: usize, t0: i32, t1: i32, headDim: i32): void {
  let d = 0;
  for (; d + 32 <= headDim; d += 32) {
    const yd = y + (<usize>d << 2);
    let y0 = v128.load(yd), y1 = v128.load(yd, 16), y2 = v128.load(yd, 32), y3 = v128.load(yd, 48);
    let y4 = v128.load(yd, 64), y5 = v128.load(yd, 80), y6 = v128.load(yd, 96), y7 = v128.load(yd, 112);
    let row = v + <usize>t0 * stride + (<usize>d << 2);
    for (let t = t0; t < t1; t++) {
      const p = f32x4.splat(load<f32>(scores + (<usize>t << 2)));
      y0 = madd(y0, p, v128.load(row)); y1 = madd(y1, p, v128.load(row, 16));
      y2 = madd(y2, p, v128.load(row, 32)); y3 = madd(y3, p, v128.load(row, 48));
      y4 = madd(y4, p, v128.load(row, 64)); y5 = madd(y5, p, v128.load(row, 80));
      y6 = madd(y6, p, v128.load(row, 96)); y7 = madd(y7, p, v128.load(row, 112));
      row += stride;
    }
    v128.store(yd, y0); v128.store(yd, y1, 16); v128.store(yd, y2, 32); v128.store(yd, y3, 48);
    v128.store(yd, y4, 64); v128.store(yd, y5, 80); v128.store(yd, y6, 96); v128.store(yd, y7, 112);
  }
  for (; d + 4 <= headDim; d += 4) {
    const yd = y + (<usize>d << 2);
    let y0 = v128.load(yd);
    let row = v + <usize>t0 * stride + (<usize>d << 2);
    for (let t = t0; t < t1; t++) {
      y0 = madd(y0, f32x4.splat(load<f32>(scores + (<usize>t << 2))), v128.load(row));
      row += stride;
    }
    v128.store(yd, y0);
  }
  for (; d < headDim; d++) {
    const yd = y + (<usize>d << 2);
    let y0 = load<f32>(yd);
    let row = v + <usize>t0 * stride + (<usize>d << 2);
    for (let t = t0; t < t1; t++) {
      y0 += load<f32>(scores + (<usize>t << 2)) * load<f32>(row);
      row += stride;
    }
    store<f32>(yd, y0);
  }
}

/**
 * Units u0 ≤ u < u1 of u = i·nHeads + h. `scratch` holds nHeads·seqKv floats for the scores when
 * probs is 0; with probs the scores are built in their final place.
 */
export function attentionRows(
  out: usize, q: usize, k: usize, v: usize, probs: usize,
  seqQ: i32, seqKv: i32, nHeads: i32, nKvHeads: i32, headDim: i32, kvStride: i32,
  u0: i32, u1: i32, scratch: usize,
): void {
  const group = nHeads / nKvHeads;
  let u = u0;
  while (u < u1) {
    const i = u / nHeads, h0 = u % nHeads;
    const h1 = min(nHeads, h0 + (u1 - u));
    attendQuery(out, q, k, v, probs, seqQ, seqKv, nHeads, group, headDim, kvStride, i, h0, h1, scratch);
    u += h1 - h0;
  }
}

/**
 * Bytes per entry of attentionBatch's table:
 *   | row: i32 | keys: u32 address | values: u32 address | seqKv: i32 |
 */
export const BATCH_ENTRY_BYTES: i32 = 16;

/**
 * attentionBatch: entries e0 ≤ e < e1 of `table` (BATCH_ENTRY_BYTES each), each one row of a
 * batched decode step: one query token of its own sequence. The row's q and out are rows of
 * [rows, nHeads, headDim]; its keys and values are the first seqKv rows (kvStride floats apart)
 * at the entry's addresses, the query sitting at the last of them. Each runs the one-query
 * attention of attentionRows over all its heads, the path a single decode step's call takes on
 * one thread: the same bits, without a host call per row. (The host leaves out of the table the
 * rows long enough to split across threads, and runs those one by one.)
 */
export function attentionBatch(
  out: usize, q: usize, table: usize, nHeads: i32, nKvHeads: i32, headDim: i32, kvStride: i32,
  e0: i32, e1: i32, scratch: usize,
): void {
  const rowBytes = <usize>nHeads * headDim * 4;
  for (let e = e0; e < e1; e++) {
    const entry = table + <usize>e * BATCH_ENTRY_BYTES;
    const at = <usize>load<i32>(entry) * rowBytes;
    const k = <usize>load<u32>(entry, 4), v = <usize>load<u32>(entry, 8), seqKv = load<i32>(entry, 12);
    attentionRows(out + at, q + at, k, v, 0, 1, seqKv, nHeads, nKvHeads, headDim, kvStride, 0, nHeads, scratch);
  }
}
