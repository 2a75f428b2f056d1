import type { QuantType } from "@zero-llm/tensor";
import { QuantError } from "./errors";
import { weightFormat } from "./formats/index";

/** Bytes of one row of `inFeatures` values in `type`; ROW_NOT_BLOCK_MULTIPLE when they are not whole blocks. */
export function quantizedRowBytes(type: QuantType, inFeatures: number): number {
  const format = weightFormat(type);
  if (!Number.isInteger(inFeatures) || inFeatures < 0 || inFeatures % format.blockSize !== 0) {
    throw new QuantError(
      "ROW_NOT_BLOCK_MULTIPLE",
      `${type}: expected a row length that is a multiple of the block size ${format.blockSize}, found ${inFeatures} ` +
        `(such tensors stay in f16/f32, as llama.cpp keeps them: see fallbackWeightType)`,
    );
  }
  return (inFeatures / format.blockSize) * format.blockBytes;
}

/**
 * A row-major matrix [rows, cols] of f32 values as `type`, row after row (the bytes of a GGUF
 * tensor of that type with ne[0] = cols): into `out` (e.g. from backend.allocBytes) or a new array.
 */
export function quantizeMatrix(values: Float32Array, rows: number, cols: number, type: QuantType, out?: Uint8Array): Uint8Array {
  const rowBytes = quantizedRowBytes(type, cols);
  if (!Number.isInteger(rows) || rows < 0 || values.length !== rows * cols) {
    throw new QuantError("BAD_LENGTH", `quantizeMatrix: expected ${rows} × ${cols} values, found ${values.length}`);
  }
  const bytes = out ?? new Uint8Array(rows * rowBytes);
  if (bytes.length !== rows * rowBytes) {
    throw new QuantError("BAD_LENGTH", `quantizeMatrix: expected an output of ${rows * rowBytes} bytes, found ${bytes.length}`);
  }
  const { quantizeRow } = weightFormat(type);
  for (let r = 0; r < rows; r++) quantizeRow(values, bytes, cols, r * cols, r * rowBytes);
  return bytes;
}

/** The f32 values of a [rows, cols] matrix stored as `type`: into `out` or a new array. */
export function dequantizeMatrix(bytes: Uint8Array, rows: number, cols: number, type: QuantType, out?: Float32Array): Float32Array {
  const rowBytes = quantizedRowBytes(type, cols);
  if (!Number.isInteger(rows) || rows < 0 || bytes.length !== rows * rowBytes) {
    throw new QuantError("BAD_LENGTH", `dequantizeMatrix: expected ${rows * rowBytes} bytes of ${type} for [${rows}, ${cols}], found ${bytes.length}`);
  }
  const values = out ?? new Float32Array(rows * cols);
  if (values.length !== rows * cols) {
    throw new QuantError("BAD_LENGTH", `dequantizeMatrix: expected an output of ${rows * cols} floats, found ${values.length}`);
  }
  const { dequantizeRow } = weightFormat(type);
  for (let r = 0; r < rows; r++) dequantizeRow(bytes, values, cols, r * rowBytes, r * cols);
  return values;
}

/**
 * The type a matrix with rows of `inFeatures` values gets when `requested` is asked for, the rule
 * `zllm quantize` follows: the requested type when the rows are whole blocks; for q4_k rows that
 * are whole 32-blocks but not 256-blocks, q4_1 (llama.cpp takes Q5_0 there, a type this package
 * does not write; Q4_1 is the 32-block type with Q4_K's scale-and-min form); otherwise f16
 * (llama.cpp's last fallback too; for Q4_0/Q4_1/Q8_0 it refuses such tensors outright).
 */
export function fallbackWeightType(requested: QuantType, inFeatures: number): QuantType {
  const { blockSize } = weightFormat(requested);
  if (inFeatures % blockSize === 0) return requested;
  if (requested === "q4_k" && inFeatures % 32 === 0) return "q4_1";
  return "f16";
}
