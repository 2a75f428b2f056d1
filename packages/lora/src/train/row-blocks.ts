import type { RowBlocks } from "@zero-llm/autograd";
import type { LinearWeight } from "@zero-llm/tensor";
import { LoraError } from "../errors";

/**
 * A base matrix stored as something other than f32, as the frozen layer of a training model
 * reads it: ROW_BLOCK rows at a time, decoded into f32 inside the forward and the backward pass,
 * never the whole matrix (QLoRA's memory: the base stays in its 4 or 8 bits).
 */
export function rowBlocksOf(weight: LinearWeight, name: string): RowBlocks {
  throw new LoraError(
    "UNSUPPORTED_WEIGHT",
    `training model: expected ${name} as f32 or as quantized blocks this package decodes, found ${weight.type}`,
  );
}
