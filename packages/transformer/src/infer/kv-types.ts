import { kvRowBytes, kvRowValues, type Backend, type KvType } from "@zero-llm/tensor";
import { TransformerError } from "../errors";
import type { KVDType, KVStore } from "./kv-cache";

/**
 * The KV-cache element types of llama.cpp's --cache-type-k / --cache-type-v, chosen per K and V:
 *
 *   f32    4 bytes a value         the default; read in place by backend.attention
 *   f16    2 bytes a value
 *   q8_0   34 bytes per 32 values  | d: f16 | qs: 32 × i8 |            v = d·q
 *   q4_0   18 bytes per 32 values  | d: f16 | qs: 16 × u8 |            v = d·(q − 8)
 *   q4_1   20 bytes per 32 values  | d: f16 | m: f16 | qs: 16 × u8 |   v = d·q + m
 *
 * One cached row (a token's nKvHeads · headDim keys, or values) is packed as a whole, in ggml
 * blocks of 32, the last block zero-padded, when the token is appended (backend.packKvRows:
 * ggml's reference quantizers, the bytes llama.cpp would store, as @zero-llm/quant's
 * KV_ROW_FORMATS writes them). Rows sit
 * rowBytes apart in one allocation from backend.allocBytes (wasm memory for the wasm backend):
 *
 *   store bytes:  | row 0: rowBytes | row 1: rowBytes | … | row capacity−1 |
 *
 * Attention reads these bytes directly (backend.attentionPacked): no f32 copy of the cache ever
 * exists, for K or for V, and a quantized V cache needs nothing else switched on (llama.cpp wants
 * flash attention for it).
 *
 * Head sizes that do not divide into 32 (stories15M's 48): a head then starts or ends inside a
 * block, and a block shared by two heads has one scale for both. llama.cpp refuses a quantized
 * cache there; here every head size works (multiples of 16, 48 among them, as fast as whole
 * blocks: attention reads them half block by half block). A row takes ceil(rowLen / 32) blocks, so the cache
 * holds exactly 2 × layers × nKvHeads × headDim × capacity × bytesPerValue bytes whenever
 * rowLen = nKvHeads · headDim is a multiple of 32 (it is for every model we ship: 15M's 6 × 48 =
 * 288, 110M's 12 × 64), and at most one padded block per row more otherwise.
 */
export type KVTypeName = KvType;

/** The names --cache-type-k / --cache-type-v accept, in the order help lists them. */
export const KV_TYPE_NAMES: readonly KVTypeName[] = ["f32", "f16", "q8_0", "q4_0", "q4_1"];

/** Where a packed store's rows are, for backend.attentionPacked. */
export interface PackedRows {
  readonly type: KvType;
  /** capacity rows, rowBytes(type, rowLen) apart. */
  readonly bytes: Uint8Array;
}

/**
 * Plain float32 rows, allocated by the backend so its attention kernel reads them in place (as
 * f32Rows, or as packed f32 bytes when the other half of the cache is packed).
 */
export const f32KV: KVDType = {
  name: "f32",
  create(capacity, rowLen, backend) {
    const data = backend.allocF32(capacity * rowLen);
    return {
      dtype: "f32",
      capacity,
      rowLen,
      f32Rows: data,
      packed: { type: "f32", bytes: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) },
      write(row, src, srcOffset, nRows) {
        const dst = row * rowLen;
        const n = nRows * rowLen;
        // a plain loop rather than data.set(src.subarray(…)): no view object per token
        for (let i = 0; i < n; i++) data[dst + i] = src[srcOffset + i];
      },
      readRows(start, nRows, dst, dstOffset) {
        const from = start * rowLen;
        const n = nRows * rowLen;
        for (let i = 0; i < n; i++) dst[dstOffset + i] = data[from + i];
      },
      bytes() {
        return data.byteLength;
      },
    };
  },
};

function packedKV(type: Exclude<KvType, "f32">): KVDType {
  return {
    name: type,
    create(capacity, rowLen, backend: Backend): KVStore {
      const rowBytes = kvRowBytes(type, rowLen);
      const bytes = backend.allocBytes(capacity * rowBytes);
      const packed: PackedRows = { type, bytes };
      return {
        dtype: type,
        capacity,
        rowLen,
        f32Rows: null,
        packed,
        write(row, src, srcOffset, nRows) {
          // packed by the backend straight into the cache (wasm: no JavaScript float garbage per token)
          backend.packKvRows(type, src, srcOffset, rowLen, nRows, bytes, row * rowBytes);
        },
        readRows(start, nRows, dst, dstOffset) {
          for (let r = 0; r < nRows; r++) kvRowValues(type, bytes, (start + r) * rowBytes, 0, rowLen, dst, dstOffset + r * rowLen);
        },
        bytes() {
          return bytes.byteLength;
        },
      };
    },
  };
}

/** The element types by name ("f32" is the plain in-place store). */
export const KV_DTYPES: Readonly<Record<KVTypeName, KVDType>> = {
  f32: f32KV,
  f16: packedKV("f16"),
  q8_0: packedKV("q8_0"),
  q4_0: packedKV("q4_0"),
  q4_1: packedKV("q4_1"),
};

/** The KVDType named `name` (a --cache-type-k/v value); BAD_CACHE naming the choices otherwise. */
export function kvDType(name: string): KVDType {
  const found = (KV_DTYPES as Record<string, KVDType | undefined>)[name];
  if (found === undefined) {
    throw new TransformerError("BAD_CACHE", `KV cache type: expected one of ${KV_TYPE_NAMES.join(", ")}, found ${JSON.stringify(name)}`);
  }
  return found;
}

/** Bytes per cached value of a type, averaged over a block (f32 4, f16 2, q8_0 34/32, q4_0 18/32, q4_1 20/32). */
export function kvBytesPerValue(name: KVTypeName): number {
  return kvRowBytes(name, 32) / 32;
}
