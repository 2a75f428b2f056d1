// A packed q8_0 / q4_0 / q4_1 KV row read 16 values at a time (reference: dotHalves and
// kvRowValues in src/quant/). A block of 32 already keeps its two halves apart:
//
//   q8_0   | d: f16 | qs 0…15: 16 × i8 | qs 16…31: 16 × i8 |      half 1 = bytes 18…33
//   q4_0   | d: f16 | 16 × u8: low nibbles = values 0…15, high nibbles = values 16…31 |
//   q4_1   | d: f16 | m: f16 | 16 × u8, as q4_0 |
//
// so a head slice whose start and length are multiples of 16 is a run of halves, each with its
// block's scale. stories15M's heads of 48 are three halves (heads 1, 3, 5 start in the middle of
// a block): their keys are scored in integers and their values accumulated straight from the
// codes, with no f32 copy of the row, as whole-block heads (64) are.
import { Q4_0, Q4_1, Q8_0 } from "./quant-types";
import { halfToFloat4, hsumI32, lanes, sum4x4 } from "./quant-dot";
import { absMax, codes16 } from "./quant-activation";
import { hsum, madd } from "./simd";

@inline export function blockBytesOf(type: i32): usize {
  return type == Q8_0 ? 34 : type == Q4_0 ? 18 : 20;
}

/** The f16 at p as an f32. */
@inline export function halfAt(p: usize): f32 {
  return f32x4.extract_lane(halfToFloat4(i32x4.splat(<i32>load<i16>(p))), 0);
}

/** 16 signed bytes as four f32x4 (values 0…3, 4…7, 8…11, 12…15 of the 16). */
@inline export function bytesToFloat(c: v128, part: i32): v128 {
  const half = part < 2 ? i16x8.extend_low_i8x16_s(c) : i16x8.extend_high_i8x16_s(c);
  return f32x4.convert_i32x4_s((part & 1) == 0 ? i32x4.extend_low_i16x8_s(half) : i32x4.extend_high_i16x8_s(half));
}

/**
 * The 16 codes of the half that starts at element e (a multiple of 16) of the packed row at
 * `row`, as i8x16: q8_0's bytes, or the nibbles 0…15 (q4_0's shifted into −8…7 when `centered`).
 */
@inline export function halfCodes(type: i32, row: usize, e: i32, centered: bool): v128 {
  const block = row + <usize>(e >> 5) * blockBytesOf(type);
  const second = (e & 16) != 0;
  if (type == Q8_0) return v128.load(block + (second ? 18 : 2));
  const v = v128.load(block + (type == Q4_1 ? 4 : 2));
  const codes = second ? v128.and(i16x8.shr_u(v, 4), i8x16.splat(0x0f)) : v128.and(v, i8x16.splat(0x0f));
  return centered && type == Q4_0 ? i8x16.sub(codes, i8x16.splat(8)) : codes;
}

// A query head quantized for half-block scoring, halfActBytes(headDim) bytes:
//   +0                      codes: headDim × i16
//   +2·headDim              scales: one f32 per 16 values
//   +2·headDim + 4·nHalves  sums: one i32 per 16 values, Σ codes

/** Bytes of one query head quantized per 16 values (a multiple of 16). */
@inline export function halfActBytes(headDim: i32): usize {
  return (<usize>headDim * 2 + (<usize>(headDim >> 4) << 3) + 15) & ~(<usize>15);
}

/**
 * `rows` query heads of headDim floats at x (one after the other) as Q8 codes per 16 values,
 * the q8_0 rule on a group of 16: d = max|x| / 127, code = roundf(x · (1/d)), in float32.
 */
export function quantizeQueryHalves(x: usize, rows: i32, headDim: i32, act: usize): void {
  const stride = halfActBytes(headDim);
  const nHalves = headDim >> 4;
  for (let r = 0; r < rows; r++) {
    const xr = x + <usize>r * headDim * 4, row = act + <usize>r * stride;
    const scales = row + (<usize>headDim << 1), sums = scales + (<usize>nHalves << 2);
    for (let i = 0; i < nHalves; i++) {
      const xi = xr + (<usize>i << 6);
      const d = absMax(xi, 16) / 127;
      const codes = codes16(xi, f32x4.splat(d != 0 ? <f32>1 / d : 0), false);
      const lo = i16x8.extend_low_i8x16_s(codes), hi = i16x8.extend_high_i8x16_s(codes);
      v128.store(row + (<usize>i << 5), lo);
      v128.store(row + (<usize>i << 5), hi, 16);
      store<f32>(scales + (<usize>i << 2), d);
      store<i32>(sums + (<usize>i << 2), hsumI32(i32x4.extadd_pairwise_i16x8_s(i16x8.add(lo, hi))));
    }
  }
}

/** Σ code·q over one half: 16 codes (i8x16) · 16 i16 query codes at a, as four partial i32 sums. */
@inline function halfDot(codes: v128, a: usize): v128 {
  return i32x4.add(
    i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(codes), v128.load(a)),
    i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(codes), v128.load(a, 16)));
}

/** The f16 at offset `at` of the blocks holding halves e, e + 16, … (count of them), as f32x4, 0 past count. */
@inline function halfScales(type: i32, row: usize, e: i32, count: i32, at: usize): v128 {
  const bb = blockBytesOf(type);
  let h = i32x4.splat(<i32>load<i16>(row + <usize>(e >> 5) * bb + at));
  h = i32x4.replace_lane(h, 1, count > 1 ? <i32>load<i16>(row + <usize>((e + 16) >> 5) * bb + at) : 0);
  h = i32x4.replace_lane(h, 2, count > 2 ? <i32>load<i16>(row + <usize>((e + 32) >> 5) * bb + at) : 0);
  h = i32x4.replace_lane(h, 3, count > 3 ? <i32>load<i16>(row + <usize>((e + 48) >> 5) * bb + at) : 0);
  return halfToFloat4(h);
}

/**
 * q·k for one head: the slice [start, start + headDim) of the packed row at `row` against the
 * query head quantized at `a`. Per half, exactly in integers, then one float term:
 * (d_k·d_q)·Σ code·q; q4_0 takes its − 8 as Σ (code − 8)·q = Σ code·q − 8·Σ q, q4_1 adds
 * (m_k·d_q)·Σ q. Half i goes into lane i mod 4 and the lanes are added as (l0 + l2) + (l1 + l3):
 * the reference's order, so both give the same bits.
 */
@inline export function headDotHalves(type: i32, row: usize, start: i32, headDim: i32, a: usize): f32 {
  const nHalves = headDim >> 4;
  const scales = a + (<usize>headDim << 1), sums = scales + (<usize>nHalves << 2);
  const z = i32x4.splat(0);
  let acc = f32x4.splat(0);
  for (let i = 0; i < nHalves; i += 4) {
    const count = min(4, nHalves - i);
    const e = start + (i << 4), ai = a + (<usize>i << 5);
    let s = sum4x4(
      halfDot(halfCodes(type, row, e, false), ai),
      count > 1 ? halfDot(halfCodes(type, row, e + 16, false), ai + 32) : z,
      count > 2 ? halfDot(halfCodes(type, row, e + 32, false), ai + 64) : z,
      count > 3 ? halfDot(halfCodes(type, row, e + 48, false), ai + 96) : z);
    const dq = lanes(scales + (<usize>i << 2), count);
    if (type == Q4_0) s = i32x4.sub(s, i32x4.shl(lanes(sums + (<usize>i << 2), count), 3));
    let term = f32x4.mul(f32x4.mul(halfScales(type, row, e, count, 0), dq), f32x4.convert_i32x4_s(s));
    if (type == Q4_1) {
      term = f32x4.add(term, f32x4.mul(f32x4.mul(halfScales(type, row, e, count, 2), dq), f32x4.convert_i32x4_s(lanes(sums + (<usize>i << 2), count))));
    }
    acc = f32x4.add(acc, term);
  }
  return hsum(acc);
}

/** out[0 … headDim) += p · v[start …], the packed row at `row`, half by half: (p·d)·code (+ p·m). */
@inline export function axpyHalves(type: i32, out: usize, row: usize, start: i32, headDim: i32, p: f32): void {
  const bb = blockBytesOf(type);
  for (let i = 0; i < headDim >> 4; i++) {
    const e = start + (i << 4);
    const block = row + <usize>(e >> 5) * bb, o = out + (<usize>i << 6);
    const pd = f32x4.splat(p * halfAt(block));
    const pm = f32x4.splat(type == Q4_1 ? p * halfAt(block + 2) : 0);
    const codes = halfCodes(type, row, e, true);
    for (let part = 0; part < 4; part++) {
      let y = madd(v128.load(o + (<usize>part << 4)), pd, bytesToFloat(codes, part));
      if (type == Q4_1) y = f32x4.add(y, pm);
      v128.store(o + (<usize>part << 4), y);
    }
  }
}

/**
 * The same for four consecutive rows (row, row + rowBytes, …) weighted by scores[0…3]: the
 * output is loaded and stored once for four positions, and the four rows' block scales are
 * converted together, once per block (p_j·d_j as one f32x4, then each lane splatted). Per value,
 * the positions are added in order (then Σ p·m for q4_1), as four axpyHalves calls would but for
 * the one rounding of Σ p·m.
 */
@inline export function axpyHalves4(type: i32, out: usize, row: usize, rowBytes: usize, start: i32, headDim: i32, scores: usize): void {
  const bb = blockBytesOf(type);
  const p = v128.load(scores);
  const row1 = row + rowBytes, row2 = row1 + rowBytes, row3 = row2 + rowBytes;
  let pd = f32x4.splat(0), pm = f32x4.splat(0);
  for (let i = 0; i < headDim >> 4; i++) {
    const e = start + (i << 4);
    const at = <usize>(e >> 5) * bb, o = out + (<usize>i << 6);
    if (i == 0 || (e & 16) == 0) {
      // a new block: p_j · d_j for the four rows (and p_j · m_j for q4_1)
      pd = f32x4.mul(p, scales4(row + at, rowBytes));
      if (type == Q4_1) pm = f32x4.mul(p, scales4(row + at + 2, rowBytes));
    }
    const d0 = f32x4.splat(f32x4.extract_lane(pd, 0)), d1 = f32x4.splat(f32x4.extract_lane(pd, 1));
    const d2 = f32x4.splat(f32x4.extract_lane(pd, 2)), d3 = f32x4.splat(f32x4.extract_lane(pd, 3));
    let m = f32x4.splat(0);
    if (type == Q4_1) m = f32x4.splat(f32x4.extract_lane(pm, 0) + f32x4.extract_lane(pm, 1) + f32x4.extract_lane(pm, 2) + f32x4.extract_lane(pm, 3));
    const c0 = halfCodes(type, row, e, true), c1 = halfCodes(type, row1, e, true);
    const c2 = halfCodes(type, row2, e, true), c3 = halfCodes(type, row3, e, true);
    for (let part = 0; part < 4; part++) {
      const op = o + (<usize>part << 4);
      let y = madd(v128.load(op), d0, bytesToFloat(c0, part));
      y = madd(y, d1, bytesToFloat(c1, part));
      y = madd(y, d2, bytesToFloat(c2, part));
      y = madd(y, d3, bytesToFloat(c3, part));
      if (type == Q4_1) y = f32x4.add(y, m);
      v128.store(op, y);
    }
  }
}

/** The f16 at p, p + stride, p + 2·stride, p + 3·stride as an f32x4. */
@inline function scales4(p: usize, stride: usize): v128 {
  let h = i32x4.splat(<i32>load<i16>(p));
  h = i32x4.replace_lane(h, 1, <i32>load<i16>(p + stride));
  h = i32x4.replace_lane(h, 2, <i32>load<i16>(p + 2 * stride));
  h = i32x4.replace_lane(h, 3, <i32>load<i16>(p + 3 * stride));
  return halfToFloat4(h);
}
