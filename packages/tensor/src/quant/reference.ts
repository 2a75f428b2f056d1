// The reference quantized matrix products: plain loops over ggml's blocks that the wasm kernels
// (assembly/quant-dot.ts) are held to. One output is one weight row · one quantized input row.
import { f16ToF32 } from "../dtype/half";
import { quantizeRowQ8, quantizeRowQ8K, type QuantizedRow } from "./activation";
import { q4_0TileCodesAt, q4_0TileScaleAt, type QuantLayout } from "./tiles";
import { QUANT_TYPES, quantRowBytes, type QuantType } from "./types";

const f32 = Math.fround;

/** The f16 stored little-endian at w[at], as a float. */
function f16At(w: Uint8Array, at: number): number {
  return f16ToF32(w[at] | (w[at + 1] << 8));
}

/** w[at] as a signed byte. */
function i8At(w: Uint8Array, at: number): number {
  return (w[at] << 24) >> 24;
}

/**
 * The blocks' float terms are added the way the SIMD kernel adds them, so that both backends
 * give the same bits: block b goes into running sum b mod 4 (the kernel's f32x4 lane), and the
 * four sums are added as (s0 + s2) + (s1 + s3) at the end. Everything inside a block is an
 * exact integer sum, whatever order it is taken in. (One shared array: no allocation per dot.)
 */
const lanes = new Float64Array(4);
function addToLane(block: number, term: number): void {
  lanes[block & 3] = f32(lanes[block & 3] + term);
}
function laneTotal(): number {
  const total = f32(f32(lanes[0] + lanes[2]) + f32(lanes[1] + lanes[3]));
  lanes.fill(0);
  return total;
}

/** q8_0 weights · q8_0 input: Σ_b (dw·dx)·Σ_j w_j·x_j. */
export function dotQ8_0(w: Uint8Array, at: number, x: QuantizedRow, k: number): number {
  for (let b = 0; b < k / 32; b++) {
    const block = at + 34 * b;
    let isum = 0;
    for (let j = 0; j < 32; j++) isum += i8At(w, block + 2 + j) * x.codes[32 * b + j];
    addToLane(b, f32(f32(f16At(w, block) * x.scales[b]) * isum));
  }
  return laneTotal();
}

/** q4_0 weights · q8_0 input: Σ_b (dw·dx)·Σ_j (q_j − 8)·x_j, the − 8 taken once per block as −8·Σ x_j. */
export function dotQ4_0(w: Uint8Array, at: number, x: QuantizedRow, k: number): number {
  for (let b = 0; b < k / 32; b++) addToLane(b, blockQ4_0(w, at + 18 * b, at + 18 * b + 2, x, b));
  return laneTotal();
}

/** dotQ4_0 for row o of a matrix held in q4_0 tiles (src/quant/tiles.ts): the same blocks, found elsewhere. */
function dotQ4_0Tiles(w: Uint8Array, o: number, x: QuantizedRow, k: number): number {
  const nb = k / 32;
  for (let b = 0; b < nb; b++) addToLane(b, blockQ4_0(w, q4_0TileScaleAt(o, b, nb), q4_0TileCodesAt(o, b, nb), x, b));
  return laneTotal();
}

/** One q4_0 block's float term: its scale at w[scale], its 16 code bytes at w[codes], input block b. */
function blockQ4_0(w: Uint8Array, scale: number, codes: number, x: QuantizedRow, b: number): number {
  let isum = 0;
  for (let j = 0; j < 16; j++) {
    const byte = w[codes + j];
    isum += (byte & 0xf) * x.codes[32 * b + j] + (byte >> 4) * x.codes[32 * b + 16 + j];
  }
  isum -= 8 * x.sums[b];
  return f32(f32(f16At(w, scale) * x.scales[b]) * isum);
}

/** q4_1 weights · q8_1 input: Σ_b (dw·dx)·Σ_j q_j·x_j + (mw·dx)·Σ_j x_j. */
export function dotQ4_1(w: Uint8Array, at: number, x: QuantizedRow, k: number): number {
  for (let b = 0; b < k / 32; b++) {
    const block = at + 20 * b;
    let isum = 0;
    for (let j = 0; j < 16; j++) {
      const byte = w[block + 4 + j];
      isum += (byte & 0xf) * x.codes[32 * b + j] + (byte >> 4) * x.codes[32 * b + 16 + j];
    }
    const dx = x.scales[b];
    addToLane(b, f32(f32(f32(f16At(w, block) * dx) * isum) + f32(f32(f16At(w, block + 2) * dx) * x.sums[b])));
  }
  return laneTotal();
}

/** Sub-block j's 6-bit scale (which = 0) or min (which = 1) of a q4_k super-block (ggml's get_scale_min_k4). */
function scaleOrMin(w: Uint8Array, scales: number, j: number, which: 0 | 1): number {
  if (j < 4) return w[scales + j + 4 * which] & 63;
  const low = which === 0 ? w[scales + j + 4] & 0xf : w[scales + j + 4] >> 4;
  return low | ((w[scales + j - 4 + 4 * which] >> 6) << 4);
}

/**
 * q4_k weights · q8_k input, per super-block of 256: d·dx·Σ_j sc_j·Σ q·x − dmin·dx·Σ_j m_j·Σ x,
 * both Σ_j exact integers; super-blocks are added one after the other.
 */
function dotQ4_K(w: Uint8Array, at: number, x: QuantizedRow, k: number): number {
  let sum = 0;
  for (let b = 0; b < k / 256; b++) {
    const block = at + 144 * b;
    let scaled = 0, mins = 0;
    for (let j = 0; j < 8; j++) {
      // sub-block j: the low nibbles (j even) or high nibbles (j odd) of the 32 bytes of chunk j >> 1
      const qs = block + 16 + 32 * (j >> 1);
      const shift = (j & 1) * 4;
      let isum = 0;
      for (let l = 0; l < 32; l++) isum += ((w[qs + l] >> shift) & 0xf) * x.codes[256 * b + 32 * j + l];
      scaled += scaleOrMin(w, block + 4, j, 0) * isum;
      mins += scaleOrMin(w, block + 4, j, 1) * x.sums[8 * b + j];
    }
    const dx = x.scales[b];
    // the integer sums become float32 first (`scaled` can pass 2^24, where that rounds)
    sum = f32(sum + f32(f32(f32(f16At(w, block) * dx) * f32(scaled)) - f32(f32(f16At(w, block + 2) * dx) * f32(mins))));
  }
  return sum;
}

/** f16 weights · float32 input, converted value by value (no float32 copy of the weights). */
function dotF16(w: Uint8Array, at: number, x: Float32Array, xOffset: number, k: number): number {
  let sum = 0;
  for (let c = 0; c < k; c++) sum = f32(sum + f32(f16At(w, at + 2 * c) * x[xOffset + c]));
  return sum;
}

// One quantized input row, reused across calls (grown on demand): a decode step on the reference
// backend allocates nothing here either.
let scratch: QuantizedRow = { codes: new Int8Array(0), scales: new Float32Array(0), sums: new Int32Array(0) };
function rowScratch(k: number): QuantizedRow {
  if (scratch.codes.length < k) {
    const n = Math.max(k, 2 * scratch.codes.length);
    scratch = { codes: new Int8Array(n), scales: new Float32Array(n / 32), sums: new Int32Array(n / 32) };
  }
  return scratch;
}

/**
 * out[r, o] = Σ_i W[o, i] · x[r, i]: each input row is quantized once to the weight type's
 * partner, then every output is one block-row dot product. Row r's results depend on row r
 * alone (batch-invariant). `layout` "q4_0x4": w holds q4_0 tiles (src/quant/tiles.ts).
 */
export function matmulQuantReference(
  out: Float32Array, x: Float32Array, w: Uint8Array, type: QuantType, rows: number, inFeatures: number, outFeatures: number,
  layout: QuantLayout = "rows",
): void {
  const k = inFeatures;
  const rowBytes = quantRowBytes(type, k);
  if (type === "f16") {
    for (let r = 0; r < rows; r++) {
      for (let o = 0; o < outFeatures; o++) out[r * outFeatures + o] = dotF16(w, o * rowBytes, x, r * k, k);
    }
    return;
  }
  const row = rowScratch(k);
  const dot = type === "q8_0" ? dotQ8_0 : type === "q4_0" ? dotQ4_0 : type === "q4_1" ? dotQ4_1 : dotQ4_K;
  for (let r = 0; r < rows; r++) {
    if (QUANT_TYPES[type].activation === "q8_k") quantizeRowQ8K(x, r * k, k, row);
    else quantizeRowQ8(x, r * k, k, row);
    if (layout === "q4_0x4") for (let o = 0; o < outFeatures; o++) out[r * outFeatures + o] = dotQ4_0Tiles(w, o, row, k);
    else for (let o = 0; o < outFeatures; o++) out[r * outFeatures + o] = dot(w, o * rowBytes, row, k);
  }
}
