import { TensorError } from "../errors";
import { checkCount, checkLength, shapeMismatch } from "../backend/arg-checks";
import { Q4_0_TILE_ROWS, layoutFits, type QuantLayout } from "./tiles";

/**
 * The weight storage types the quantized kernels read, in ggml's block layouts (the bytes of a
 * GGUF tensor of that type, row after row). A weight W [outFeatures, inFeatures] is stored one
 * output row after the other, each row inFeatures / blockSize blocks:
 *
 *   f16    | w: f16 |                                                   1 value,   2 bytes
 *   q8_0   | d: f16 | qs: 32 × i8 |                                      32 values, 34 bytes
 *   q4_0   | d: f16 | qs: 16 × u8, byte j = q[j] | q[j+16] << 4 |        32 values, 18 bytes
 *   q4_1   | d: f16 | m: f16 | qs: 16 × u8 (as q4_0) |                   32 values, 20 bytes
 *   q4_k   | d: f16 | dmin: f16 | scales: 12 B | qs: 128 B |             256 values, 144 bytes
 *
 * @zero-llm/quant writes these blocks (and draws them in full); this package multiplies by them.
 */
export type QuantType = "f16" | "q8_0" | "q4_0" | "q4_1" | "q4_k";

/**
 * What an input row is quantized to before the integer dot products (ggml's `vec_dot_type`):
 * q8_0 for q8_0/q4_0 weights, q8_1 (q8_0 plus block sums) for q4_1, q8_k (super-blocks of 256)
 * for q4_k; f16 weights multiply float32 inputs directly.
 */
export type ActivationType = "f32" | "q8_0" | "q8_1" | "q8_k";

export interface QuantTypeInfo {
  readonly type: QuantType;
  /** The ggml type name in GGUF tensor infos. */
  readonly ggml: "F16" | "Q8_0" | "Q4_0" | "Q4_1" | "Q4_K";
  /** ggml type id. */
  readonly ggmlId: number;
  readonly blockSize: number;
  readonly blockBytes: number;
  readonly activation: ActivationType;
}

export const QUANT_TYPES: Readonly<Record<QuantType, QuantTypeInfo>> = {
  f16: { type: "f16", ggml: "F16", ggmlId: 1, blockSize: 1, blockBytes: 2, activation: "f32" },
  q8_0: { type: "q8_0", ggml: "Q8_0", ggmlId: 8, blockSize: 32, blockBytes: 34, activation: "q8_0" },
  q4_0: { type: "q4_0", ggml: "Q4_0", ggmlId: 2, blockSize: 32, blockBytes: 18, activation: "q8_0" },
  q4_1: { type: "q4_1", ggml: "Q4_1", ggmlId: 3, blockSize: 32, blockBytes: 20, activation: "q8_1" },
  q4_k: { type: "q4_k", ggml: "Q4_K", ggmlId: 12, blockSize: 256, blockBytes: 144, activation: "q8_k" },
};

/** The type's info; INVALID_ARGUMENT for a name that is not one of QuantType. */
export function quantTypeInfo(type: string): QuantTypeInfo {
  const info = (QUANT_TYPES as Record<string, QuantTypeInfo | undefined>)[type];
  if (info === undefined) {
    throw new TensorError("INVALID_ARGUMENT", `quantized matmul: expected a weight type among ${Object.keys(QUANT_TYPES).join(", ")}, found ${JSON.stringify(type)}`);
  }
  return info;
}

/** Bytes of one stored row of `inFeatures` values. */
export function quantRowBytes(type: QuantType, inFeatures: number): number {
  const info = QUANT_TYPES[type];
  return (inFeatures / info.blockSize) * info.blockBytes;
}

/**
 * The boundary check of `matmulQuant` on every backend: sizes are non-negative integers, the row
 * length is whole blocks, the arrays hold what the sizes say, and a tiled layout is q4_0 in
 * whole row groups.
 */
export function checkMatmulQuant(
  backend: string, out: Float32Array, x: Float32Array, w: Uint8Array, type: QuantType,
  rows: number, inFeatures: number, outFeatures: number, layout: QuantLayout = "rows",
): QuantTypeInfo {
  const info = quantTypeInfo(type);
  if (!layoutFits(layout, type, outFeatures)) {
    throw new TensorError(
      "INVALID_ARGUMENT",
      `${backend} matmulQuant: expected layout "rows", or "q4_0x4" for q4_0 with outFeatures a multiple of ${Q4_0_TILE_ROWS}, found ${JSON.stringify(layout)} for ${type} [${outFeatures}, ${inFeatures}]`,
    );
  }
  checkCount(backend, "matmulQuant", "rows", rows);
  checkCount(backend, "matmulQuant", "inFeatures", inFeatures);
  checkCount(backend, "matmulQuant", "outFeatures", outFeatures);
  if (inFeatures % info.blockSize !== 0) {
    throw new TensorError(
      "INVALID_ARGUMENT",
      `${backend} matmulQuant: expected inFeatures to be a multiple of the ${type} block size ${info.blockSize}, found ${inFeatures}`,
    );
  }
  checkLength(backend, "matmulQuant", "x", x.length, rows * inFeatures);
  const wBytes = outFeatures * quantRowBytes(type, inFeatures);
  if (w.length < wBytes) shapeMismatch(backend, "matmulQuant", `w (${type} bytes)`, w.length, wBytes);
  checkLength(backend, "matmulQuant", "out", out.length, rows * outFeatures);
  return info;
}
