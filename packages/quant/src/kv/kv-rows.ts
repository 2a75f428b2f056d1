import { f16ToF32 } from "@zero-llm/tensor";
import { QuantError } from "../errors";
import { fp16, f32, int8At, readF16 } from "../formats/c-float";
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
 * llama.cpp's reference writes. Queries and attention weights stay float32 (llama.cpp quantizes
 * the query to q8_0 for a q8_0 cache; keeping it exact costs nothing here).
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
const blocksOf = (rowLen: number): number => Math.ceil(rowLen / BLOCK);

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

/**
 * The readers of the three block formats share one walk over the blocks that [start, start +
 * count) touches; `code(b, j)` is value j's integer code in block b and (scale, offset) its
 * block's value = scale · code + offset.
 */
interface BlockCodes {
  readonly blockBytes: number;
  scale(row: Uint8Array, block: number): number;
  /** q4_1's m; null where there is none (adding 0 would turn −0 into +0, unlike ggml). */
  offset: ((row: Uint8Array, block: number) => number) | null;
  code(row: Uint8Array, block: number, j: number): number;
}

const q8_0Codes: BlockCodes = {
  blockBytes: Q8_0_BLOCK_BYTES,
  scale: (row, block) => readF16(row, block),
  offset: null,
  code: (row, block, j) => int8At(row, block + 2 + j),
};
const q4_0Codes: BlockCodes = {
  blockBytes: Q4_0_BLOCK_BYTES,
  scale: (row, block) => readF16(row, block),
  offset: null,
  code: (row, block, j) => (j < 16 ? row[block + 2 + j] & 0xf : row[block + 2 + j - 16] >> 4) - 8,
};
const q4_1Codes: BlockCodes = {
  blockBytes: Q4_1_BLOCK_BYTES,
  scale: (row, block) => readF16(row, block),
  offset: (row, block) => readF16(row, block + 2),
  code: (row, block, j) => (j < 16 ? row[block + 4 + j] & 0xf : row[block + 4 + j - 16] >> 4),
};

function blockFormat(
  name: KvCacheType, codes: BlockCodes,
  quantize: (x: Float32Array, y: Uint8Array, k: number, xOffset: number, yOffset: number) => void,
): KvRowFormat {
  const { blockBytes } = codes;
  const offsetOf = (row: Uint8Array, block: number): number => (codes.offset === null ? 0 : codes.offset(row, block));
  return {
    name,
    bytesPerValue: blockBytes / BLOCK,
    rowBytes: (rowLen) => blocksOf(rowLen) * blockBytes,
    quantizeRow: (src, srcOffset, rowLen, dst, dstOffset) => packRow(quantize, blockBytes, src, srcOffset, rowLen, dst, dstOffset),
    dequantize(row, rowOffset, start, count, out, outOffset) {
      for (let i = 0; i < count; i++) {
        const e = start + i, block = rowOffset + Math.floor(e / BLOCK) * blockBytes;
        // scale · code (+ offset), each step in float32 as ggml's dequantize_row_* computes it
        const scaled = f32(codes.code(row, block, e % BLOCK) * codes.scale(row, block));
        out[outOffset + i] = codes.offset === null ? scaled : f32(scaled + codes.offset(row, block));
      }
    },
    dot(q, qOffset, row, rowOffset, start, count) {
      // per block: Σ q·code and Σ q in float64, then scale and offset once
      let sum = 0;
      for (let e = start; e < start + count;) {
        const b = Math.floor(e / BLOCK), end = Math.min(start + count, (b + 1) * BLOCK);
        const block = rowOffset + b * blockBytes;
        let qc = 0, qs = 0;
        for (; e < end; e++) {
          const qv = q[qOffset + e - start];
          qc += qv * codes.code(row, block, e - b * BLOCK);
          qs += qv;
        }
        sum += qc * codes.scale(row, block) + qs * offsetOf(row, block);
      }
      return sum;
    },
    addScaled(p, row, rowOffset, start, count, out, outOffset) {
      for (let e = start; e < start + count;) {
        const b = Math.floor(e / BLOCK), end = Math.min(start + count, (b + 1) * BLOCK);
        const block = rowOffset + b * blockBytes;
        const ps = p * codes.scale(row, block), po = p * offsetOf(row, block);
        for (; e < end; e++) out[outOffset + e - start] += ps * codes.code(row, block, e - b * BLOCK) + po;
      }
    },
  };
}

const f16Format: KvRowFormat = {
  name: "f16",
  bytesPerValue: 2,
  rowBytes: (rowLen) => 2 * rowLen,
  quantizeRow(src, srcOffset, rowLen, dst, dstOffset) {
    for (let i = 0; i < rowLen; i++) {
      const h = fp16(src[srcOffset + i]);
      dst[dstOffset + 2 * i] = h & 0xff;
      dst[dstOffset + 2 * i + 1] = h >>> 8;
    }
  },
  dequantize(row, rowOffset, start, count, out, outOffset) {
    for (let i = 0; i < count; i++) out[outOffset + i] = readF16(row, rowOffset + 2 * (start + i));
  },
  dot(q, qOffset, row, rowOffset, start, count) {
    let sum = 0;
    for (let i = 0; i < count; i++) {
      const at = rowOffset + 2 * (start + i);
      sum += q[qOffset + i] * f16ToF32(row[at] | (row[at + 1] << 8));
    }
    return sum;
  },
  addScaled(p, row, rowOffset, start, count, out, outOffset) {
    for (let i = 0; i < count; i++) {
      const at = rowOffset + 2 * (start + i);
      out[outOffset + i] += p * f16ToF32(row[at] | (row[at + 1] << 8));
    }
  },
};

/** The row codecs, by name. */
export const KV_ROW_FORMATS: Readonly<Record<KvCacheType, KvRowFormat>> = {
  f16: f16Format,
  q8_0: blockFormat("q8_0", q8_0Codes, quantizeRowQ8_0),
  q4_0: blockFormat("q4_0", q4_0Codes, quantizeRowQ4_0),
  q4_1: blockFormat("q4_1", q4_1Codes, quantizeRowQ4_1),
};

/** The codec of a --cache-type-k / --cache-type-v name; UNSUPPORTED_TYPE for others ("f32" has none: its rows are floats). */
export function kvRowFormat(name: string): KvRowFormat {
  const format = (KV_ROW_FORMATS as Record<string, KvRowFormat | undefined>)[name];
  if (format === undefined) {
    throw new QuantError("UNSUPPORTED_TYPE", `expected a KV cache type among f16, q8_0, q4_0, q4_1 (f32 rows need no codec), found ${JSON.stringify(name)}`);
  }
  return format;
}
