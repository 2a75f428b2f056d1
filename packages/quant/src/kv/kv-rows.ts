import { KV_TYPES, kvRowBytes, kvRowValues, packKvRowsReference } from "@zero-llm/tensor";
import { QuantError } from "../errors";

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

// Decoded values of one head slice, reused (grown on demand): dot and addScaled allocate nothing.
let slice = new Float32Array(64);
function decoded(type: KvCacheType, row: Uint8Array, rowOffset: number, start: number, count: number): Float32Array {
  if (slice.length < count) slice = new Float32Array(Math.max(count, 2 * slice.length));
  kvRowValues(type, row, rowOffset, start, count, slice, 0);
  return slice;
}

/**
 * A row codec: packing is ggml's reference quantizers (the block rules of this package's
 * quantizeRowQ8_0 / Q4_0 / Q4_1, kept in the tensor package as packKvRowsReference, which its
 * backends' packKvRows are held to); reading is the tensor package's kvRowValues, the decoding
 * its packed attention kernel is held to.
 */
function rowFormat(name: KvCacheType): KvRowFormat {
  const { blockSize, blockBytes } = KV_TYPES[name];
  return {
    name,
    bytesPerValue: blockBytes / blockSize,
    rowBytes: (rowLen) => kvRowBytes(name, rowLen),
    quantizeRow: (src, srcOffset, rowLen, dst, dstOffset) => packKvRowsReference(name, src, srcOffset, rowLen, 1, dst, dstOffset),
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
  f16: rowFormat("f16"),
  q8_0: rowFormat("q8_0"),
  q4_0: rowFormat("q4_0"),
  q4_1: rowFormat("q4_1"),
};

/** The codec of a --cache-type-k / --cache-type-v name; UNSUPPORTED_TYPE for others ("f32" has none: its rows are floats). */
export function kvRowFormat(name: string): KvRowFormat {
  const format = (KV_ROW_FORMATS as Record<string, KvRowFormat | undefined>)[name];
  if (format === undefined) {
    throw new QuantError("UNSUPPORTED_TYPE", `expected a KV cache type among f16, q8_0, q4_0, q4_1 (f32 rows need no codec), found ${JSON.stringify(name)}`);
  }
  return format;
}
