import { DistributionComparison, QuantizedLinear, dequantizeMatrix, fallbackWeightType, quantizeMatrix, quantizedRowBytes, relativeRmse, type ComparisonSummary, type QuantType } from "@zero-llm/quant";
import type { Backend } from "@zero-llm/tensor";
import { Model, Weights } from "@zero-llm/transformer";

/**
 * What quantization costs the embedded model, computed with @zero-llm/quant:
 * - per tensor, the relative RMS error of quantize → dequantize for each type;
 * - per type, the whole model quantized (every projection a QuantizedLinear, multiplied from its
 *   blocks; norms and the embedding table stay f32) against the f32 model on held-out text:
 *   perplexity of both, KL divergence of the next-token distributions, top-1 agreement.
 * A type whose block does not divide a row falls back as llama.cpp's llama-quantize does
 * (`fallbackWeightType`: Q4_K → Q4_1 for rows of 128 or 384, which are not whole 256-blocks).
 */
export const QUANT_TYPES: readonly QuantType[] = ["f16", "q8_0", "q4_1", "q4_0", "q4_k"];

const PROJECTION = /\.(q|k|v|o|gate|up|down)_proj\.weight$/;

export interface TensorError {
  name: string;
  shape: readonly number[];
  errors: Record<string, { used: QuantType; relativeRmse: number }>;
  /**
   * Q4_K on the same values laid out in rows of 256 (one super-block a row): the error this
   * tensor's distribution gets in Q4_K proper, which its own rows cannot hold; null when its size
   * is not a multiple of 256.
   */
  q4kRows256: number | null;
}

/** Q4_K's super-block: 256 values (8 sub-blocks of 32 with 6-bit scales and mins). */
const Q4_K_BLOCK = 256;

export function tensorErrors(weights: Weights, types: readonly QuantType[]): TensorError[] {
  return weights.names().filter((n) => weights.shapeOf(n).length === 2).sort().map((name) => {
    const { data, shape } = weights.get(name);
    const [rows, cols] = shape;
    const errors: TensorError["errors"] = {};
    for (const type of types) {
      const used = fallbackWeightType(type, cols);
      const back = dequantizeMatrix(quantizeMatrix(data, rows, cols, used), rows, cols, used);
      errors[type] = { used, relativeRmse: relativeRmse(data, back) };
    }
    const blocks = data.length / Q4_K_BLOCK;
    const q4kRows256 = Number.isInteger(blocks)
      ? relativeRmse(data, dequantizeMatrix(quantizeMatrix(data, blocks, Q4_K_BLOCK, "q4_k"), blocks, Q4_K_BLOCK, "q4_k"))
      : null;
    return { name, shape, errors, q4kRows256 };
  });
}

/** The model with every projection stored as `type` (each row's fallback applied), the rest shared with `base`. */
export function quantizedModel(base: Model, type: QuantType, backend: Backend): { model: Model; projectionBytes: number; used: Set<QuantType> } {
  const weights = new Weights();
  let projectionBytes = 0;
  const used = new Set<QuantType>();
  for (const name of base.weights.names()) {
    const { data, shape } = base.weights.get(name);
    if (PROJECTION.test(name)) {
      const t = fallbackWeightType(type, shape[1]);
      used.add(t);
      const linear = QuantizedLinear.quantize(data, shape[0], shape[1], t, backend);
      projectionBytes += shape[0] * quantizedRowBytes(t, shape[1]);
      weights.setLinear(name, linear);
    } else weights.set(name, shape, data);
  }
  return { model: new Model(base.config, weights, { backend }), projectionBytes, used };
}

/** f32 bytes of the projections, the part that quantization shrinks. */
export function projectionF32Bytes(base: Model): number {
  return base.weights.names().filter((n) => PROJECTION.test(n)).reduce((sum, n) => sum + 4 * base.weights.get(n).data.length, 0);
}

/**
 * Both models over `tokens` in windows of `window` positions (each starting at bos), every
 * position's next-token distribution compared.
 */
export function compareModels(base: Model, other: Model, tokens: readonly number[], bos: number, window: number): ComparisonSummary {
  const V = base.config.vocabSize;
  const compare = new DistributionComparison(V);
  const baseRows = new Float32Array(window * V), rows = new Float32Array(window * V);
  for (let start = 0; start + 1 < tokens.length; start += window - 1) {
    const ids = [bos, ...tokens.slice(start, start + window - 1)];
    const n = ids.length;
    base.prefill(ids, base.newCache(), { allLogits: baseRows.subarray(0, n * V) });
    other.prefill(ids, other.newCache(), { allLogits: rows.subarray(0, n * V) });
    // row i predicts ids[i + 1]
    for (let i = 0; i + 1 < n; i++) compare.add(baseRows, rows, ids[i + 1], i * V, i * V);
  }
  return compare.summary();
}
