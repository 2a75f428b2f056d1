// Causal grouped-query attention over a packed KV cache (reference: src/quant/attention-reference.ts):
// attention.ts's walk, all heads of one query together over the key and value rows in address
// order, with each head's slice of a cached row read straight from its packed form
// (src/quant/kv.ts draws the layouts). How a q8_0 / q4_0 / q4_1 slice is read depends on where
// heads fall in the row's blocks of 32:
//   whole blocks (headDim a multiple of 32: 64, 128)   keys scored as llama.cpp scores them: the
//       query head quantized to Q8_0 codes per 32 (quant-activation.ts), each cached head slice a
//       weight row for quant-dot.ts's integer block dot product; values accumulated per half block
//   half blocks (headDim a multiple of 16: stories15M's 48)   kv-halves.ts: the query head
//       quantized to Q8 codes per 16, integer dot products per half block, each times its block's
//       scale; values accumulated per half block
//   anything else (8, 7, …)   each cached row decoded once, whole, into float32 scratch, every
//       head reading its float slice from there
// f32 and f16 slices are read as floats.
//
// Each (cache type, K or V) has its own reader function, not inlined into the walk: V8 compiles a
// wasm function with its optimizing tier once it is hot, and one function holding every type's
// loops took ~10 MB of compiler memory the first time a packed cache was used (the resident-memory
// record in packages/quant's MEASUREMENTS.md); now a cache compiles only its own type's readers.
import { F16, Q4_0, Q4_1, Q8_0 } from "./quant-types";
import { halfToFloat4, rowDot32 } from "./quant-dot";
import { activationRowBytes, quantizeActivations } from "./quant-activation";
import { axpyHalves, axpyHalves4, blockBytesOf, bytesToFloat, halfActBytes, halfAt, headDotHalves, quantizeQueryHalves } from "./kv-halves";
import { softmaxRow } from "./attention";
import { dot } from "./matmul";
import { hsum, madd } from "./simd";

const F32 = 0;

// How a block-typed head slice is read (see the header).
const WHOLE_BLOCKS = 0, HALF_BLOCKS = 1, DECODED = 2;

@inline function layoutOf(headDim: i32): i32 {
  return (headDim & 31) == 0 ? WHOLE_BLOCKS : (headDim & 15) == 0 ? HALF_BLOCKS : DECODED;
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

/** Σ_d q[d]·v[start + d] for d < count, v an f32 or f16 row at `row`. */
@inline function floatDot(type: i32, q: usize, row: usize, start: i32, count: i32): f32 {
  if (type == F32) return dot(q, row + (<usize>start << 2), count);
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

/** out[d] += p·v[start + d] for d < count, v an f32 or f16 row at `row`. */
@inline function floatAxpy(type: i32, out: usize, row: usize, start: i32, count: i32, p: f32): void {
  const pv = f32x4.splat(p);
  let d = 0;
  for (; d + 4 <= count; d += 4) {
    const o = out + (<usize>d << 2);
    const values = type == F32
      ? v128.load(row + (<usize>(start + d) << 2))
      : halfToFloat4(i32x4.extend_low_i16x8_s(v128.load64_zero(row + (<usize>(start + d) << 1))));
    v128.store(o, madd(v128.load(o), pv, values));
  }
  for (; d < count; d++) {
    const o = out + (<usize>d << 2);
    store<f32>(o, load<f32>(o) + p * valueAt(type, row, start + d));
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

// ---- scores: s[h][t] = q_h·k_t / √headDim for heads h0 ≤ h < h1 against positions 0 … n − 1.
// Query head h reads KV head g = h / group; `g, inGroup` walk that mapping without a division.

/** f32 / f16 keys, as floats. */
@inline function scoresFloat(
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
      const s = floatDot(kType, qRow + <usize>h * headBytes, kRow, g * headDim, headDim) * scale;
      store<f32>(scores0 + <usize>(h - h0) * scoresStride + (<usize>t << 2), s);
      if (++inGroup == group) { inGroup = 0; g++; }
    }
  }
}

/**
 * Block-typed keys from the query heads quantized at `act` (one row per head, actBytes apart):
 * whole-block heads through quant-dot.ts's row dot product, half-block heads through kv-halves.ts.
 */
@inline function scoresQuantized(
  kType: i32, layout: i32, act: usize, actBytes: usize, k: usize, kRowBytes: usize, n: i32, headDim: i32, group: i32,
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
      const s = layout == WHOLE_BLOCKS
        ? rowDot32(kType, kRow + <usize>g * headRowBytes, a, a + scalesAt, a + sumsAt, nb)
        : headDotHalves(kType, kRow, g * headDim, headDim, a);
      store<f32>(scores0 + <usize>(h - h0) * scoresStride + (<usize>t << 2), s * scale);
      if (++inGroup == group) { inGroup = 0; g++; }
    }
  }
}

/** Block-typed keys of heads that are neither: row t decoded once into `rowScratch`, then float dots. */
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

// ---- values: out_h += Σ_t p[h][t] · v_t for heads h0 ≤ h < h1.

/** f32 / f16 values, as floats. */
@inline function valuesFloat(
  vType: i32, oRow: usize, v: usize, vRowBytes: usize, n: i32, headDim: i32, group: i32,
  h0: i32, h1: i32, scores0: usize, scoresStride: usize,
): void {
  const headBytes = <usize>headDim * 4;
  const g0 = h0 / group, inGroup0 = h0 % group;
  for (let t = 0; t < n; t++) {
    const vRow = v + <usize>t * vRowBytes;
    let g = g0, inGroup = inGroup0;
    for (let h = h0; h < h1; h++) {
      const p = load<f32>(scores0 + <usize>(h - h0) * scoresStride + (<usize>t << 2));
      floatAxpy(vType, oRow + <usize>h * headBytes, vRow, g * headDim, headDim, p);
      if (++inGroup == group) { inGroup = 0; g++; }
    }
  }
}

/** Block-typed values of heads that are whole or half blocks: straight from the codes, four positions at a time. */
@inline function valuesHalves(
  vType: i32, oRow: usize, v: usize, vRowBytes: usize, n: i32, headDim: i32, group: i32,
  h0: i32, h1: i32, scores0: usize, scoresStride: usize,
): void {
  const headBytes = <usize>headDim * 4;
  const g0 = h0 / group, inGroup0 = h0 % group;
  let t = 0;
  for (; t + 4 <= n; t += 4) {
    const vRow = v + <usize>t * vRowBytes;
    let g = g0, inGroup = inGroup0;
    for (let h = h0; h < h1; h++) {
      axpyHalves4(vType, oRow + <usize>h * headBytes, vRow, vRowBytes, g * headDim, headDim, scores0 + <usize>(h - h0) * scoresStride + (<usize>t << 2));
      if (++inGroup == group) { inGroup = 0; g++; }
    }
  }
  for (; t < n; t++) {
    const vRow = v + <usize>t * vRowBytes;
    let g = g0, inGroup = inGroup0;
    for (let h = h0; h < h1; h++) {
      const p = load<f32>(scores0 + <usize>(h - h0) * scoresStride + (<usize>t << 2));
      axpyHalves(vType, oRow + <usize>h * headBytes, vRow, g * headDim, headDim, p);
      if (++inGroup == group) { inGroup = 0; g++; }
    }
  }
}

/** Block-typed values of other heads: row t decoded once into `rowScratch`, then float axpys. */
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
      floatAxpy(F32, oRow + <usize>h * headBytes, kvHead, 0, headDim, load<f32>(scores0 + <usize>(h - h0) * scoresStride + (<usize>t << 2)));
      if (++inGroup == group) { inGroup = 0; kvHead += headBytes; }
    }
  }
}

// ---- one reader function per cache type (see the header: not inlined, compiled when used).
// `a` is the quantized query (block types, unless DECODED), `rowScratch` a decoded row's room.

function scoresF32(qRow: usize, k: usize, kRowBytes: usize, n: i32, headDim: i32, group: i32, h0: i32, h1: i32, s0: usize, stride: usize): void {
  scoresFloat(F32, qRow, k, kRowBytes, n, headDim, group, h0, h1, s0, stride);
}
function scoresF16(qRow: usize, k: usize, kRowBytes: usize, n: i32, headDim: i32, group: i32, h0: i32, h1: i32, s0: usize, stride: usize): void {
  scoresFloat(F16, qRow, k, kRowBytes, n, headDim, group, h0, h1, s0, stride);
}
// The block types' readers are one function per (type, layout) too: a model uses one layout
// (stories15M's heads of 48 the half blocks, 110M's of 64 whole blocks), and each layout's loops
// inlined beside the others' made the function TurboFan compiles once a decode gets hot twice or
// more the size (15M, q8_0 keys: 1.06 MB of compiler memory for the three layouts together).
function scoresQ8_0Whole(a: usize, actBytes: usize, k: usize, kRowBytes: usize, n: i32, headDim: i32, group: i32, h0: i32, h1: i32, s0: usize, stride: usize): void {
  scoresQuantized(Q8_0, WHOLE_BLOCKS, a, actBytes, k, kRowBytes, n, headDim, group, h0, h1, s0, stride);
}
function scoresQ4_0Whole(a: usize, actBytes: usize, k: usize, kRowBytes: usize, n: i32, headDim: i32, group: i32, h0: i32, h1: i32, s0: usize, stride: usize): void {
  scoresQuantized(Q4_0, WHOLE_BLOCKS, a, actBytes, k, kRowBytes, n, headDim, group, h0, h1, s0, stride);
}
function scoresQ4_1Whole(a: usize, actBytes: usize, k: usize, kRowBytes: usize, n: i32, headDim: i32, group: i32, h0: i32, h1: i32, s0: usize, stride: usize): void {
  scoresQuantized(Q4_1, WHOLE_BLOCKS, a, actBytes, k, kRowBytes, n, headDim, group, h0, h1, s0, stride);
}
function scoresQ8_0Halves(a: usize, actBytes: usize, k: usize, kRowBytes: usize, n: i32, headDim: i32, group: i32, h0: i32, h1: i32, s0: usize, stride: usize): void {
  scoresQuantized(Q8_0, HALF_BLOCKS, a, actBytes, k, kRowBytes, n, headDim, group, h0, h1, s0, stride);
}
function scoresQ4_0Halves(a: usize, actBytes: usize, k: usize, kRowBytes: usize, n: i32, headDim: i32, group: i32, h0: i32, h1: i32, s0: usize, stride: usize): void {
  scoresQuantized(Q4_0, HALF_BLOCKS, a, actBytes, k, kRowBytes, n, headDim, group, h0, h1, s0, stride);
}
function scoresQ4_1Halves(a: usize, actBytes: usize, k: usize, kRowBytes: usize, n: i32, headDim: i32, group: i32, h0: i32, h1: i32, s0: usize, stride: usize): void {
  scoresQuantized(Q4_1, HALF_BLOCKS, a, actBytes, k, kRowBytes, n, headDim, group, h0, h1, s0, stride);
}
function scoresQ8_0Decoded(qRow: usize, rowScratch: usize, rowBlocks: i32, k: usize, kRowBytes: usize, n: i32, headDim: i32, group: i32, h0: i32, h1: i32, s0: usize, stride: usize): void {
  scoresDecoded(Q8_0, qRow, k, kRowBytes, rowBlocks, n, headDim, group, h0, h1, s0, stride, rowScratch);
}
function scoresQ4_0Decoded(qRow: usize, rowScratch: usize, rowBlocks: i32, k: usize, kRowBytes: usize, n: i32, headDim: i32, group: i32, h0: i32, h1: i32, s0: usize, stride: usize): void {
  scoresDecoded(Q4_0, qRow, k, kRowBytes, rowBlocks, n, headDim, group, h0, h1, s0, stride, rowScratch);
}
function scoresQ4_1Decoded(qRow: usize, rowScratch: usize, rowBlocks: i32, k: usize, kRowBytes: usize, n: i32, headDim: i32, group: i32, h0: i32, h1: i32, s0: usize, stride: usize): void {
  scoresDecoded(Q4_1, qRow, k, kRowBytes, rowBlocks, n, headDim, group, h0, h1, s0, stride, rowScratch);
}

/** Scores of block-typed keys: the (type, layout) reader. */
@inline function scoresBlocks(
  kType: i32, layout: i32, qRow: usize, a: usize, actBytes: usize, rowScratch: usize, rowBlocks: i32,
  k: usize, kRowBytes: usize, n: i32, headDim: i32, group: i32, h0: i32, h1: i32, s0: usize, stride: usize,
): void {
  if (layout == WHOLE_BLOCKS) {
    if (kType == Q8_0) scoresQ8_0Whole(a, actBytes, k, kRowBytes, n, headDim, group, h0, h1, s0, stride);
    else if (kType == Q4_0) scoresQ4_0Whole(a, actBytes, k, kRowBytes, n, headDim, group, h0, h1, s0, stride);
    else scoresQ4_1Whole(a, actBytes, k, kRowBytes, n, headDim, group, h0, h1, s0, stride);
  } else if (layout == HALF_BLOCKS) {
    if (kType == Q8_0) scoresQ8_0Halves(a, actBytes, k, kRowBytes, n, headDim, group, h0, h1, s0, stride);
    else if (kType == Q4_0) scoresQ4_0Halves(a, actBytes, k, kRowBytes, n, headDim, group, h0, h1, s0, stride);
    else scoresQ4_1Halves(a, actBytes, k, kRowBytes, n, headDim, group, h0, h1, s0, stride);
  } else {
    if (kType == Q8_0) scoresQ8_0Decoded(qRow, rowScratch, rowBlocks, k, kRowBytes, n, headDim, group, h0, h1, s0, stride);
    else if (kType == Q4_0) scoresQ4_0Decoded(qRow, rowScratch, rowBlocks, k, kRowBytes, n, headDim, group, h0, h1, s0, stride);
    else scoresQ4_1Decoded(qRow, rowScratch, rowBlocks, k, kRowBytes, n, headDim, group, h0, h1, s0, stride);
  }
}

function valuesF32(oRow: usize, v: usize, vRowBytes: usize, n: i32, headDim: i32, group: i32, h0: i32, h1: i32, s0: usize, stride: usize): void {
  valuesFloat(F32, oRow, v, vRowBytes, n, headDim, group, h0, h1, s0, stride);
}
function valuesF16(oRow: usize, v: usize, vRowBytes: usize, n: i32, headDim: i32, group: i32, h0: i32, h1: i32, s0: usize, stride: usize): void {
  valuesFloat(F16, oRow, v, vRowBytes, n, headDim, group, h0, h1, s0, stride);
}
function valuesQ8_0Halves(oRow: usize, v: usize, vRowBytes: usize, n: i32, headDim: i32, group: i32, h0: i32, h1: i32, s0: usize, stride: usize): void {
  valuesHalves(Q8_0, oRow, v, vRowBytes, n, headDim, group, h0, h1, s0, stride);
}
function valuesQ4_0Halves(oRow: usize, v: usize, vRowBytes: usize, n: i32, headDim: i32, group: i32, h0: i32, h1: i32, s0: usize, stride: usize): void {
  valuesHalves(Q4_0, oRow, v, vRowBytes, n, headDim, group, h0, h1, s0, stride);
}
function valuesQ4_1Halves(oRow: usize, v: usize, vRowBytes: usize, n: i32, headDim: i32, group: i32, h0: i32, h1: i32, s0: usize, stride: usize): void {
  valuesHalves(Q4_1, oRow, v, vRowBytes, n, headDim, group, h0, h1, s0, stride);
}
function valuesQ8_0Decoded(oRow: usize, v: usize, vRowBytes: usize, rowBlocks: i32, n: i32, headDim: i32, group: i32, h0: i32, h1: i32, s0: usize, stride: usize, rowScratch: usize): void {
  valuesDecoded(Q8_0, oRow, v, vRowBytes, rowBlocks, n, headDim, group, h0, h1, s0, stride, rowScratch);
}
function valuesQ4_0Decoded(oRow: usize, v: usize, vRowBytes: usize, rowBlocks: i32, n: i32, headDim: i32, group: i32, h0: i32, h1: i32, s0: usize, stride: usize, rowScratch: usize): void {
  valuesDecoded(Q4_0, oRow, v, vRowBytes, rowBlocks, n, headDim, group, h0, h1, s0, stride, rowScratch);
}
function valuesQ4_1Decoded(oRow: usize, v: usize, vRowBytes: usize, rowBlocks: i32, n: i32, headDim: i32, group: i32, h0: i32, h1: i32, s0: usize, stride: usize, rowScratch: usize): void {
  valuesDecoded(Q4_1, oRow, v, vRowBytes, rowBlocks, n, headDim, group, h0, h1, s0, stride, rowScratch);
}

/** Values of a block-typed cache: the (type, layout) reader (whole and half blocks share one). */
@inline function valuesBlocks(
  vType: i32, layout: i32, rowScratch: usize, rowBlocks: i32,
  oRow: usize, v: usize, vRowBytes: usize, n: i32, headDim: i32, group: i32, h0: i32, h1: i32, s0: usize, stride: usize,
): void {
  if (layout == DECODED) {
    if (vType == Q8_0) valuesQ8_0Decoded(oRow, v, vRowBytes, rowBlocks, n, headDim, group, h0, h1, s0, stride, rowScratch);
    else if (vType == Q4_0) valuesQ4_0Decoded(oRow, v, vRowBytes, rowBlocks, n, headDim, group, h0, h1, s0, stride, rowScratch);
    else valuesQ4_1Decoded(oRow, v, vRowBytes, rowBlocks, n, headDim, group, h0, h1, s0, stride, rowScratch);
  } else {
    if (vType == Q8_0) valuesQ8_0Halves(oRow, v, vRowBytes, n, headDim, group, h0, h1, s0, stride);
    else if (vType == Q4_0) valuesQ4_0Halves(oRow, v, vRowBytes, n, headDim, group, h0, h1, s0, stride);
    else valuesQ4_1Halves(oRow, v, vRowBytes, n, headDim, group, h0, h1, s0, stride);
  }
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
  const rowBlocks = ((nHeads / group) * headDim + 31) >> 5;
  const rowScratch = scratch + (probs != 0 ? 0 : <usize>(h1 - h0) * stride);
  const layout = layoutOf(headDim);
  const act = rowScratch + (<usize>rowBlocks << 7);
  let actBytes: usize = 0;
  if ((kType == Q8_0 || kType == Q4_0 || kType == Q4_1) && layout != DECODED) {
    // the query heads as Q8 codes: per 32 for whole-block heads (+ headDim bytes of scratch), per 16 for half-block ones
    if (layout == WHOLE_BLOCKS) {
      actBytes = <usize>activationRowBytes(kType, headDim);
      quantizeActivations(kType, qRow + <usize>h0 * headBytes, h1 - h0, headDim, act, act + <usize>(h1 - h0) * actBytes);
    } else {
      actBytes = halfActBytes(headDim);
      quantizeQueryHalves(qRow + <usize>h0 * headBytes, h1 - h0, headDim, act);
    }
  }
  if (kType == Q8_0 || kType == Q4_0 || kType == Q4_1) scoresBlocks(kType, layout, qRow, act, actBytes, rowScratch, rowBlocks, k, kRowBytes, n, headDim, group, h0, h1, scores0, stride);
  else if (kType == F16) scoresF16(qRow, k, kRowBytes, n, headDim, group, h0, h1, scores0, stride);
  else scoresF32(qRow, k, kRowBytes, n, headDim, group, h0, h1, scores0, stride);
  for (let h = h0; h < h1; h++) {
    const scores = scores0 + <usize>(h - h0) * stride;
    softmaxRow(scores, n);
    if (probs != 0 && n < seqKv) memory.fill(scores + (<usize>n << 2), 0, <usize>(seqKv - n) << 2);
  }
  memory.fill(oRow + <usize>h0 * headBytes, 0, <usize>(h1 - h0) * headBytes);
  if (vType == Q8_0 || vType == Q4_0 || vType == Q4_1) valuesBlocks(vType, layout, rowScratch, rowBlocks, oRow, v, vRowBytes, n, headDim, group, h0, h1, scores0, stride);
  else if (vType == F16) valuesF16(oRow, v, vRowBytes, n, headDim, group, h0, h1, scores0, stride);
  else valuesF32(oRow, v, vRowBytes, n, headDim, group, h0, h1, scores0, stride);
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
