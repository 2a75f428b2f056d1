import { f32ToF16 } from "../dtype/half";
import { checkCount, shapeMismatch } from "../backend/arg-checks";
import { kvRowBytes, type KvType } from "./kv";

// Packing a KV-cache row (the writer of the rows kvRowValues reads): ggml's reference quantizers
// (quantize_row_q8_0_ref, quantize_row_q4_0_ref, quantize_row_q4_1_ref) one 32-value block at a
// time, in C float semantics. @zero-llm/quant's row quantizers are these block rules in a loop;
// the wasm backend's packKvRows (assembly/kv-pack.ts) writes the same bytes.
//
// C computes in float32; JavaScript in float64. Rounding each +, −, ×, ÷ result with Math.fround
// gives the float32 result exactly (float64 holds more than twice float32's 24 bits).

const f32 = Math.fround;

/** C `roundf`: to the nearest integer, halves away from zero (Math.round sends −2.5 to −2). */
export function roundf(x: number): number {
  // floor(|x| + 0.5) is exact in float64 for any float32 |x| (the sum needs at most 25 bits)
  return x < 0 ? -Math.floor(-x + 0.5) : Math.floor(x + 0.5);
}

/**
 * C's conversion of a float to `int8_t` as gcc compiles it for x86-64: truncate toward zero to
 * a 32-bit integer (cvttss2si, which gives 0x80000000 for NaN, ±inf and anything outside the
 * int32 range) and keep the low byte, sign-extended. The C standard leaves out-of-range
 * conversions undefined; ggml hits them only for NaN/inf inputs or scales that overflow.
 */
export function floatToInt8(x: number): number {
  const t = Number.isFinite(x) && Math.abs(x) < 2147483648 ? Math.trunc(x) : -2147483648;
  return (t << 24) >> 24;
}

function writeHalf(y: Uint8Array, at: number, x: number): void {
  const bits = f32ToF16(x);
  y[at] = bits & 0xff;
  y[at + 1] = bits >>> 8;
}

/**
 * One Q8_0 block (34 bytes: | d: f16 | 32 × i8 |) of x[xb … xb + 32) at y[yb]: d = max|x| / 127,
 * q = roundf(x · (1/d)), the scale stored as f16 but the values divided by the float32 one.
 */
export function packBlockQ8_0(x: Float32Array, xb: number, y: Uint8Array, yb: number): void {
  let amax = 0;
  // MAX(a, b) is `a > b ? a : b`: a NaN resets the running maximum to NaN, the next value replaces it
  for (let j = 0; j < 32; j++) {
    const v = Math.abs(x[xb + j]);
    amax = amax > v ? amax : v;
  }
  const d = f32(amax / 127);
  const id = d !== 0 ? f32(1 / d) : 0; // `d ? 1/d : 0`: NaN counts as true in C
  writeHalf(y, yb, d);
  for (let j = 0; j < 32; j++) y[yb + 2 + j] = floatToInt8(roundf(f32(x[xb + j] * id)));
}

/**
 * One Q4_0 block (18 bytes: | d: f16 | 16 × u8 |, byte j = q[j] | q[j + 16] << 4) at y[yb]:
 * d = m / −8 with m the first value of the largest magnitude, q = min(15, trunc(x · (1/d) + 8.5)).
 */
export function packBlockQ4_0(x: Float32Array, xb: number, y: Uint8Array, yb: number): void {
  let amax = 0, max = 0;
  for (let j = 0; j < 32; j++) {
    const v = x[xb + j];
    if (amax < Math.abs(v)) {
      amax = Math.abs(v);
      max = v;
    }
  }
  const d = f32(max / -8);
  const id = d !== 0 ? f32(1 / d) : 0;
  writeHalf(y, yb, d);
  for (let j = 0; j < 16; j++) {
    // MIN(15, (int8_t)(x·id + 8.5f)) stored in a uint8_t
    const q0 = Math.min(15, floatToInt8(f32(f32(x[xb + j] * id) + 8.5))) & 0xff;
    const q1 = Math.min(15, floatToInt8(f32(f32(x[xb + 16 + j] * id) + 8.5))) & 0xff;
    y[yb + 2 + j] = q0 | (q1 << 4);
  }
}

const FLT_MAX = 3.4028234663852886e38;

/**
 * One Q4_1 block (20 bytes: | d: f16 | m: f16 | 16 × u8 |) at y[yb]: m = min x,
 * d = (max x − min x) / 15, q = min(15, trunc((x − m) · (1/d) + 0.5)).
 */
export function packBlockQ4_1(x: Float32Array, xb: number, y: Uint8Array, yb: number): void {
  let min = FLT_MAX, max = -FLT_MAX;
  for (let j = 0; j < 32; j++) {
    const v = x[xb + j];
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const d = f32(f32(max - min) / 15);
  const id = d !== 0 ? f32(1 / d) : 0;
  writeHalf(y, yb, d);
  writeHalf(y, yb + 2, min);
  for (let j = 0; j < 16; j++) {
    const q0 = Math.min(15, floatToInt8(f32(f32(f32(x[xb + j] - min) * id) + 0.5))) & 0xff;
    const q1 = Math.min(15, floatToInt8(f32(f32(f32(x[xb + 16 + j] - min) * id) + 0.5))) & 0xff;
    y[yb + 4 + j] = q0 | (q1 << 4);
  }
}

const BLOCK_PACKERS = { q8_0: packBlockQ8_0, q4_0: packBlockQ4_0, q4_1: packBlockQ4_1 } as const;
const BLOCK_BYTES = { q8_0: 34, q4_0: 18, q4_1: 20 } as const;

// One zero-padded block of input, for the tail of a row that does not fill its last block.
const tail = new Float32Array(32);
const bitsView = new Float32Array(1);
const bitsBytes = new Uint8Array(bitsView.buffer);

/**
 * Packs `rows` rows of rowLen values, src[srcOffset + r · rowLen …], into the KV layout of `type`
 * at dst[dstOffset + r · kvRowBytes(type, rowLen) …] (src/quant/kv.ts draws it): f32 as its
 * little-endian bytes, f16 rounded to nearest even, the block types in blocks of 32 with the last
 * block zero-padded past rowLen. The reference of Backend.packKvRows.
 */
export function packKvRowsReference(
  type: KvType, src: Float32Array, srcOffset: number, rowLen: number, rows: number, dst: Uint8Array, dstOffset: number,
): void {
  checkPackKvRows("js", type, src, srcOffset, rowLen, rows, dst, dstOffset);
  const rowBytes = kvRowBytes(type, rowLen);
  for (let r = 0; r < rows; r++) {
    const x = srcOffset + r * rowLen, y = dstOffset + r * rowBytes;
    if (type === "f32" || type === "f16") {
      for (let i = 0; i < rowLen; i++) {
        if (type === "f16") writeHalf(dst, y + 2 * i, src[x + i]);
        else {
          bitsView[0] = src[x + i];
          for (let b = 0; b < 4; b++) dst[y + 4 * i + b] = bitsBytes[b];
        }
      }
      continue;
    }
    const pack = BLOCK_PACKERS[type], blockBytes = BLOCK_BYTES[type];
    const whole = Math.floor(rowLen / 32);
    for (let b = 0; b < whole; b++) pack(src, x + 32 * b, dst, y + blockBytes * b);
    const rest = rowLen - 32 * whole;
    if (rest > 0) {
      for (let j = 0; j < 32; j++) tail[j] = j < rest ? src[x + 32 * whole + j] : 0;
      pack(tail, 0, dst, y + blockBytes * whole);
    }
  }
}

/** The argument checks of packKvRows on every backend (allocation-free when they pass: they run per token); the row bytes. */
export function checkPackKvRows(
  backend: string, type: KvType, src: Float32Array, srcOffset: number, rowLen: number, rows: number, dst: Uint8Array, dstOffset: number,
): number {
  const op = "packKvRows";
  const rowBytes = kvRowBytes(type, rowLen);
  checkCount(backend, op, "srcOffset", srcOffset);
  checkCount(backend, op, "rowLen", rowLen);
  checkCount(backend, op, "rows", rows);
  checkCount(backend, op, "dstOffset", dstOffset);
  if (srcOffset + rows * rowLen > src.length) shapeMismatch(backend, op, `src (${rows} rows of ${rowLen} from ${srcOffset})`, src.length, srcOffset + rows * rowLen);
  if (dstOffset + rows * rowBytes > dst.length) shapeMismatch(backend, op, `dst (${rows} ${type} rows of ${rowBytes} bytes from ${dstOffset})`, dst.length, dstOffset + rows * rowBytes);
  return rowBytes;
}
