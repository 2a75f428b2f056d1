import { QUANT_TYPES, type QuantType } from "@zero-llm/tensor";
import { QuantError } from "../errors";
import { dequantizeRowF16, quantizeRowF16 } from "./f16";
import { dequantizeRowQ4_0, quantizeRowQ4_0 } from "./q4_0";
import { dequantizeRowQ4_1, quantizeRowQ4_1 } from "./q4_1";
import { dequantizeRowQ4_K, quantizeRowQ4_K } from "./q4_k";
import { dequantizeRowQ8_0, quantizeRowQ8_0 } from "./q8_0";

/** quantizeRow…(x, y, k, xOffset, yOffset) of any format. */
export type QuantizeRow = (x: Float32Array, y: Uint8Array, k?: number, xOffset?: number, yOffset?: number) => void;
/** dequantizeRow…(y, out, k, yOffset, outOffset) of any format. */
export type DequantizeRow = (y: Uint8Array, out: Float32Array, k?: number, yOffset?: number, outOffset?: number) => void;

/** A weight storage type: its ggml block layout and the row functions of its module. */
export interface WeightFormat {
  readonly type: QuantType;
  /** The ggml type name written in GGUF tensor infos ("Q4_K"). */
  readonly ggml: string;
  readonly ggmlId: number;
  readonly blockSize: number;
  readonly blockBytes: number;
  /** Storage bits per weight: 8 · blockBytes / blockSize (Q8_0 8.5, Q4_0 4.5, Q4_1 5, Q4_K 4.5, F16 16). */
  readonly bitsPerWeight: number;
  readonly quantizeRow: QuantizeRow;
  readonly dequantizeRow: DequantizeRow;
}

const rows: Record<QuantType, { quantizeRow: QuantizeRow; dequantizeRow: DequantizeRow }> = {
  f16: { quantizeRow: quantizeRowF16, dequantizeRow: dequantizeRowF16 },
  q8_0: { quantizeRow: quantizeRowQ8_0, dequantizeRow: dequantizeRowQ8_0 },
  q4_0: { quantizeRow: quantizeRowQ4_0, dequantizeRow: dequantizeRowQ4_0 },
  q4_1: { quantizeRow: quantizeRowQ4_1, dequantizeRow: dequantizeRowQ4_1 },
  q4_k: { quantizeRow: quantizeRowQ4_K, dequantizeRow: dequantizeRowQ4_K },
};

/** Every weight type this package writes, by name ("f16", "q8_0", "q4_0", "q4_1", "q4_k"). */
export const WEIGHT_FORMATS: Readonly<Record<QuantType, WeightFormat>> = Object.fromEntries(
  (Object.keys(rows) as QuantType[]).map((type) => {
    const info = QUANT_TYPES[type];
    const format: WeightFormat = {
      type, ggml: info.ggml, ggmlId: info.ggmlId, blockSize: info.blockSize, blockBytes: info.blockBytes,
      bitsPerWeight: (8 * info.blockBytes) / info.blockSize, ...rows[type],
    };
    return [type, format];
  }),
) as Record<QuantType, WeightFormat>;

/** The format named `type` (case-insensitive, "Q4_K" or "q4_k"); UNSUPPORTED_TYPE otherwise. */
export function weightFormat(type: string): WeightFormat {
  const format = (WEIGHT_FORMATS as Record<string, WeightFormat | undefined>)[type.toLowerCase()];
  if (format === undefined) {
    throw new QuantError("UNSUPPORTED_TYPE", `expected a weight type among ${Object.keys(WEIGHT_FORMATS).join(", ")}, found ${JSON.stringify(type)}`);
  }
  return format;
}
