import { QuantizedLinear, fallbackWeightType, type QuantType } from "@zero-llm/quant";
import type { Backend, LinearWeight } from "@zero-llm/tensor";
import { keepsStoredType } from "../formats/placement";
import { Weights } from "./weights";

/**
 * The model's weights quantized in memory, as `zllm quantize` would write them and the loader
 * would keep them: every matrix the forward pass projects through or looks rows up in (the
 * projections, the token embedding, an untied head) becomes a QuantizedLinear of `type` in
 * `backend` memory (fallbackWeightType for rows that are not whole blocks: Q4_K → Q4_1 for rows
 * of whole 32-blocks, else F16), a tied table one weight under both names; 1-D tensors and gpt2's
 * learned positions are shared with `weights` as they are. A matrix already stored another way
 * is decoded first.
 */
export function quantizeWeights(weights: Weights, type: QuantType, backend: Backend): Weights {
  const values = weights.expanded(); // f32 everywhere, a tied table still one array
  const out = new Weights();
  const made = new Map<Float32Array, LinearWeight>();
  for (const name of values.names()) {
    const { shape, data } = values.get(name);
    if (!keepsStoredType(name)) {
      out.set(name, shape, data);
      continue;
    }
    let linear = made.get(data);
    if (!linear) {
      const [rows = 0, cols = 0] = shape;
      linear = QuantizedLinear.quantize(data, rows, cols, fallbackWeightType(type, cols), backend);
      made.set(data, linear);
    }
    out.setLinear(name, linear);
  }
  return out;
}
