import { f16ToF32 } from "../dtype/half";
import { TensorError } from "../errors";

/**
 * Element types of a KV cache (llama.cpp's --cache-type-k / --cache-type-v) as the packed
 * attention kernel reads them. A cached row of rowLen = nKvHeads · headDim values is stored as
 * a whole, in the ggml layout of its type, the last block zero-padded:
 *
 *   f32    | v: f32 | …                                                       4 bytes a value
 *   f16    | v: f16 | …                                                       2 bytes a value
 *   q8_0   | d: f16 | qs: 32 × i8 | …                  32 values in 34 bytes, v = d·q
 *   q4_0   | d: f16 | qs: 16 × u8 | …                  32 values in 18 bytes, v = d·(q − 8)
 *   q4_1   | d: f16 | m: f16 | qs: 16 × u8 | …         32 values in 20 bytes, v = d·q + m
 *
 * (qs byte j = q[j] | q[j + 16] << 4.) Rows are kvRowBytes(type, rowLen) apart. A head whose
 * headDim does not divide into 32 starts or ends inside a block; @zero-llm/quant packs the rows
 * (ggml's reference quantizers) and documents the layout.
 */
export type KvType = "f32" | "f16" | "q8_0" | "q4_0" | "q4_1";

export const KV_TYPES: Readonly<Record<KvType, { readonly ggmlId: number; readonly blockSize: number; readonly blockBytes: number }>> = {
  f32: { ggmlId: 0, blockSize: 1, blockBytes: 4 },
  f16: { ggmlId: 1, blockSize: 1, blockBytes: 2 },
  q8_0: { ggmlId: 8, blockSize: 32, blockBytes: 34 },
  q4_0: { ggmlId: 2, blockSize: 32, blockBytes: 18 },
  q4_1: { ggmlId: 3, blockSize: 32, blockBytes: 20 },
};

/** The type's layout; INVALID_ARGUMENT for a name that is not a KvType. */
export function kvTypeInfo(type: string): (typeof KV_TYPES)[KvType] {
  const info = (KV_TYPES as Record<string, (typeof KV_TYPES)[KvType] | undefined>)[type];
  if (info === undefined) {
    throw new TensorError("INVALID_ARGUMENT", `KV cache: expected an element type among ${Object.keys(KV_TYPES).join(", ")}, found ${JSON.stringify(type)}`);
  }
  return info;
}

/** Bytes of one packed row of `rowLen` values (rowLen rounded up to whole blocks). */
export function kvRowBytes(type: KvType, rowLen: number): number {
  const { blockSize, blockBytes } = kvTypeInfo(type);
  return Math.ceil(rowLen / blockSize) * blockBytes;
}

const f32View = new Float32Array(1);
const f32Bytes = new Uint8Array(f32View.buffer);
const f16At = (bytes: Uint8Array, at: number): number => f16ToF32(bytes[at] | (bytes[at + 1] << 8));

/**
 * Values [start, start + count) of the packed row at bytes[rowOffset …] into out[outOffset …],
 * decoded exactly as ggml's dequantize_row_* does (each step in float32; the block types'
 * d·q is exact, q4_1 rounds d·q before adding m).
 */
export function kvRowValues(
  type: KvType, bytes: Uint8Array, rowOffset: number, start: number, count: number, out: Float32Array, outOffset: number,
): void {
  for (let i = 0; i < count; i++) {
    const e = start + i;
    let value: number;
    if (type === "f32") {
      for (let b = 0; b < 4; b++) f32Bytes[b] = bytes[rowOffset + 4 * e + b];
      value = f32View[0];
    } else if (type === "f16") {
      value = f16At(bytes, rowOffset + 2 * e);
    } else {
      const { blockBytes } = KV_TYPES[type];
      const block = rowOffset + (e >> 5) * blockBytes, j = e & 31;
      const qs = block + (type === "q4_1" ? 4 : 2);
      if (type === "q8_0") value = ((bytes[qs + j] << 24) >> 24) * f16At(bytes, block);
      else {
        const nibble = j < 16 ? bytes[qs + j] & 0xf : bytes[qs + j - 16] >> 4;
        value = type === "q4_0" ? (nibble - 8) * f16At(bytes, block) : Math.fround(nibble * f16At(bytes, block)) + f16At(bytes, block + 2);
      }
    }
    out[outOffset + i] = value;
  }
}
