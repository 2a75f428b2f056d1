// The fast half of the pair whose reference is Candidates.softmaxWholeRow / drawWholeRow with
// expUsualInPlace (src/candidates.ts, src/portable-math.ts): the sampler's whole-row softmax and
// draw over the row's logits, in WebAssembly SIMD. It must give the same bits, so every
// operation below is the reference's, in the reference's order, with no fused multiply-add
// (plain SIMD128 has none) and IEEE-754 double arithmetic in every lane: a lane computes
// exactly what the TypeScript loop computes for its element. What SIMD changes is only how many
// elements run at once (4 for the f32 max/min, 2 for the f64 exp); the two ordered chains (the
// sum and the draw's running total) stay serial, element by element in id order.
//
// Memory (the host lays it out, src/whole-row-wasm.ts; byte offsets, all 16-aligned):
//
//   | fraction: f64 × 64 | scalars: f64 × 4 | row: f32 × n | weights: f64 × n |
//      2^(j/64)             max, min, sum, –
//
// The table is written by the host from portable-math.ts's own (the module has no data
// segment), so both halves read the same numbers. The reference's other table, POW2, holds exact
// powers of two; for a normal result (k ∈ [−1022, 1023], all a usual argument gives) 2^k is the
// double whose exponent field is k + 1023 and whose mantissa is 0, built here from bits: the same
// number without a second gather.

/** The exponent bias of a double: 2^k has the biased exponent k + DOUBLE_BIAS in bits 52…62. */
const DOUBLE_BIAS: i32 = 1023;
const TABLE_MASK: i32 = 63;
const TABLE_BITS: i32 = 6;
/** 64·log2(e), ln2/64 split in two (portable-math.ts: STEPS_PER_UNIT, STEP_HI, STEP_LO). */
const STEPS_PER_UNIT: f64 = 64 * 1.4426950408889634;
const STEP_HI: f64 = 6.93147180369123816490e-1 / 64;
const STEP_LO: f64 = 1.90821492927058770002e-10 / 64;
/** 1.5·2^52: an integer-valued double below 2^51 in magnitude plus this is exact, with bits ROUND_BITS + n. */
const ROUND_MAGIC: f64 = 6755399441055744.0;
const ROUND_BITS: i64 = 0x4338000000000000;
/** Added to bits >> 6 to give k + DOUBLE_BIAS in the low 12 bits. */
const EXPONENT_OFFSET: i64 = <i64>DOUBLE_BIAS - (ROUND_BITS >> TABLE_BITS);

/**
 * scalars[0] = the largest, scalars[1] = the smallest of row[0..n), as Math.max / Math.min fold
 * them (a NaN anywhere gives NaN; +0 beats −0). Both are order-free, so lanes may each fold a
 * part and be folded after: the same result as one pass in id order. Four accumulators of four
 * lanes, not one: V8 lowers f32x4.max/min to several dependent instructions (the NaN and −0
 * rules), so a single accumulator makes the pass a latency chain (2.7 µs of 2,048 logits, a sixth
 * of the sampler's time per token); four independent chains run in the same cycles.
 */
export function rowRange(row: usize, n: i32, scalars: usize): void {
  let max0 = f32x4.splat(-Infinity), min0 = f32x4.splat(Infinity);
  let max1 = max0, min1 = min0, max2 = max0, min2 = min0, max3 = max0, min3 = min0;
  let i = 0;
  for (; i + 16 <= n; i += 16) {
    const at = row + (<usize>i << 2);
    const v0 = v128.load(at), v1 = v128.load(at, 16), v2 = v128.load(at, 32), v3 = v128.load(at, 48);
    max0 = f32x4.max(max0, v0);
    min0 = f32x4.min(min0, v0);
    max1 = f32x4.max(max1, v1);
    min1 = f32x4.min(min1, v1);
    max2 = f32x4.max(max2, v2);
    min2 = f32x4.min(min2, v2);
    max3 = f32x4.max(max3, v3);
    min3 = f32x4.min(min3, v3);
  }
  let max4 = f32x4.max(f32x4.max(max0, max1), f32x4.max(max2, max3));
  let min4 = f32x4.min(f32x4.min(min0, min1), f32x4.min(min2, min3));
  for (; i + 4 <= n; i += 4) {
    const v = v128.load(row + (<usize>i << 2));
    max4 = f32x4.max(max4, v);
    min4 = f32x4.min(min4, v);
  }
  let hi = max(max(f32x4.extract_lane(max4, 0), f32x4.extract_lane(max4, 1)), max(f32x4.extract_lane(max4, 2), f32x4.extract_lane(max4, 3)));
  let lo = min(min(f32x4.extract_lane(min4, 0), f32x4.extract_lane(min4, 1)), min(f32x4.extract_lane(min4, 2), f32x4.extract_lane(min4, 3)));
  for (; i < n; i++) {
    const v = load<f32>(row + (<usize>i << 2));
    hi = max(hi, v);
    lo = min(lo, v);
  }
  store<f64>(scalars, <f64>hi);
  store<f64>(scalars, <f64>lo, 8);
}

/** e^x for two usual arguments (expUsualInPlace's body, one element per lane). */
@inline function exp2Lanes(x: v128, fraction: usize): v128 {
  // n = floor(x·64/ln2 + ½), exact integers; kept as doubles for the reduction, as int32 for the tables
  const nd = f64x2.floor(f64x2.add(f64x2.mul(x, f64x2.splat(STEPS_PER_UNIT)), f64x2.splat(0.5)));
  // n's bits without a float → int conversion (trunc_sat is seven instructions on x64): nd + 1.5·2^52
  // is exact (|nd| < 2^17) and its 64 bits are ROUND_BITS + n, n in two's complement
  const bits = f64x2.add(nd, f64x2.splat(ROUND_MAGIC));
  const r = f64x2.sub(f64x2.sub(x, f64x2.mul(nd, f64x2.splat(STEP_HI))), f64x2.mul(nd, f64x2.splat(STEP_LO)));
  // 1 + (r + r·r·(1/2 + r·(1/6 + r·(1/24 + r·(1/120)))))
  let poly = f64x2.add(f64x2.splat(1.0 / 24), f64x2.mul(r, f64x2.splat(1.0 / 120)));
  poly = f64x2.add(f64x2.splat(1.0 / 6), f64x2.mul(r, poly));
  poly = f64x2.add(f64x2.splat(1.0 / 2), f64x2.mul(r, poly));
  const er = f64x2.add(f64x2.splat(1.0), f64x2.add(r, f64x2.mul(f64x2.mul(r, r), poly)));
  // 2^(j/64): byte offsets computed in the lanes, then one load per lane
  // (ROUND_BITS's low 51 bits are zero, so the low bits are n's: n & 63 = bits & 63)
  const fracAt = i64x2.shl(v128.and(bits, i64x2.splat(TABLE_MASK)), 3);
  let f = f64x2.splat(load<f64>(fraction + <usize>i64x2.extract_lane(fracAt, 0)));
  f = f64x2.replace_lane(f, 1, load<f64>(fraction + <usize>i64x2.extract_lane(fracAt, 1)));
  // 2^k, k = n >> 6, from its bits: (bits >> 6) = ROUND_BITS/64 + k exactly (ROUND_BITS is a
  // multiple of 64), and the shift by 52 keeps only the low 12 bits of k + DOUBLE_BIAS, so a
  // logical shift (one x64 instruction; the arithmetic one on 64-bit lanes is not) serves
  const p = i64x2.shl(i64x2.add(i64x2.shr_u(bits, TABLE_BITS), i64x2.splat(EXPONENT_OFFSET)), 52);
  // fraction · e^r · 2^k, in that order
  return f64x2.mul(f64x2.mul(f, er), p);
}

/** The same for one argument (the row's odd last element). */
@inline function exp1(x: f64, fraction: usize): f64 {
  const nd = floor(x * STEPS_PER_UNIT + 0.5);
  const n = <i32>nd;
  const r = x - nd * STEP_HI - nd * STEP_LO;
  const er = 1 + (r + r * r * (1.0 / 2 + r * (1.0 / 6 + r * (1.0 / 24 + r * (1.0 / 120)))));
  return load<f64>(fraction + (<usize>(n & TABLE_MASK) << 3)) * er * reinterpret<f64>(<i64>((n >> TABLE_BITS) + DOUBLE_BIAS) << 52);
}

/**
 * weights[i] = e^((row[i] − max)·invT) and scalars[2] = Σ weights[i] added in id order, for a row
 * whose every shifted logit is usual for the exp (the host checked it from rowRange's min).
 */
export function expShiftedSum(row: usize, n: i32, weights: usize, max: f64, invT: f64, fraction: usize, scalars: usize): void {
  const max2 = f64x2.splat(max), invT2 = f64x2.splat(invT);
  let sum: f64 = 0;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const v = v128.load(row + (<usize>i << 2));
    const low = f64x2.mul(f64x2.sub(f64x2.promote_low_f32x4(v), max2), invT2);
    const high = f64x2.mul(f64x2.sub(f64x2.promote_low_f32x4(v128.shuffle<f32>(v, v, 2, 3, 2, 3)), max2), invT2);
    const e0 = exp2Lanes(low, fraction);
    const e1 = exp2Lanes(high, fraction);
    const at = weights + (<usize>i << 3);
    v128.store(at, e0);
    v128.store(at, e1, 16);
    sum += f64x2.extract_lane(e0, 0);
    sum += f64x2.extract_lane(e0, 1);
    sum += f64x2.extract_lane(e1, 0);
    sum += f64x2.extract_lane(e1, 1);
  }
  for (; i < n; i++) {
    const e = exp1((<f64>load<f32>(row + (<usize>i << 2)) - max) * invT, fraction);
    store<f64>(weights + (<usize>i << 3), e);
    sum += e;
  }
  store<f64>(scalars, sum, 16);
}

/**
 * drawWholeRow: the first token whose running total of weights[i]·inverse exceeds u (zeros
 * skipped), else the last token with a non-zero probability (u in the float sum's rounding gap).
 */
export function drawWeights(weights: usize, n: i32, inverse: f64, u: f64): i32 {
  let cumulative: f64 = 0;
  let lastNonZero = 0;
  for (let i = 0; i < n; i++) {
    const p = load<f64>(weights + (<usize>i << 3)) * inverse;
    if (p == 0) continue;
    cumulative += p;
    lastNonZero = i;
    if (u < cumulative) return i;
  }
  return lastNonZero;
}
