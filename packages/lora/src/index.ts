// @zero-llm/lora: low-rank adapters on the linear layers of @zero-llm/transformer models.
export { LoraError, type LoraErrorCode } from "./errors";
export { loraConfig, loraScaling, targetedModules, moduleRankAlpha, DEFAULT_LORA_CONFIG, type LoraConfig } from "./config";
export { linearModules, moduleNames, defaultTargets, type LinearModule, type ModulePart } from "./modules";
export { LoraAdapter, type LoraModuleWeights, type Allocate } from "./adapter";
export { weightDeltas, type WeightDelta } from "./deltas";

// inference: adapters on a base model, per sequence
export { LoraModel, withAdapters } from "./infer/lora-model";
export { AdapterSet, type AdapterUse, type LoraTerm } from "./infer/adapter-set";
export { AdaptedLinear } from "./infer/adapted-linear";
export { mergeAdapters, unmergeAdapters, mergeAdapter, unmergeAdapter, mergedWeights, dequantizeLinear } from "./merge";

// files: PEFT's adapter directory and llama.cpp's GGUF adapter (bytes; paths are in /node)
export { peftAdapterFiles, peftConfigJson, parsePeftConfig, adapterFromPeft, ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE } from "./formats/peft";
export { ggufAdapterInput, serializeGgufAdapter, adapterFromGguf, type GgufAdapterOptions } from "./formats/gguf";
