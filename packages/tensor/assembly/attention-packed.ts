// Causal grouped-query attention over a packed KV cache (reference:
// src/quant/attention-reference.ts): attention.ts's walk, all heads of one query together over
// the key and value rows in address order, with each head's slice of a cached row read straight
// from its packed form (src/quant/kv.ts draws the layouts):
//   q·k   Σ over the slice's blocks of d·Σ q·code (+ m·Σ q for q4_1), codes widened to f32
//   p·v   out += (p·d)·code (+ p·m), block by block
// A head slice that starts on a block boundary and covers whole blocks (headDim a multiple of
// 32) is read block by block; when heads share blocks (stories15M: 6 heads of 48), each cached
// row is decoded once, whole, into float32 scratch and every head reads its slice from there.
// With whole-block heads, a q8_0 / q4_0 / q4_1 key cache is scored as llama.cpp scores it: the
// query head is quantized to Q8_0 codes once per query (quant-activation.ts) and each cached
// head slice is a weight row for quant-dot.ts's integer block dot product.
import { F16, Q4_0, Q4_1, Q8_0 } from "./quant-types";
import { halfToFloat4, rowDot32 } from "./quant-dot";
import { activationRowBytes, quantizeActivations } from "./quant-activation";
import { softmaxRow } from "./attention";
import { dot } from "./matmul";
import { hsum, madd } from "./simd";

const F32 = 0;

@inline function blockBytesOf(type: i32): usize {
  return type == Q8_0 ? 34 : type == Q4_0 ? 18 : 20;
}

@inline function halfAt(p: usize): f32 {
  return f32x4.extract_lane(halfToFloat4(i32x4.splat(<i32>load<i16>(p))), 0);
}

/** Value e of the packed row at `row`: ggml's dequantization, one value. */
function valueAt(type: i32, row: usize, e: i32): f32 {
  if (type == F32) return load<f32>(row + (<usize>e << 2));
  if (type == F16) return halfAt(row + (<usize>e << 1));
  const block = row + <usize>(e >> 5) * blockBytesOf(type), j = e & 31;
  const d = halfAt(block);
  if (type == Q8_0) return <f32>load<i8>(block + 2 + j) * d;
  const qs = block + (type == Q4_1 ? 4 : 2);
  const byte = <i32>load<u8>(qs + (j & 15));
  const code = j < 16 ? byte & 15 : byte >> 4;
  return type == Q4_0 ? <f32>(code - 8) * d : <f32>code * d + halfAt(block + 2);
}

/** 16 signed bytes at p as four f32x4 (values 0…3, 4…7, 8…11, 12…15 of the 16). */
@inline function bytesToFloat(c: v128, part: i32): v128 {
  const half = part < 2 ? i16x8.extend_low_i8x16_s(c) : i16x8.extend_high_i8x16_s(c);
  return f32x4.convert_i32x4_s((part & 1) == 0 ? i32x4.extend_low_i16x8_s(half) : i32x4.extend_high_i16x8_s(half));
}

/**
 * The 32 codes of a q8_0 / q4_0 / q4_1 block as two i8x16 (values 0…15 and 16…31): q8_0's
 * bytes, or the nibbles (q4_0 shifted by −8 into −8…7).
 */
@inline function blockCodes(type: i32, block: usize, second: bool): v128 {
  if (type == Q8_0) return v128.load(block + 2 + (second ? 16 : 0));
  const v = v128.load(block + (type == Q4_1 ? 4 : 2));
  const codes = second ? v128.and(i16x8.shr_u(v, 4), i8x16.splat(0x0f)) : v128.and(v, i8x16.splat(0x0f));
  return type == Q4_0 ? i8x16.sub(codes, i8x16.splat(8)) : codes;
}

/** Σ_d q[d]·v[start + d] for d < count, v the packed row at `row`. */
@inline function packedDot(type: i32, q: usize, row: usize, start: i32, count: i32): f32 {
  if (type == F32) return dot(q, row + (<usize>start << 2), count);
  if (type == F16) {
    const c8 = count & ~7;
    let s0 = f32x4.splat(0), s1 = f32x4.splat(0);
    let d = 0;
    for (; d < c8; d += 8) {
      const h = v128.load(row + (<usize>(start + d) << 1));
      s0 = madd(s0, halfToFloat4(i32x4.extend_low_i16x8_s(h)), v128.load(q + (<usize>d << 2)));
      s1 = madd(s1, halfToFloat4(i32x4.extend_high_i16x8_s(h)), v128.load(q + (<usize>d << 2), 16));
    }
    let sum = hsum(f32x4.add(s0, s1));
    for (; d < count; d++) sum += load<f32>(q + (<usize>d << 2)) * valueAt(type, row, start + d);
    return sum;
  }
  if ((start & 31) != 0 || (count & 31) != 0) {
    let sum: f32 = 0;
    for (let d = 0; d < count; d++) sum += load<f32>(q + (<usize>d << 2)) * valueAt(type, row, start + d);
    return sum;
  }
  const bb = blockBytesOf(type);
  let acc = f32x4.splat(0), offsets = f32x4.splat(0);
  for (let b = 0; b < count >> 5; b++) {
    const block = row + <usize>((start >> 5) + b) * bb, qb = q + (<usize>b << 7);
    let s = f32x4.splat(0), qsum = f32x4.splat(0);
    for (let half = 0; half < 2; half++) {
      const codes = blockCodes(type, block, half == 1);
      for (let part = 0; part < 4; part++) {
        const qv = v128.load(qb + <usize>(half * 64 + part * 16));
        s = madd(s, qv, bytesToFloat(codes, part));
        if (type == Q4_1) qsum = f32x4.add(qsum, qv);
      }
    }
    acc = madd(acc, s, f32x4.splat(halfAt(block)));
    if (type == Q4_1) offsets = madd(offsets, qsum, f32x4.splat(halfAt(block + 2)));
  }
  return hsum(f32x4.add(acc, offsets));
}

/** out[d] += p·v[start + d] for d < count, v the packed row at `row`. */
@inline function packedAxpy(type: i32, out: usize, row: usize, start: i32, count: i32, p: f32): void {
  if (type == F32 || type == F16 || (start & 31) != 0 || (count & 31) != 0) {
    const pv = f32x4.splat(p);
    let d = 0;
    if (type == F32 || type == F16) {
      for (; d + 4 <= count; d += 4) {
        const o = out + (<usize>d << 2);
        const values = type == F32
          ? v128.load(row + (<usize>(start + d) << 2))
          : halfToFloat4(i32x4.extend_low_i16x8_s(v128.load64_zero(row + (<usize>(start + d) << 1))));
        v128.store(o, madd(v128.load(o), pv, values));
      }
    }
    for (; d < count; d++) {
      const o = out + (<usize>d << 2);
      store<f32>(o, load<f32>(o) + p * valueAt(type, row, start + d));
    }
    return;
  }
  const bb = blockBytesOf(type);
  for (let b = 0; b < count >> 5; b++) {
    const block = row + <usize>((start >> 5) + b) * bb, ob = out + (<usize>b << 7);
    const pd = f32x4.splat(p * halfAt(block));
    const pm = f32x4.splat(type == Q4_1 ? p * halfAt(block + 2) : 0);
    for (let half = 0; half < 2; half++) {
      const codes = blockCodes(type, block, half == 1);
      for (let part = 0; part < 4; part++) {
        const o = ob + <usize>(half * 64 + part * 16);
        let y = madd(v128.load(o), pd, bytesToFloat(codes, part));
        if (type == Q4_1) y = f32x4.add(y, pm);
        v128.store(o, y);
      }
    }
  }
}

/** The nb blocks of a q8_0 / q4_0 / q4_1 row decoded to 32·nb floats at dst (ggml's values). */
@inline function decodeRow(type: i32, row: usize, nb: i32, dst: usize): void {
  const bb = blockBytesOf(type);
  for (let b = 0; b < nb; b++) {
    const block = row + <usize>b * bb, db = dst + (<usize>b << 7);
    const d = f32x4.splat(halfAt(block));
    const m = f32x4.splat(type == Q4_1 ? halfAt(block + 2) : 0);
    for (let half = 0; half < 2; half++) {
      const codes = blockCodes(type, block, half == 1);
      for (let part = 0; part < 4; part++) {
        let y = f32x4.mul(bytesToFloat(codes, part), d);
        if (type == Q4_1) y = f32x4.add(y, m);
        v128.store(db + <usize>(half * 64 + part * 16), y);
      }
    }
  }
}

// Scores and values for block-typed rows whose heads share blocks: row t decoded once into
// `rowScratch`, then every head reads its float slice (attention.ts's dot and axpy).
@inline function scoresDecoded(
  kType: i32, qRow: usize, k: usize, kRowBytes: usize, rowBlocks: i32, n: i32, headDim: i32, group: i32,
  h0: i32, h1: i32, scores0: usize, scoresStride: usize, rowScratch: usize,
): void {
  const scale = <f32>(1 / Math.sqrt(<f64>headDim));
  const headBytes = <usize>headDim * 4;
  const g0 = h0 / group, inGroup0 = h0 % group;
  for (let t = 0; t < n; t++) {
    decodeRow(kType, k + <usize>t * kRowBytes, rowBlocks, rowScratch);
    let kvHead = rowScratch + <usize>g0 * headBytes, inGroup = inGroup0;
    for (let h = h0; h < h1; h++) {
      store<f32>(scores0 + <usize>(h - h0) * scoresStride + (<usize>t << 2), dot(qRow + <usize>h * headBytes, kvHead, headDim) * scale);
      if (++inGroup == group) { inGroup = 0; kvHead += headBytes; }
    }
  }
}
@inline function valuesDecoded(
  vType: i32, oRow: usize, v: usize, vRowBytes: usize, rowBlocks: i32, n: i32, headDim: i32, group: i32,
  h0: i32, h1: i32, scores0: usize, scoresStride: usize, rowScratch: usize,
): void {
  const headBytes = <usize>headDim * 4;
  const g0 = h0 / group, inGroup0 = h0 % group;
  for (let t = 0; t < n; t++) {
    decodeRow(vType, v + <usize>t * vRowBytes, rowBlocks, rowScratch);
    let kvHead = rowScratch + <usize>g0 * headBytes, inGroup = inGroup0;
    for (let h = h0; h < h1; h++) {
      packedAxpy(F32, oRow + <usize>h * headBytes, kvHead, 0, headDim, load<f32>(scores0 + <usize>(h - h0) * scoresStride + (<usize>t << 2)));
      if (++inGroup == group) { inGroup = 0; kvHead += headBytes; }
    }
  }
}

// Scores of heads h0 ≤ h < h1 of query i against positions 0 … n − 1, K rows of type kType
// (inlined once per type, so the type tests fold away in the loop).
@inline function scoresPacked(
  kType: i32, qRow: usize, k: usize, kRowBytes: usize, n: i32, headDim: i32, group: i32,
  h0: i32, h1: i32, scores0: usize, scoresStride: usize,
): void {
  const scale = <f32>(1 / Math.sqrt(<f64>headDim));
  const headBytes = <usize>headDim * 4;
  const g0 = h0 / group, inGroup0 = h0 % group;
  for (let t = 0; t < n; t++) {
    const kRow = k + <usize>t * kRowBytes;
    let g = g0, inGroup = inGroup0;
    for (let h = h0; h < h1; h++) {
      const s = packedDot(kType, qRow + <usize>h * headBytes, kRow, g * headDim, headDim) * scale;
      store<f32>(scores0 + <usize>(h - h0) * scoresStride + (<usize>t << 2), s);
      if (++inGroup == group) { inGroup = 0; g++; }
    }
  }
}

/**
 * out[d] += Σ_{j<4} p_j·v_j[start + d] for four packed rows at row, row + rowBytes, … of a block
 * type with whole-block slices: the output is loaded and stored once for four positions.
 */
@inline function packedAxpy4(type: i32, out: usize, row: usize, rowBytes: usize, start: i32, count: i32, scores: usize): void {
  const bb = blockBytesOf(type);
  const p0 = load<f32>(scores), p1 = load<f32>(scores, 4), p2 = load<f32>(scores, 8), p3 = load<f32>(scores, 12);
  for (let b = 0; b < count >> 5; b++) {
    const block0 = row + <usize>((start >> 5) + b) * bb, ob = out + (<usize>b << 7);
    const block1 = block0 + rowBytes, block2 = block1 + rowBytes, block3 = block2 + rowBytes;
    const d0 = f32x4.splat(p0 * halfAt(block0)), d1 = f32x4.splat(p1 * halfAt(block1));
    const d2 = f32x4.splat(p2 * halfAt(block2)), d3 = f32x4.splat(p3 * halfAt(block3));
    let m = f32x4.splat(0);
    if (type == Q4_1) m = f32x4.splat(p0 * halfAt(block0 + 2) + p1 * halfAt(block1 + 2) + p2 * halfAt(block2 + 2) + p3 * halfAt(block3 + 2));
    for (let half = 0; half < 2; half++) {
      const c0 = blockCodes(type, block0, half == 1), c1 = blockCodes(type, block1, half == 1);
      const c2 = blockCodes(type, block2, half == 1), c3 = blockCodes(type, block3, half == 1);
      for (let part = 0; part < 4; part++) {
        const o = ob + <usize>(half * 64 + part * 16);
        let y = madd(v128.load(o), d0, bytesToFloat(c0, part));
        y = madd(y, d1, bytesToFloat(c1, part));
        y = madd(y, d2, bytesToFloat(c2, part));
        y = madd(y, d3, bytesToFloat(c3, part));
        if (type == Q4_1) y = f32x4.add(y, m);
        v128.store(o, y);
      }
    }
  }
}

// out rows of heads h0 ≤ h < h1 += Σ_t p_t · v_t, V rows of type vType (four positions at a time
// for block types with whole-block heads).
@inline function valuesPacked(
  vType: i32, oRow: usize, v: usize, vRowBytes: usize, n: i32, headDim: i32, group: i32,
  h0: i32, h1: i32, scores0: usize, scoresStride: usize,
): void {
  const headBytes = <usize>headDim * 4;
  const g0 = h0 / group, inGroup0 = h0 % group;
  let t = 0;
  if (vType != F32 && vType != F16 && (headDim & 31) == 0) {
    for (; t + 4 <= n; t += 4) {
      const vRow = v + <usize>t * vRowBytes;
      let g = g0, inGroup = inGroup0;
      for (let h = h0; h < h1; h++) {
        packedAxpy4(vType, oRow + <usize>h * headBytes, vRow, vRowBytes, g * headDim, headDim, scores0 + <usize>(h - h0) * scoresStride + (<usize>t << 2));
        if (++inGroup == group) { inGroup = 0; g++; }
      }
    }
  }
  for (; t < n; t++) {
    const vRow = v + <usize>t * vRowBytes;
    let g = g0, inGroup = inGroup0;
    for (let h = h0; h < h1; h++) {
      const p = load<f32>(scores0 + <usize>(h - h0) * scoresStride + (<usize>t << 2));
      packedAxpy(vType, oRow + <usize>h * headBytes, vRow, g * headDim, headDim, p);
      if (++inGroup == group) { inGroup = 0; g++; }
    }
  }
}

// The same scores from the query heads quantized at `act` (one activation row per head, actBytes
// apart) and K rows of q8_0 / q4_0 / q4_1 with whole-block heads: integer block dot products.
@inline function scoresQuantized(
  kType: i32, act: usize, actBytes: usize, k: usize, kRowBytes: usize, n: i32, headDim: i32, group: i32,
  h0: i32, h1: i32, scores0: usize, scoresStride: usize,
): void {
  const scale = <f32>(1 / Math.sqrt(<f64>headDim));
  const nb = headDim >> 5;
  const headRowBytes = <usize>nb * blockBytesOf(kType);
  const scalesAt = <usize>headDim << 1, sumsAt = scalesAt + (<usize>nb << 2);
  const g0 = h0 / group, inGroup0 = h0 % group;
  for (let t = 0; t < n; t++) {
    const kRow = k + <usize>t * kRowBytes;
    let g = g0, inGroup = inGroup0;
    for (let h = h0; h < h1; h++) {
      const a = act + <usize>(h - h0) * actBytes;
      const s = rowDot32(kType, kRow + <usize>g * headRowBytes, a, a + scalesAt, a + sumsAt, nb) * scale;
      store<f32>(scores0 + <usize>(h - h0) * scoresStride + (<usize>t << 2), s);
      if (++inGroup == group) { inGroup = 0; g++; }
    }
  }
}

@inline function nKvHeadsOf(group: i32, nHeads: i32): i32 {
  return nHeads / group;
}

// Heads h0 ≤ h < h1 of query i; scores as in attention.ts (probs' rows, or scratch).
function attendQueryPacked(
  out: usize, q: usize, k: usize, v: usize, probs: usize, kType: i32, vType: i32, kRowBytes: usize, vRowBytes: usize,
  seqQ: i32, seqKv: i32, nHeads: i32, group: i32, headDim: i32, i: i32, h0: i32, h1: i32, scratch: usize,
): void {
  const headBytes = <usize>headDim * 4;
  const last = seqKv - seqQ + i, n = last + 1;
  const qRow = q + <usize>i * nHeads * headBytes, oRow = out + <usize>i * nHeads * headBytes;
  const stride: usize = probs != 0 ? <usize>seqQ * seqKv * 4 : <usize>seqKv * 4;
  const scores0: usize = probs != 0 ? probs + (<usize>(h0 * seqQ + i) * seqKv << 2) : scratch;
  // scratch: the scores (unless they go to probs), a decoded row, the query heads' codes
  const rowBlocks = (nKvHeadsOf(group, nHeads) * headDim + 31) >> 5;
  const rowScratch = scratch + (probs != 0 ? 0 : <usize>(h1 - h0) * stride);
  if ((kType == Q8_0 || kType == Q4_0 || kType == Q4_1) && (headDim & 31) == 0) {
    // the query heads as activation rows (and headDim bytes of codes)
    const actBytes = <usize>activationRowBytes(kType, headDim);
    const act = rowScratch + (<usize>rowBlocks << 7);
    quantizeActivations(kType, qRow + <usize>h0 * headBytes, h1 - h0, headDim, act, act + <usize>(h1 - h0) * actBytes);
    if (kType == Q8_0) scoresQuantized(Q8_0, act, actBytes, k, kRowBytes, n, headDim, group, h0, h1, scores0, stride);
    else if (kType == Q4_0) scoresQuantized(Q4_0, act, actBytes, k, kRowBytes, n, headDim, group, h0, h1, scores0, stride);
    else scoresQuantized(Q4_1, act, actBytes, k, kRowBytes, n, headDim, group, h0, h1, scores0, stride);
  } else if (kType == Q8_0) scoresDecoded(Q8_0, qRow, k, kRowBytes, rowBlocks, n, headDim, group, h0, h1, scores0, stride, rowScratch);
  else if (kType == Q4_0) scoresDecoded(Q4_0, qRow, k, kRowBytes, rowBlocks, n, headDim, group, h0, h1, scores0, stride, rowScratch);
  else if (kType == Q4_1) scoresDecoded(Q4_1, qRow, k, kRowBytes, rowBlocks, n, headDim, group, h0, h1, scores0, stride, rowScratch);
  else if (kType == F16) scoresPacked(F16, qRow, k, kRowBytes, n, headDim, group, h0, h1, scores0, stride);
  else scoresPacked(F32, qRow, k, kRowBytes, n, headDim, group, h0, h1, scores0, stride);
  for (let h = h0; h < h1; h++) {
    const scores = scores0 + <usize>(h - h0) * stride;
    softmaxRow(scores, n);
    if (probs != 0 && n < seqKv) memory.fill(scores + (<usize>n << 2), 0, <usize>(seqKv - n) << 2);
  }
  memory.fill(oRow + <usize>h0 * headBytes, 0, <usize>(h1 - h0) * headBytes);
  const blockHeads = (headDim & 31) == 0;
  if (vType == Q8_0 && blockHeads) valuesPacked(Q8_0, oRow, v, vRowBytes, n, headDim, group, h0, h1, scores0, stride);
  else if (vType == Q4_0 && blockHeads) valuesPacked(Q4_0, oRow, v, vRowBytes, n, headDim, group, h0, h1, scores0, stride);
  else if (vType == Q4_1 && blockHeads) valuesPacked(Q4_1, oRow, v, vRowBytes, n, headDim, group, h0, h1, scores0, stride);
  else if (vType == Q8_0) valuesDecoded(Q8_0, oRow, v, vRowBytes, rowBlocks, n, headDim, group, h0, h1, scores0, stride, rowScratch);
  else if (vType == Q4_0) valuesDecoded(Q4_0, oRow, v, vRowBytes, rowBlocks, n, headDim, group, h0, h1, scores0, stride, rowScratch);
  else if (vType == Q4_1) valuesDecoded(Q4_1, oRow, v, vRowBytes, rowBlocks, n, headDim, group, h0, h1, scores0, stride, rowScratch);
  else if (vType == F16) valuesPacked(F16, oRow, v, vRowBytes, n, headDim, group, h0, h1, scores0, stride);
  else valuesPacked(F32, oRow, v, vRowBytes, n, headDim, group, h0, h1, scores0, stride);
}

/** Units u0 ≤ u < u1 of u = i·nHeads + h (attention.ts's split), over packed K and V rows. */
export function attentionPackedRows(
  out: usize, q: usize, k: usize, v: usize, probs: usize, kType: i32, vType: i32, kRowBytes: usize, vRowBytes: usize,
  seqQ: i32, seqKv: i32, nHeads: i32, nKvHeads: i32, headDim: i32, u0: i32, u1: i32, scratch: usize,
): void {
  const group = nHeads / nKvHeads;
  let u = u0;
  while (u < u1) {
    const i = u / nHeads, h0 = u % nHeads;
    const h1 = min(nHeads, h0 + (u1 - u));
    attendQueryPacked(out, q, k, v, probs, kType, vType, kRowBytes, vRowBytes, seqQ, seqKv, nHeads, group, headDim, i, h0, h1, scratch);
    u += h1 - h0;
  }
}
