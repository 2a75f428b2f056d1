export { TransformerError, type TransformerErrorCode } from "./errors";

// inference
export { validateConfig, headDimOf, kvDimOf, type Config } from "./infer/config";
export { Weights, weightShapes, optionalWeightShapes, allocateWeights, checkWeights, type WeightTensor } from "./infer/weights";
export { KVCache, f32KV, type KVStore, type KVDType, type KVCacheOptions } from "./infer/kv-cache";
export { KV_DTYPES, KV_TYPE_NAMES, kvDType, kvBytesPerValue, type KVTypeName, type PackedRows } from "./infer/kv-types";
export { inferencePerplexity, forEachWindow, scoringWindows } from "./infer/perplexity";
export { quantizeWeights } from "./infer/quantize-weights";
export { DEFAULT_WEIGHT_TYPES } from "./formats/placement";
export { KV_CHUNK_POSITIONS } from "./infer/run-state";
export { MAX_CONTEXT } from "./infer/config";
export { RunState, type RowBuffers } from "./infer/run-state";
export {
  Model, type BatchRowsListener, type ModelOptions, type PrefillOptions, type PrefillResult, type AttentionMaps,
} from "./infer/model";
export {
  generate, Generation, type GenerateOptions, type GenerateStats, type TokenSampler,
} from "./infer/generate";
export { checkLogits } from "./infer/check-logits";
export { ModelSequence } from "./infer/sequence";
export {
  checkpointFromSource, modelFromBytes, detectFormat, type CheckpointFormat, type Checkpoint, type OpenOptions,
} from "./infer/load";
export { type LoadOptions, type TensorPlacement } from "./formats/placement";

// checkpoint formats
export { readLlama2c, readLlama2cConfig, llama2cFileBytes, serializeLlama2c } from "./formats/llama2c";
export { readGguf, ggufConfig, GGUF_LOADABLE_TYPES, GGUF_MAX_CONTEXT } from "./formats/gguf";
export { ggufFromModel, serializeGgufModel, type GgufExportOptions, type GgufExportType } from "./formats/gguf-write";
export { readHf, hfConfig } from "./formats/hf";
export { hfFromModel, hfConfigJson, serializeHfModel, type HfExportOptions, type HfCheckpoint } from "./formats/hf-write";
export { interleavedToHalf, halfToInterleaved } from "./formats/rope-permute";
export { BENCH_SHAPES, randomWeights, isBenchShape, type BenchShape } from "./infer/random-weights";

// training
export * from "./train/index";
