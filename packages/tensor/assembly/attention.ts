// Causal scaled dot-product attention with grouped-query heads, one (head, query) row at a time:
//   scores[t] = q·k_t / √headDim for keys t ≤ last,   p = softmax(scores),   out = Σ_t p_t · v_t
// q [seqQ, nHeads, headDim]; k, v rows are kvStride floats apart, head g at g·headDim;
// out [seqQ, nHeads, headDim]; probs (optional) [nHeads, seqQ, seqKv].
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

/**
 * Rows u0 ≤ u < u1 of the flattened (head, query) index u = h·seqQ + i. `scratch` holds seqKv
 * floats for the scores when probs is 0; with probs the scores are built in their final place.
 */
export function attentionRows(
  out: usize, q: usize, k: usize, v: usize, probs: usize,
  seqQ: i32, seqKv: i32, nHeads: i32, nKvHeads: i32, headDim: i32, kvStride: i32,
  u0: i32, u1: i32, scratch: usize,
): void {
  const group = nHeads / nKvHeads;
  const scale = <f32>(1 / Math.sqrt(<f64>headDim));
  const headBytes = <usize>headDim * 4;
  for (let u = u0; u < u1; u++) {
    const h = u / seqQ, i = u % seqQ;
    const kvOff = <usize>(h / group) * headBytes;
    const qRow = q + <usize>(i * nHeads + h) * headBytes;
    const oRow = out + <usize>(i * nHeads + h) * headBytes;
    const last = seqKv - seqQ + i; // causal: query i sees keys 0..last
    const scores = probs != 0 ? probs + (<usize>(h * seqQ + i) * seqKv << 2) : scratch;

    let mx: f32 = -Infinity;
    for (let t = 0; t <= last; t++) {
      const s = dot(qRow, k + <usize>t * kvStride * 4 + kvOff, headDim) * scale;
      store<f32>(scores + (<usize>t << 2), s);
      mx = max(mx, s);
    }
    const n = last + 1, n4 = n & ~3;
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

    memory.fill(oRow, 0, headBytes);
    for (t = 0; t < n; t++) axpy(oRow, v + <usize>t * kvStride * 4 + kvOff, load<f32>(scores + (<usize>t << 2)), headDim);
    const inv: f32 = <f32>1 / sum;
    const iv = f32x4.splat(inv);
    let d = 0;
    for (; d + 4 <= headDim; d += 4) v128.store(oRow + (<usize>d << 2), f32x4.mul(v128.load(oRow + (<usize>d << 2)), iv));
    for (; d < headDim; d++) store<f32>(oRow + (<usize>d << 2), load<f32>(oRow + (<usize>d << 2)) * inv);

    if (probs != 0) {
      for (t = 0; t < n; t++) store<f32>(scores + (<usize>t << 2), load<f32>(scores + (<usize>t << 2)) * inv);
      if (n < seqKv) memory.fill(scores + (<usize>n << 2), 0, <usize>(seqKv - n) << 2);
    }
  }
}
