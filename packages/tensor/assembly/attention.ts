// Causal scaled dot-product attention with grouped-query heads:
//   scores[t] = q·k_t / √headDim for keys t ≤ last,   p = softmax(scores),   out = Σ_t p_t · v_t
// q [seqQ, nHeads, headDim]; k, v rows are kvStride floats apart, head g at g·headDim;
// out [seqQ, nHeads, headDim]; probs (optional) [nHeads, seqQ, seqKv].
//
// Work is cut by (query, head) units u = i·nHeads + h, and the heads of one query are done
// together, walking the key and value rows once in address order (all heads of row t, then row
// t + 1). Head by head would stride through the cache nHeads times, one headDim-wide slice per
// 4·kvStride bytes; in a decode step the cache comes from DRAM, where the sequential walk lets
// the hardware prefetcher run ahead (the same effect as in gemvRows).
import { exp4, exp1, hsum, madd } from "./simd";
import { dot } from "./matmul";

// y += p·x over len floats
@inline function axpy(y: usize, x: usize, p: f32, len: i32): void {
  const pv = f32x4.splat(p);
  const l4 = len & ~3;
  let d = 0;
  for (; d < l4; d += 4) {
    const off = <usize>d << 2;
    v128.store(y + off, madd(v128.load(y + off), pv, v128.load(x + off)));
  }
  for (; d < len; d++) {
    const off = <usize>d << 2;
    store<f32>(y + off, load<f32>(y + off) + p * load<f32>(x + off));
  }
}

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
  for (let t = 0; t < n; t++) {
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

  memory.fill(oRow + <usize>h0 * headBytes, 0, <usize>(h1 - h0) * headBytes);
  for (let t = 0; t < n; t++) {
    const vRow = v + <usize>t * rowBytes;
    let kvHead = vRow + <usize>g0 * headBytes, inGroup = inGroup0;
    for (let h = h0; h < h1; h++) {
      const p = load<f32>(scores0 + <usize>(h - h0) * scoresStride + (<usize>t << 2));
      axpy(oRow + <usize>h * headBytes, kvHead, p, headDim);
      if (++inGroup == group) { inGroup = 0; kvHead += headBytes; }
    }
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
