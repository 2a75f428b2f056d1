import type { RowBlocks } from "@zero-llm/autograd";
import { QuantizedLinear, quantizedRowBytes, weightFormat } from "@zero-llm/quant";
import type { LinearWeight } from "@zero-llm/tensor";
import { LoraError } from "../errors";

/**
 * A base matrix stored as something other than f32, as the frozen layer of a training model
 * reads it: ROW_BLOCK rows at a time, each row decoded from its blocks by the format's
 * dequantizeRow (@zero-llm/quant) into f32 inside the forward and the backward pass, never the
 * whole matrix (QLoRA's memory: the base stays in its 4 or 8 bits).
 *
 *   row r of W = dequantizeRow(bytes, at r · rowBytes)     rowBytes = in / blockSize · blockBytes
 *
 * (q4_0 held in tiles of four rows, QuantizedLinear's layout "q4_0x4", is read by its own
 * rowValues, which gathers the row's blocks from the tiles.)
 */
export function rowBlocksOf(weight: LinearWeight, name: string): RowBlocks {
  if (!(weight instanceof QuantizedLinear)) {
    throw new LoraError("UNSUPPORTED_WEIGHT", `training model: expected ${name} as f32 or as quantized blocks (@zero-llm/quant's QuantizedLinear), found ${weight.type}`);
  }
  const { bytes, type, outFeatures, inFeatures } = weight;
  if (weight.layout !== "rows") {
    return {
      outFeatures,
      inFeatures,
      readRows(out, firstRow, rows) {
        for (let r = 0; r < rows; r++) weight.rowValues(firstRow + r, out, r * inFeatures);
      },
    };
  }
  const { dequantizeRow } = weightFormat(type);
  const rowBytes = quantizedRowBytes(type, inFeatures);
  return {
    outFeatures,
    inFeatures,
    readRows(out, firstRow, rows) {
      for (let r = 0; r < rows; r++) dequantizeRow(bytes, out, inFeatures, (firstRow + r) * rowBytes, r * inFeatures);
    },
  };
}
