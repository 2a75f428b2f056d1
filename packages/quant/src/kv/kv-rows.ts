import { KV_TYPES, kvRowBytes, kvRowValues } from "@zero-llm/tensor";
import { QuantError } from "../errors";
import { fp16 } from "../formats/c-float";
import { quantizeRowQ8_0, Q8_0_BLOCK_BYTES, QK8_0 } from "../formats/q8_0";
import { quantizeRowQ4_0, Q4_0_BLOCK_BYTES } from "../formats/q4_0";
import { quantizeRowQ4_1, Q4_1_BLOCK_BYTES } from "../formats/q4_1";

/**
 * Element types of a KV cache (llama.cpp's --cache-type-k / --cache-type-v), as row codecs: a
 * cached key or value row of rowLen = nKvHeads · headDim numbers is packed once when its token
 * is appended, and attention reads it straight from the packed bytes: q·k for one head is
 * `dot`, the value-weighted sum is `addScaled` (no f32 copy of the cache).
 *
 * A row is packed as a whole, in ggml blocks of 32 (f16: 2 bytes a value):
 *
 *   | block 0: values 0…31 | block 1: values 32…63 | … | last block, zero-padded past rowLen |
 *
 * so a head whose headDim does not divide into 32 simply starts or ends inside a block (the
 * readers take any [start, start + count) of the row). llama.cpp refuses such head sizes for a
 * quantized cache; packing whole rows keeps every head size working and wastes at most one
 * partial block per row, which is nothing when rowLen is a multiple of 32 (then
 * rowBytes = rowLen / 32 · blockBytes exactly, e.g. 2 KV heads × 16, or 4 × 8 in stories260K).
 * The price: a block shared by two heads has one scale for both.
 *
 * The packing is ggml's reference quantizer (quantize_row_q8_0_ref, …): the same bytes
 * llama.cpp's reference writes. `dot` and `addScaled` are plain float64 sums over the decoded
 * values; the fast path is the tensor package's `backend.attentionPacked`, which reads the same
 * rows (and, as llama.cpp does, quantizes the query to Q8_0 codes for a block-typed key cache:
 * per 32 values for whole-block heads, per 16 for heads of a multiple of 16 that share blocks).
 */
export interface KvRowFormat {
  readonly name: KvCacheType;
  /** Bytes per value, averaged over a block: f16 2, q8_0 34/32, q4_0 18/32, q4_1 20/32. */
  readonly bytesPerValue: number;
  /** Bytes of one packed row of `rowLen` values (rowLen rounded up to whole blocks). */
  rowBytes(rowLen: number): number;
  /** Packs src[srcOffset … srcOffset + rowLen) into dst at dstOffset. */
  quantizeRow(src: Float32Array, srcOffset: number, rowLen: number, dst: Uint8Array, dstOffset: number): void;
  /** Unpacks values [start, start + count) of the row at rowOffset into out[outOffset …]. */
  dequantize(row: Uint8Array, rowOffset: number, start: number, count: number, out: Float32Array, outOffset: number): void;
  /** Σ_d q[qOffset + d] · v[start + d] for d < count, v the row at rowOffset: one head's q·k. */
  dot(q: Float32Array, qOffset: number, row: Uint8Array, rowOffset: number, start: number, count: number): number;
  /** out[outOffset + d] += p · v[start + d] for d < count: one head's share of p·V. */
  addScaled(p: number, row: Uint8Array, rowOffset: number, start: number, count: number, out: Float32Array, outOffset: number): void;
}

/** The KV element types with a packed row format (f32 rows are plain Float32Arrays). */
export type KvCacheType = "f16" | "q8_0" | "q4_0" | "q4_1";

const BLOCK = QK8_0;

// One zero-padded block of input, for the tail of a row that does not fill its last block.
const tail = new Float32Array(BLOCK);

/** Packs a row block by block with a 32-value block quantizer, padding the last block with zeros. */
function packRow(
  quantize: (x: Float32Array, y: Uint8Array, k: number, xOffset: number, yOffset: number) => void, blockBytes: number,
  src: Float32Array, srcOffset: number, rowLen: number, dst: Uint8Array, dstOffset: number,
): void {
  const whole = Math.floor(rowLen / BLOCK);
  if (whole > 0) quantize(src, dst, whole * BLOCK, srcOffset, dstOffset);
  const rest = rowLen - whole * BLOCK;
  if (rest > 0) {
    for (let j = 0; j < BLOCK; j++) tail[j] = j < rest ? src[srcOffset + whole * BLOCK + j] : 0;
    quantize(tail, dst, BLOCK, 0, dstOffset + whole * blockBytes);
  }
}

function packF16(src: Float32Array, srcOffset: number, rowLen: number, dst: Uint8Array, dstOffset: number): void {
  for (let i = 0; i < rowLen; i++) {
    const h = fp16(src[srcOffset + i]);
    dst[dstOffset + 2 * i] = h & 0xff;
    dst[dstOffset + 2 * i + 1] = h >>> 8;
  }
}

// Decoded values of one head slice, reused (grown on demand): dot and addScaled allocate nothing.
let slice = new Float32Array(64);
function decoded(type: KvCacheType, row: Uint8Array, rowOffset: number, start: number, count: number): Float32Array {
  if (slice.length < count) slice = new Float32Array(Math.max(count, 2 * slice.length));
  kvRowValues(type, row, rowOffset, start, count, slice, 0);
  return slice;
}

/**
 * A row codec: packing is this package's (ggml's reference quantizers); reading is the tensor
 * package's kvRowValues, the decoding its packed attention kernel is held to.
 */
function rowFormat(name: KvCacheType, pack: KvRowFormat["quantizeRow"]): KvRowFormat {
  const { blockSize, blockBytes } = KV_TYPES[name];
  return {
    name,
    bytesPerValue: blockBytes / blockSize,
    rowBytes: (rowLen) => kvRowBytes(name, rowLen),
    quantizeRow: pack,
    dequantize: (row, rowOffset, start, count, out, outOffset) => kvRowValues(name, row, rowOffset, start, count, out, outOffset),
    dot(q, qOffset, row, rowOffset, start, count) {
      const values = decoded(name, row, rowOffset, start, count);
      let sum = 0;
      for (let d = 0; d < count; d++) sum += q[qOffset + d] * values[d];
      return sum;
    },
    addScaled(p, row, rowOffset, start, count, out, outOffset) {
      const values = decoded(name, row, rowOffset, start, count);
      for (let d = 0; d < count; d++) out[outOffset + d] += p * values[d];
    },
  };
}

/** The row codecs, by name. */
export const KV_ROW_FORMATS: Readonly<Record<KvCacheType, KvRowFormat>> = {
  f16: rowFormat("f16", packF16),
  q8_0: rowFormat("q8_0", (src, srcOffset, rowLen, dst, dstOffset) => packRow(quantizeRowQ8_0, Q8_0_BLOCK_BYTES, src, srcOffset, rowLen, dst, dstOffset)),
  q4_0: rowFormat("q4_0", (src, srcOffset, rowLen, dst, dstOffset) => packRow(quantizeRowQ4_0, Q4_0_BLOCK_BYTES, src, srcOffset, rowLen, dst, dstOffset)),
  q4_1: rowFormat("q4_1", (src, srcOffset, rowLen, dst, dstOffset) => packRow(quantizeRowQ4_1, Q4_1_BLOCK_BYTES, src, srcOffset, rowLen, dst, dstOffset)),
};

/** The codec of a --cache-type-k / --cache-type-v name; UNSUPPORTED_TYPE for others ("f32" has none: its rows are floats). */
export function kvRowFormat(name: string): KvRowFormat {
  const format = (KV_ROW_FORMATS as Record<string, KvRowFormat | undefined>)[name];
  if (format === undefined) {
    throw new QuantError("UNSUPPORTED_TYPE", `expected a KV cache type among f16, q8_0, q4_0, q4_1 (f32 rows need no codec), found ${JSON.stringify(name)}`);
  }
  return format;
}
