/**
 * Half-precision storage formats: IEEE 754 binary16 ("f16") and bfloat16 ("bf16").
 *
 * They are storage dtypes: tensors are held in f16/bf16 bits (Uint16Array) and widened to f32
 * for math. Conversions are exact where they can be (every f16 and bf16 value is an f32 value)
 * and round-to-nearest, ties-to-even where they cannot (f32 -> f16, f32 -> bf16).
 *
 * Bit layouts (most significant bit first):
 *
 *   f32  | sign:1 | exponent:8 (bias 127) | mantissa:23 |
 *   f16  | sign:1 | exponent:5 (bias 15)  | mantissa:10 |   max 65504, min normal 2^-14, min subnormal 2^-24
 *   bf16 | sign:1 | exponent:8 (bias 127) | mantissa:7  |   the top 16 bits of an f32
 *
 * A number passed to the scalar encoders is first rounded to f32 (as a Float32Array would hold it),
 * so the functions implement f32 -> f16 and f32 -> bf16 exactly, not f64 -> f16.
 *
 * NaN handling follows x86 F16C and ggml: the sign and the top payload bits are kept and the
 * quiet bit is set, so a NaN never turns into an infinity.
 */

// One shared scratch word to move between a float and its bits.
const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

/** The raw bits of `x` rounded to f32. */
export function f32ToBits(x: number): number {
  scratchF32[0] = x;
  return scratchU32[0];
}

/** The f32 whose raw bits are `bits` (an unsigned 32-bit integer). */
export function bitsToF32(bits: number): number {
  scratchU32[0] = bits >>> 0;
  return scratchF32[0];
}

/** f32 bits -> f16 bits, round to nearest, ties to even. */
function f32BitsToF16Bits(bits: number): number {
  const sign = (bits >>> 16) & 0x8000;
  const exponent = (bits >>> 23) & 0xff;
  const mantissa = bits & 0x7fffff;

  if (exponent === 0xff) {
    if (mantissa === 0) return sign | 0x7c00; // ±inf
    return sign | 0x7e00 | (mantissa >>> 13); // NaN: quiet bit set, top payload bits kept
  }

  // Re-bias the exponent: f32 bias 127, f16 bias 15.
  const halfExponent = exponent - 127 + 15;
  if (halfExponent >= 0x1f) return sign | 0x7c00; // beyond 65520 after rounding -> ±inf

  if (halfExponent <= 0) {
    // The result is an f16 subnormal (or zero): value = m * 2^-24 with m in [0, 1023].
    // With the implicit bit made explicit, m = significand >> (14 - halfExponent), rounded.
    if (halfExponent < -10) return sign; // below 2^-25: rounds to ±0
    const significand = mantissa | 0x800000;
    const shift = 14 - halfExponent; // 14..24
    let m = significand >>> shift;
    const remainder = significand & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (remainder > halfway || (remainder === halfway && (m & 1) === 1)) m += 1;
    return sign | m; // m may reach 0x400: that is exactly the smallest normal, encoded correctly
  }

  // Normal: keep the top 10 of 23 mantissa bits, round on the 13 dropped bits.
  let half = sign | (halfExponent << 10) | (mantissa >>> 13);
  const remainder = mantissa & 0x1fff;
  // A carry out of the mantissa bumps the exponent, which is right (up to 0x7c00 = inf).
  if (remainder > 0x1000 || (remainder === 0x1000 && (half & 1) === 1)) half += 1;
  return half;
}

/** f16 bits -> f32 bits (exact). */
function f16BitsToF32Bits(half: number): number {
  const sign = (half & 0x8000) << 16;
  const exponent = (half >>> 10) & 0x1f;
  const mantissa = half & 0x3ff;

  if (exponent === 0x1f) return (sign | 0x7f800000 | (mantissa << 13)) >>> 0; // inf / NaN
  if (exponent !== 0) return (sign | ((exponent - 15 + 127) << 23) | (mantissa << 13)) >>> 0;
  if (mantissa === 0) return sign >>> 0; // ±0

  // Subnormal m * 2^-24: normalise so the leading 1 becomes the implicit bit.
  // m has its leading 1 at bit p (0..9); the value is 2^(p-24) * (1.fraction).
  const p = 31 - Math.clz32(mantissa);
  const fraction = (mantissa << (23 - p)) & 0x7fffff;
  return (sign | ((p - 24 + 127) << 23) | fraction) >>> 0;
}

/** f32 bits -> bf16 bits: round to nearest even on the low 16 bits; NaN stays NaN. */
function f32BitsToBf16Bits(bits: number): number {
  if ((bits & 0x7fffffff) > 0x7f800000) return ((bits >>> 16) | 0x0040) & 0xffff; // quiet NaN
  // Adding 0x7fff (+1 when the kept lsb is odd) carries into bit 16 exactly when rounding up.
  const roundingBias = 0x7fff + ((bits >>> 16) & 1);
  return ((bits + roundingBias) >>> 16) & 0xffff;
}

/** A number (rounded to f32) -> f16 bits, round to nearest even. */
export function f32ToF16(x: number): number {
  return f32BitsToF16Bits(f32ToBits(x));
}

/** f16 bits -> the number it encodes (exact). */
export function f16ToF32(half: number): number {
  return bitsToF32(f16BitsToF32Bits(half & 0xffff));
}

/** A number (rounded to f32) -> bf16 bits, round to nearest even. */
export function f32ToBf16(x: number): number {
  return f32BitsToBf16Bits(f32ToBits(x));
}

/** bf16 bits -> the number it encodes (exact: the bits are the top half of an f32). */
export function bf16ToF32(bf16: number): number {
  return bitsToF32(((bf16 & 0xffff) << 16) >>> 0);
}

// f16 -> f32 for whole arrays goes through a 65536-entry table (256 KiB), built on first use.
let f16Table: Uint32Array | undefined;
function f16ToF32Table(): Uint32Array {
  if (f16Table === undefined) {
    f16Table = new Uint32Array(65536);
    for (let h = 0; h < 65536; h++) f16Table[h] = f16BitsToF32Bits(h);
  }
  return f16Table;
}

/** Encode an f32 array as f16 bits (round to nearest even). `out` may be given to avoid allocation. */
export function f32ArrayToF16(values: Float32Array, out = new Uint16Array(values.length)): Uint16Array {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  for (let i = 0; i < values.length; i++) out[i] = f32BitsToF16Bits(bits[i]);
  return out;
}

/** Decode f16 bits to f32 (exact). */
export function f16ArrayToF32(halves: Uint16Array, out: Float32Array = new Float32Array(halves.length)): Float32Array {
  const table = f16ToF32Table();
  const outBits = new Uint32Array(out.buffer, out.byteOffset, out.length);
  for (let i = 0; i < halves.length; i++) outBits[i] = table[halves[i]]!;
  return out;
}

/** Encode an f32 array as bf16 bits (round to nearest even, NaN kept NaN). */
export function f32ArrayToBf16(values: Float32Array, out = new Uint16Array(values.length)): Uint16Array {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  for (let i = 0; i < values.length; i++) out[i] = f32BitsToBf16Bits(bits[i]);
  return out;
}

/** Decode bf16 bits to f32 (exact). */
export function bf16ArrayToF32(bf16s: Uint16Array, out: Float32Array = new Float32Array(bf16s.length)): Float32Array {
  const outBits = new Uint32Array(out.buffer, out.byteOffset, out.length);
  for (let i = 0; i < bf16s.length; i++) outBits[i] = bf16s[i] << 16;
  return out;
}
