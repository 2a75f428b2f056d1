// Block formats, ggml style: one module per format with its bytes drawn, quantizeRow /
// dequantizeRow / dotRow side by side, reproducing ggml's reference functions byte for byte.
export { QuantError, type QuantErrorCode } from "./errors";
export { QK8_0, Q8_0_BLOCK_BYTES, quantizeRowQ8_0, dequantizeRowQ8_0, dotRowQ8_0 } from "./formats/q8_0";
export { QK4_0, Q4_0_BLOCK_BYTES, quantizeRowQ4_0, dequantizeRowQ4_0, dotRowQ4_0 } from "./formats/q4_0";
export { QK4_1, Q4_1_BLOCK_BYTES, quantizeRowQ4_1, dequantizeRowQ4_1, dotRowQ4_1 } from "./formats/q4_1";
export { QK_K, Q4_K_BLOCK_BYTES, quantizeRowQ4_K, dequantizeRowQ4_K, dotRowQ4_K, scaleMinK4 } from "./formats/q4_k";
export { QK8_1, Q8_1_BLOCK_BYTES, quantizeRowQ8_1, dequantizeRowQ8_1 } from "./formats/q8_1";
export { Q8_K_BLOCK_BYTES, quantizeRowQ8_K, dequantizeRowQ8_K } from "./formats/q8_k";
export { F16_BYTES, quantizeRowF16, dequantizeRowF16 } from "./formats/f16";
export { WEIGHT_FORMATS, weightFormat, type WeightFormat, type QuantizeRow, type DequantizeRow } from "./formats/index";

// Whole matrices, and weights the transformer multiplies by (the LinearWeight interface of @zero-llm/tensor).
export { quantizeMatrix, dequantizeMatrix, quantizedRowBytes, fallbackWeightType } from "./matrix";
export { QuantizedLinear, QUANTIZED_LINEAR_TYPES, FILE_WEIGHT_TYPES, findNonFiniteScale } from "./weights";
export type { QuantType } from "@zero-llm/tensor";

// KV-cache rows and quality metrics.
export { KV_ROW_FORMATS, kvRowFormat, type KvRowFormat, type KvCacheType } from "./kv/kv-rows";
export { rmse, relativeRmse, percentile, logitsPerplexity, perplexity, DistributionComparison, type ComparisonSummary } from "./metrics";
