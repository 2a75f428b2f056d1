import { f16ToF32, f32ToF16 } from "@zero-llm/tensor";

/**
 * The C float semantics that ggml's reference quantizers rely on, spelled out for JavaScript.
 *
 * JavaScript computes in float64. The C code computes in float32 (x86-64: SSE, FLT_EVAL_METHOD 0,
 * no fused multiply-add when built as ISO C). Rounding every +, −, ×, ÷ and sqrt result to
 * float32 with `Math.fround` gives exactly the float32 result: float64 holds more than twice
 * float32's 24 bits, so rounding twice (to float64, then float32) never differs from rounding
 * once. Every intermediate the C code keeps in a `float` is therefore wrapped in `f32(…)`.
 */
export const f32 = Math.fround;

// C `roundf` and the x86-64 float → int8_t conversion live with the KV-cache packers in
// @zero-llm/tensor (which quantize cache rows with these same block rules).
export { roundf, floatToInt8 } from "@zero-llm/tensor";

const magicF32 = new Float32Array(1);
const magicI32 = new Int32Array(magicF32.buffer);

/**
 * ggml's `nearest_int`: adds 1.5·2^23 in float32 so that the float unit rounds the value to an
 * integer (ties to even) in the low mantissa bits, and reads them back. Exact for |x| ≤ 2^22;
 * beyond that (or for ±inf, NaN) it returns what the same bit manipulation gives in C, which
 * ggml's asserts rule out in debug builds only.
 */
export function nearestInt(x: number): number {
  magicF32[0] = x + 12582912; // float64 sum exact, the store rounds it to float32 as C does
  return (magicI32[0] & 0x007fffff) - 0x00400000;
}

/** fp32 → fp16 bits, round to nearest even (ggml's GGML_FP32_TO_FP16; NaN becomes a quiet NaN). */
export const fp16 = f32ToF16;

/** fp16 bits → the float32 they encode (exact). */
export const fp16ToF32 = f16ToF32;

/** The f16 stored little-endian at `bytes[offset]`, as a float. */
export function readF16(bytes: Uint8Array, offset: number): number {
  return f16ToF32(bytes[offset] | (bytes[offset + 1] << 8));
}

/** Stores f16 bits little-endian at `bytes[offset]`. */
export function writeF16Bits(bytes: Uint8Array, offset: number, bits: number): void {
  bytes[offset] = bits & 0xff;
  bytes[offset + 1] = bits >>> 8;
}

/** `bytes[offset]` as a signed byte. */
export function int8At(bytes: Uint8Array, offset: number): number {
  return (bytes[offset] << 24) >> 24;
}
