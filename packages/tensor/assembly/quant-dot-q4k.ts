// q4_k weights · q8_k input rows (reference: dotQ4_K in src/quant/reference.ts, same bits).
//
// A super-block is 256 weights in 144 bytes (src/quant/types.ts draws it): f16 d and dmin, 12
// bytes of eight 6-bit scales sc_j and mins m_j, and 128 bytes of 4-bit codes q, in four
// chunks of 32 bytes, chunk c holding sub-block 2c in the low nibbles and 2c + 1 in the high:
//
//   chunk c:  byte l = q[64c + l] | q[64c + 32 + l] << 4,  l = 0…31
//
// Its product with the q8_k input (codes x, one f32 scale dx per 256, code sums Σx per 32) is
//
//   d·dx · Σ_j sc_j·(Σ_l q·x)  −  dmin·dx · Σ_j m_j·(Σ_l x)
//
// where both Σ_j are exact integers. The kernel keeps them integer to the end: each sub-block's
// products leave the dot product as eight i16 pair sums, and one i32x4.dot_i16x8_s with sc_j in
// every lane both widens them and applies the scale, so the eight sub-blocks accumulate into a
// single i32x4 (ggml's x86 kernel has the same shape). The mins term is one more i16 dot product
// per super-block, of the eight m_j with the input's eight code sums. Floats enter once per
// super-block, and the super-blocks are added one after the other into a float32 scalar, as the
// reference adds them.
import { Q4_CODE_BYTES, dot32, halfToFloat4, highNibbles, lowNibbles, relaxedBlock, sum4x4 } from "./quant-simd";

/** Bytes of a q4_k super-block, and of its header before the codes (d, dmin, scales). */
const SUPER_BLOCK_BYTES: usize = 144;
const CODES_AT: usize = 16;

/**
 * The eight 6-bit scales (bytes 0…7) and eight mins (bytes 8…15) of the super-block at blk, as
 * 16 bytes. The 12 packed bytes are read as three u32 u0, u1, u2 (ggml's get_scale_min_k4):
 * sc[0…3] = u0 & 63, m[0…3] = u1 & 63, per byte; sc[4…7] = (u2 & 15) | (u0 >> 6) << 4 and
 * m[4…7] = (u2 >> 4 & 15) | (u1 >> 6) << 4. Four lanes compute all four words at once.
 */
@inline function scalesAndMins(blk: usize): v128 {
  const u = v128.load(blk, 4); // u0 u1 u2 and the first 4 code bytes, unused
  const p = v128.shuffle<i32>(u, u, 0, 0, 1, 1); // u0 u0 u1 u1
  const q = v128.shuffle<i32>(u, i32x4.shr_u(u, 4), 2, 2, 6, 6); // u2 u2 u2>>4 u2>>4
  const low = v128.and(p, i8x16.splat(0x3f));
  const high = v128.or(v128.and(q, i8x16.splat(0x0f)), i32x4.shl(v128.and(i32x4.shr_u(p, 6), i8x16.splat(0x03)), 4));
  return v128.shuffle<i32>(low, high, 0, 5, 2, 7);
}

/**
 * A super-block's float term: d·dx·f32(scaled) − dmin·dx·f32(mins), from an i32x4 whose lanes
 * add up to `scaled` = Σ_j sc_j·(Σ q·x) and the i16 mins (high half of scalesAndMins) with the
 * input's eight code sums at `sums` (i32, each |Σ x| ≤ 32·127, so narrowing them is exact).
 */
@inline function superBlockTerm(blk: usize, packed: v128, scaled: v128, sums: usize, dx: f32): f32 {
  return superBlockTermOf(blk, packed, scaled, codeSumsAt(sums), f32x4.splat(dx));
}

/** The input's eight code sums at `sums` as i16 lanes (exact: each |Σ x| ≤ 32·127). */
@inline function codeSumsAt(sums: usize): v128 {
  return i16x8.narrow_i32x4_s(v128.load(sums), v128.load(sums, 16));
}

/** superBlockTerm with the input's part given: codeSums from codeSumsAt, dx in every lane (shared by the rows of a pass). */
@inline function superBlockTermOf(blk: usize, packed: v128, scaled: v128, codeSums: v128, dx: v128): f32 {
  const mins = i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_u(packed), codeSums);
  // lanes [scaled, mins, scaled, mins], exact in any order
  const pairs = i32x4.add(v128.shuffle<i32>(scaled, mins, 0, 4, 1, 5), v128.shuffle<i32>(scaled, mins, 2, 6, 3, 7));
  const totals = f32x4.convert_i32x4_s(i32x4.add(pairs, v128.shuffle<i32>(pairs, pairs, 2, 3, 0, 1)));
  // [d, dmin, d, dmin]: the u32 at blk holds d | dmin << 16
  const d = halfToFloat4(i32x4.extend_low_i16x8_s(v128.load32_splat(blk)));
  const terms = f32x4.mul(f32x4.mul(d, dx), totals);
  return f32x4.extract_lane(terms, 0) - f32x4.extract_lane(terms, 1);
}

/**
 * Chunk c of a super-block (32 code bytes at qs) · its 64 input codes, scaled by the two
 * sub-blocks' scales (each in all lanes): sc_2c·Σ(low nibbles·x) + sc_2c+1·Σ(high nibbles·x) as
 * four i32 partial sums. Relaxed SIMD: the codes as four i8x16 x0…x3, loaded by the caller so
 * that two weight rows can share them.
 */
@inline function chunkRelaxed(qs: usize, x0: v128, x1: v128, x2: v128, x3: v128, scEven: v128, scOdd: v128): v128 {
  const first = v128.load(qs), second = v128.load(qs, 16);
  // i16 pair sums of 32 products each way: |Σ| ≤ 2·2·15·127, and ·sc (≤ 63) fits the i32 dot
  const even = i16x8.add(i16x8.relaxed_dot_i8x16_i7x16_s(x0, lowNibbles(first)), i16x8.relaxed_dot_i8x16_i7x16_s(x1, lowNibbles(second)));
  const odd = i16x8.add(i16x8.relaxed_dot_i8x16_i7x16_s(x2, highNibbles(first)), i16x8.relaxed_dot_i8x16_i7x16_s(x3, highNibbles(second)));
  return i32x4.add(i32x4.dot_i16x8_s(even, scEven), i32x4.dot_i16x8_s(odd, scOdd));
}

/** chunkRelaxed for the plain-SIMD build: the codes at ac as i16 in nibble order (quant-activation.ts), four nibbles per 16-bit lane. */
@inline function chunkPlain(qs: usize, ac: usize, scEven: v128, scOdd: v128): v128 {
  const first = v128.load(qs), second = v128.load(qs, 16);
  const m = i16x8.splat(0x000f);
  const even = i32x4.add(
    i32x4.add(i32x4.dot_i16x8_s(v128.and(first, m), v128.load(ac)), i32x4.dot_i16x8_s(v128.and(i16x8.shr_u(first, 8), m), v128.load(ac, 16))),
    i32x4.add(i32x4.dot_i16x8_s(v128.and(second, m), v128.load(ac, 32)), i32x4.dot_i16x8_s(v128.and(i16x8.shr_u(second, 8), m), v128.load(ac, 48))));
  const odd = i32x4.add(
    i32x4.add(i32x4.dot_i16x8_s(v128.and(i16x8.shr_u(first, 4), m), v128.load(ac, 64)), i32x4.dot_i16x8_s(i16x8.shr_u(first, 12), v128.load(ac, 80))),
    i32x4.add(i32x4.dot_i16x8_s(v128.and(i16x8.shr_u(second, 4), m), v128.load(ac, 96)), i32x4.dot_i16x8_s(i16x8.shr_u(second, 12), v128.load(ac, 112))));
  return i32x4.add(i32x4.mul(even, i32x4.extend_low_i16x8_s(scEven)), i32x4.mul(odd, i32x4.extend_low_i16x8_s(scOdd)));
}

// Lane 0's and lane 1's scale in all eight i16 lanes of sc (shuffle lanes must be constants).
@inline function sc0(sc: v128): v128 { return v128.shuffle<i16>(sc, sc, 0, 0, 0, 0, 0, 0, 0, 0); }
@inline function sc1(sc: v128): v128 { return v128.shuffle<i16>(sc, sc, 1, 1, 1, 1, 1, 1, 1, 1); }

/**
 * Σ_j sc_j·(Σ q·x) of the super-block at blk (scales sc, i16x8) with the input codes at ab, as
 * four i32 partial sums. The chunks in a loop, their two scales shifted down into lanes 0 and 1
 * each time: V8 schedules a block's loads as early as it may, so four copies in one block load
 * every chunk's codes up front and spill them to the stack.
 */
@inline function superBlockScaled(blk: usize, sc: v128, ab: usize): v128 {
  let s = i32x4.splat(0);
  for (let c: usize = 0; c < 4; c++) {
    const qs = blk + CODES_AT + (c << 5);
    if (ASC_FEATURE_RELAXED_SIMD) {
      const ac = ab + (c << 6);
      s = i32x4.add(s, chunkRelaxed(qs, v128.load(ac), v128.load(ac, 16), v128.load(ac, 32), v128.load(ac, 48), sc0(sc), sc1(sc)));
    } else {
      s = i32x4.add(s, chunkPlain(qs, ab + (c << 7), sc0(sc), sc1(sc)));
    }
    sc = v128.shuffle<i16>(sc, sc, 2, 3, 4, 5, 6, 7, 0, 1);
  }
  return s;
}

/** One row of q4_k super-blocks (nsb of them) at w · one q8_k input row: codes at a, scales and sums behind. */
export function rowDotQ4_K(w: usize, a: usize, scales: usize, sums: usize, nsb: i32): f32 {
  let acc: f32 = 0;
  for (let sb = 0; sb < nsb; sb++) {
    const blk = w + <usize>sb * SUPER_BLOCK_BYTES;
    const packed = scalesAndMins(blk);
    const scaled = superBlockScaled(blk, i16x8.extend_low_i8x16_u(packed), a + <usize>sb * 256 * Q4_CODE_BYTES);
    acc += superBlockTerm(blk, packed, scaled, sums + (<usize>sb << 5), load<f32>(scales + (<usize>sb << 2)));
  }
  return acc;
}

/**
 * Four weight rows, at w + i·offset, · one q8_k input row, into out + i·outOffset (the decode
 * step's matrix × vector, relaxed SIMD): each 16 input codes are loaded once for the four rows,
 * and the super-block's header work (scale unpacking, mins term, float factors) is done once for
 * the four rows, a row per lane. The four headers (16 bytes each) are transposed so that lane i
 * of each word is row i's:
 *
 *   header bytes  0…3         4…7         8…11        12…15
 *   row i         d | dmin    u0          u1          u2          (u0…u2: scalesAndMins' words)
 *
 * and unpacked per byte by scalesAndMins' rule, four rows at a time: sc0…3 = u0 & 63, m0…3 =
 * u1 & 63, sc4…7 = (u2 & 15) | (u0 >> 6) << 4, m4…7 = (u2 >> 4 & 15) | (u1 >> 6) << 4, where
 * `(u >> 2) & 0x30` on 32-bit lanes moves each byte's top two bits to bits 4…5 of the same byte
 * (what a shift pulls in from the next byte lands in bits 6…7 and is masked off).
 *
 * The header's results go through 96 bytes of scratch at tmp (thread-private):
 *
 *   tmp +0    row 0: sc0 … sc7 as i16          +64   d·dx of rows 0…3 (f32x4)
 *       +16   row 1, +32 row 2, +48 row 3      +80   (dmin·dx)·Σ_j m_j·Σx_j of rows 0…3 (f32x4)
 *
 * so the products load each sub-block's scale already in all eight lanes (one broadcast load),
 * and hold only the input codes and four accumulators in registers: kept in registers, V8's
 * allocator spilled the 32 scale vectors of a pass (measured 2× slower than one row at a time).
 * Each row's integers are the one-row kernel's and its floats the same operations in the same
 * order, so every output has the one-row kernel's bits.
 */
export function rowsDotQ4_K4Streams(w: usize, offset: usize, a: usize, scales: usize, sums: usize, nsb: i32, out: usize, outOffset: usize, tmp: usize): void {
  let acc = f32x4.splat(0);
  for (let sb = 0; sb < nsb; sb++) {
    const b0 = w + <usize>sb * SUPER_BLOCK_BYTES, b1 = b0 + offset, b2 = b1 + offset, b3 = b2 + offset, ab = a + (<usize>sb << 8);
    superBlockHeaders4(b0, b1, b2, b3, sums + (<usize>sb << 5), v128.load32_splat(scales + (<usize>sb << 2)), tmp);
    // chunk c (sub-blocks 2c, 2c + 1) of the four rows; row i's scales at tmp + 16·i + 4·c. A loop,
    // not four copies: V8 schedules a block's loads as early as it may, so in one straight block
    // it loaded every chunk's codes and scales up front and spilled them (2× slower, measured)
    let s0 = i32x4.splat(0), s1 = i32x4.splat(0), s2 = i32x4.splat(0), s3 = i32x4.splat(0);
    for (let c: usize = 0; c < 4; c++) {
      const xc = ab + (c << 6), qs = CODES_AT + (c << 5), sc = tmp + (c << 2);
      const x0 = v128.load(xc), x1 = v128.load(xc, 16), x2 = v128.load(xc, 32), x3 = v128.load(xc, 48);
      s0 = i32x4.add(s0, chunkRelaxed(b0 + qs, x0, x1, x2, x3, v128.load16_splat(sc), v128.load16_splat(sc + 2)));
      s1 = i32x4.add(s1, chunkRelaxed(b1 + qs, x0, x1, x2, x3, v128.load16_splat(sc + 16), v128.load16_splat(sc + 18)));
      s2 = i32x4.add(s2, chunkRelaxed(b2 + qs, x0, x1, x2, x3, v128.load16_splat(sc + 32), v128.load16_splat(sc + 34)));
      s3 = i32x4.add(s3, chunkRelaxed(b3 + qs, x0, x1, x2, x3, v128.load16_splat(sc + 48), v128.load16_splat(sc + 50)));
    }
    // superBlockTermOf's float step, a row per lane: (d·dx)·scaled − (dmin·dx)·mins
    const scaled = f32x4.convert_i32x4_s(sum4x4(s0, s1, s2, s3));
    acc = f32x4.add(acc, f32x4.sub(f32x4.mul(v128.load(tmp, 64), scaled), v128.load(tmp, 80)));
  }
  store<f32>(out, f32x4.extract_lane(acc, 0));
  store<f32>(out + outOffset, f32x4.extract_lane(acc, 1));
  store<f32>(out + 2 * outOffset, f32x4.extract_lane(acc, 2));
  store<f32>(out + 3 * outOffset, f32x4.extract_lane(acc, 3));
}

/** rowsDotQ4_K4Streams' header work for the super-blocks at b0…b3 (input code sums at sums, its scale dx in every lane), into tmp as drawn there. */
@inline function superBlockHeaders4(b0: usize, b1: usize, b2: usize, b3: usize, sums: usize, dx: v128, tmp: usize): void {
  // the 4×4 transpose: halves, u0, u1, u2 hold word 0…3 of row i in lane i
  const r0 = v128.load(b0), r1 = v128.load(b1), r2 = v128.load(b2), r3 = v128.load(b3);
  const t01l = v128.shuffle<i32>(r0, r1, 0, 4, 1, 5), t01h = v128.shuffle<i32>(r0, r1, 2, 6, 3, 7);
  const t23l = v128.shuffle<i32>(r2, r3, 0, 4, 1, 5), t23h = v128.shuffle<i32>(r2, r3, 2, 6, 3, 7);
  const halves = v128.shuffle<i64>(t01l, t23l, 0, 2), u0 = v128.shuffle<i64>(t01l, t23l, 1, 3);
  const u1 = v128.shuffle<i64>(t01h, t23h, 0, 2), u2 = v128.shuffle<i64>(t01h, t23h, 1, 3);
  const sc03 = v128.and(u0, i8x16.splat(0x3f)), m03 = v128.and(u1, i8x16.splat(0x3f));
  const sc47 = v128.or(v128.and(u2, i8x16.splat(0x0f)), v128.and(i32x4.shr_u(u0, 2), i8x16.splat(0x30)));
  const m47 = v128.or(v128.and(i32x4.shr_u(u2, 4), i8x16.splat(0x0f)), v128.and(i32x4.shr_u(u1, 2), i8x16.splat(0x30)));
  // each row's eight bytes side by side ([row 0 | row 1], [row 2 | row 3]), then widened to i16
  const sc01 = v128.shuffle<i32>(sc03, sc47, 0, 4, 1, 5), sc23 = v128.shuffle<i32>(sc03, sc47, 2, 6, 3, 7);
  v128.store(tmp, i16x8.extend_low_i8x16_u(sc01));
  v128.store(tmp, i16x8.extend_high_i8x16_u(sc01), 16);
  v128.store(tmp, i16x8.extend_low_i8x16_u(sc23), 32);
  v128.store(tmp, i16x8.extend_high_i8x16_u(sc23), 48);
  // Σ_j m_j·Σx_j per row: one i16 dot product with the input's eight code sums, folded across lanes
  const m01 = v128.shuffle<i32>(m03, m47, 0, 4, 1, 5), m23 = v128.shuffle<i32>(m03, m47, 2, 6, 3, 7);
  const codeSums = codeSumsAt(sums);
  const mins = sum4x4(
    i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_u(m01), codeSums), i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_u(m01), codeSums),
    i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_u(m23), codeSums), i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_u(m23), codeSums));
  // d and dmin of each row (the low and high f16 of word 0), times dx
  const d = halfToFloat4(i32x4.shr_s(i32x4.shl(halves, 16), 16)), dmin = halfToFloat4(i32x4.shr_s(halves, 16));
  v128.store(tmp, f32x4.mul(d, dx), 64);
  v128.store(tmp, f32x4.mul(f32x4.mul(dmin, dx), f32x4.convert_i32x4_s(mins)), 80);
}

/**
 * Four input rows (at a, stride apart) · one q4_k weight row of nsb super-blocks: outputs at
 * out + r·outStride. Each chunk's codes are unpacked once for the four rows; the sub-block sums
 * wait at tmp (128 bytes per row) until the super-block's term, the one-row kernel's.
 */
export function rowsDotQ4_K4(w: usize, a: usize, stride: usize, scalesAt: usize, sumsAt: usize, nsb: i32, out: usize, outStride: usize, tmp: usize): void {
  const chunkCodes: usize = 64 * Q4_CODE_BYTES;
  let acc0: f32 = 0, acc1: f32 = 0, acc2: f32 = 0, acc3: f32 = 0;
  for (let sb = 0; sb < nsb; sb++) {
    const blk = w + <usize>sb * SUPER_BLOCK_BYTES, ab = a + <usize>sb * 4 * chunkCodes;
    for (let c: usize = 0; c < 4; c++) {
      const qs = blk + CODES_AT + (c << 5);
      const first = v128.load(qs), second = v128.load(qs, 16);
      if (ASC_FEATURE_RELAXED_SIMD) {
        const lo0 = lowNibbles(first), lo1 = lowNibbles(second), hi0 = highNibbles(first), hi1 = highNibbles(second);
        for (let r: usize = 0; r < 4; r++) {
          const ac = ab + r * stride + c * chunkCodes, t = tmp + 128 * r + 32 * c;
          v128.store(t, relaxedBlock(lo0, v128.load(ac), lo1, v128.load(ac, 16)));
          v128.store(t, relaxedBlock(hi0, v128.load(ac, 32), hi1, v128.load(ac, 48)), 16);
        }
      } else {
        const m = i16x8.splat(0x000f);
        const f0 = v128.and(first, m), f1 = v128.and(i16x8.shr_u(first, 4), m), f2 = v128.and(i16x8.shr_u(first, 8), m), f3 = i16x8.shr_u(first, 12);
        const g0 = v128.and(second, m), g1 = v128.and(i16x8.shr_u(second, 4), m), g2 = v128.and(i16x8.shr_u(second, 8), m), g3 = i16x8.shr_u(second, 12);
        for (let r: usize = 0; r < 4; r++) {
          const ac = ab + r * stride + c * chunkCodes, t = tmp + 128 * r + 32 * c;
          v128.store(t, dot32(f0, f2, g0, g2, ac));
          v128.store(t, dot32(f1, f3, g1, g3, ac + 64), 16);
        }
      }
    }
    const packed = scalesAndMins(blk);
    const sc = i16x8.extend_low_i8x16_u(packed);
    const scLow = i32x4.extend_low_i16x8_u(sc), scHigh = i32x4.extend_high_i16x8_u(sc);
    for (let r: usize = 0; r < 4; r++) {
      const t = tmp + 128 * r, ar = a + r * stride;
      const lo = sum4x4(v128.load(t), v128.load(t, 16), v128.load(t, 32), v128.load(t, 48));
      const hi = sum4x4(v128.load(t, 64), v128.load(t, 80), v128.load(t, 96), v128.load(t, 112));
      const scaled = i32x4.add(i32x4.mul(lo, scLow), i32x4.mul(hi, scHigh));
      const term = superBlockTerm(blk, packed, scaled, ar + sumsAt + (<usize>sb << 5), load<f32>(ar + scalesAt + (<usize>sb << 2)));
      if (r == 0) acc0 += term; else if (r == 1) acc1 += term; else if (r == 2) acc2 += term; else acc3 += term;
    }
  }
  store<f32>(out, acc0);
  store<f32>(out + outStride, acc1);
  store<f32>(out + 2 * outStride, acc2);
  store<f32>(out + 3 * outStride, acc3);
}
