import { GgufError } from "./errors";

/**
 * The ggml tensor types, as numbered in ggml.h (`enum ggml_type`) and stored in GGUF tensor infos.
 *
 * Every type is stored in blocks: `blockSize` elements packed into `bytesPerBlock` bytes. A row's
 * first dimension (ne[0]) must be a whole number of blocks. Plain types are blocks of one element.
 * The layouts below are the C structs of ggml-common.h, drawn byte by byte (f16 = 2 bytes,
 * K-quants use QK_K = 256 elements per super-block). Only the sizes matter to this module; the
 * arithmetic on the blocks belongs to @zero-llm/quant.
 *
 *   Q4_0    | d: f16 | qs: 16 B (32 × 4-bit) |                                          32 el, 18 B
 *   Q4_1    | d: f16 | m: f16 | qs: 16 B |                                             32 el, 20 B
 *   Q5_0    | d: f16 | qh: 4 B (5th bits) | qs: 16 B |                                 32 el, 22 B
 *   Q5_1    | d: f16 | m: f16 | qh: 4 B | qs: 16 B |                                   32 el, 24 B
 *   Q8_0    | d: f16 | qs: 32 × i8 |                                                   32 el, 34 B
 *   Q8_1    | d: f16 | s: f16 | qs: 32 × i8 |                                          32 el, 36 B
 *   Q2_K    | scales: 16 B | qs: 64 B | d: f16 | dmin: f16 |                          256 el, 84 B
 *   Q3_K    | hmask: 32 B | qs: 64 B | scales: 12 B | d: f16 |                        256 el, 110 B
 *   Q4_K    | d: f16 | dmin: f16 | scales: 12 B | qs: 128 B |                         256 el, 144 B
 *   Q5_K    | d: f16 | dmin: f16 | scales: 12 B | qh: 32 B | qs: 128 B |              256 el, 176 B
 *   Q6_K    | ql: 128 B | qh: 64 B | scales: 16 × i8 | d: f16 |                       256 el, 210 B
 *   Q8_K    | d: f32 | qs: 256 × i8 | bsums: 16 × i16 |                               256 el, 292 B
 *   IQ2_XXS | d: f16 | qs: 32 × u16 |                                                 256 el, 66 B
 *   IQ2_XS  | d: f16 | qs: 32 × u16 | scales: 8 B |                                   256 el, 74 B
 *   IQ3_XXS | d: f16 | qs: 96 B |                                                     256 el, 98 B
 *   IQ1_S   | d: f16 | qs: 32 B | qh: 8 × u16 |                                       256 el, 50 B
 *   IQ4_NL  | d: f16 | qs: 16 B |                                                      32 el, 18 B
 *   IQ3_S   | d: f16 | qs: 64 B | qh: 8 B | signs: 32 B | scales: 4 B |               256 el, 110 B
 *   IQ2_S   | d: f16 | qs: 64 B | qh: 8 B | scales: 8 B |                             256 el, 82 B
 *   IQ4_XS  | d: f16 | scales_h: u16 | scales_l: 4 B | qs: 128 B |                    256 el, 136 B
 *   IQ1_M   | qs: 32 B | qh: 16 B | scales: 8 B |                                    256 el, 56 B
 *   TQ1_0   | qs: 48 B | qh: 4 B | d: f16 |                                           256 el, 54 B
 *   TQ2_0   | qs: 64 B | d: f16 |                                                     256 el, 66 B
 *   MXFP4   | e: u8 (E8M0) | qs: 16 B |                                                32 el, 17 B
 *   NVFP4   | 4 × (scale: u8 E4M3 | qs: 8 B) |                                         64 el, 36 B
 *   Q1_0    | d: f16 | qs: 16 B (128 × 1-bit) |                                       128 el, 18 B
 *   Q2_0    | d: f16 | qs: 16 B (64 × 2-bit) |                                         64 el, 18 B
 *
 * Ids 31-33 (Q4_0_4_4, Q4_0_4_8, Q4_0_8_8) and 36-38 (IQ4_NL_4_4, ...) were interleaved repacks
 * of Q4_0 / IQ4_NL that appeared in GGUF files for a while; ggml no longer accepts them in files.
 * They are listed (`removed: true`) so such files can still be opened and their bytes sliced.
 * Ids 4 and 5 (Q4_2, Q4_3) were removed before GGUF existed and are not listed.
 */
export interface GgmlTypeInfo {
  readonly id: number;
  readonly name: string;
  /** Elements per block. */
  readonly blockSize: number;
  /** Bytes per block. */
  readonly bytesPerBlock: number;
  /** True for block-quantized types (blockSize > 1); false for F32, F16, BF16, F64 and I8..I64. */
  readonly quantized: boolean;
  /** True for ids ggml once used in files but no longer accepts. */
  readonly removed: boolean;
}

function type(id: number, name: string, blockSize: number, bytesPerBlock: number, removed = false): GgmlTypeInfo {
  return { id, name, blockSize, bytesPerBlock, quantized: blockSize > 1, removed };
}

const QK_K = 256;

/** Every ggml type this library knows, in id order. */
export const GGML_TYPES: readonly GgmlTypeInfo[] = [
  type(0, "F32", 1, 4),
  type(1, "F16", 1, 2),
  type(2, "Q4_0", 32, 18),
  type(3, "Q4_1", 32, 20),
  type(6, "Q5_0", 32, 22),
  type(7, "Q5_1", 32, 24),
  type(8, "Q8_0", 32, 34),
  type(9, "Q8_1", 32, 36),
  type(10, "Q2_K", QK_K, 84),
  type(11, "Q3_K", QK_K, 110),
  type(12, "Q4_K", QK_K, 144),
  type(13, "Q5_K", QK_K, 176),
  type(14, "Q6_K", QK_K, 210),
  type(15, "Q8_K", QK_K, 292),
  type(16, "IQ2_XXS", QK_K, 66),
  type(17, "IQ2_XS", QK_K, 74),
  type(18, "IQ3_XXS", QK_K, 98),
  type(19, "IQ1_S", QK_K, 50),
  type(20, "IQ4_NL", 32, 18),
  type(21, "IQ3_S", QK_K, 110),
  type(22, "IQ2_S", QK_K, 82),
  type(23, "IQ4_XS", QK_K, 136),
  type(24, "I8", 1, 1),
  type(25, "I16", 1, 2),
  type(26, "I32", 1, 4),
  type(27, "I64", 1, 8),
  type(28, "F64", 1, 8),
  type(29, "IQ1_M", QK_K, 56),
  type(30, "BF16", 1, 2),
  type(31, "Q4_0_4_4", 32, 18, true),
  type(32, "Q4_0_4_8", 32, 18, true),
  type(33, "Q4_0_8_8", 32, 18, true),
  type(34, "TQ1_0", QK_K, 54),
  type(35, "TQ2_0", QK_K, 66),
  type(36, "IQ4_NL_4_4", 32, 18, true),
  type(37, "IQ4_NL_4_8", 32, 18, true),
  type(38, "IQ4_NL_8_8", 32, 18, true),
  type(39, "MXFP4", 32, 17),
  type(40, "NVFP4", 64, 36),
  type(41, "Q1_0", 128, 18),
  type(42, "Q2_0", 64, 18),
];

const byId = new Map(GGML_TYPES.map((t) => [t.id, t]));
const byName = new Map(GGML_TYPES.map((t) => [t.name, t]));

/** Named ids for the types code refers to most: `GgmlType.Q8_0 === 8`. */
export const GgmlType = {
  F32: 0,
  F16: 1,
  Q4_0: 2,
  Q4_1: 3,
  Q5_0: 6,
  Q5_1: 7,
  Q8_0: 8,
  Q8_1: 9,
  Q2_K: 10,
  Q3_K: 11,
  Q4_K: 12,
  Q5_K: 13,
  Q6_K: 14,
  Q8_K: 15,
  I8: 24,
  I16: 25,
  I32: 26,
  I64: 27,
  F64: 28,
  BF16: 30,
} as const;

/** The type with this id, or undefined. */
export function ggmlTypeInfo(id: number): GgmlTypeInfo | undefined {
  return byId.get(id);
}

/** The type with this id or name ("Q8_0"); throws GGUF_UNKNOWN_GGML_TYPE otherwise. */
export function requireGgmlType(idOrName: number | string): GgmlTypeInfo {
  const info = typeof idOrName === "number" ? byId.get(idOrName) : byName.get(idOrName);
  if (info === undefined) {
    throw new GgufError(
      "GGUF_UNKNOWN_GGML_TYPE",
      `expected a known ggml type (${GGML_TYPES.map((t) => `${t.id}=${t.name}`).join(", ")}), found ${JSON.stringify(idOrName)}`,
    );
  }
  return info;
}

/**
 * Bytes of a tensor with ggml dims `dims` (ne[0] first, the fastest-varying) of this type:
 * (ne[0] / blockSize) * bytesPerBlock * ne[1] * ne[2] * ne[3]. Throws GGUF_BAD_TENSOR_INFO when
 * ne[0] is not a whole number of blocks or the size passes 2^53.
 */
export function ggmlTensorBytes(info: GgmlTypeInfo, dims: readonly number[]): number {
  const rowElements = dims.length > 0 ? dims[0] : 1;
  if (rowElements % info.blockSize !== 0) {
    throw new GgufError(
      "GGUF_BAD_TENSOR_INFO",
      `expected ne[0] to be a multiple of the ${info.name} block size ${info.blockSize}, found ${rowElements}`,
    );
  }
  let bytes = (rowElements / info.blockSize) * info.bytesPerBlock;
  for (let i = 1; i < dims.length; i++) bytes *= dims[i];
  if (!Number.isSafeInteger(bytes)) {
    throw new GgufError("GGUF_BAD_TENSOR_INFO", `expected a tensor size below 2^53 bytes, found dims [${dims.join(",")}] of ${info.name}`);
  }
  return bytes;
}
