// @zero-llm/lora: low-rank adapters on the linear layers of @zero-llm/transformer models.
export { LoraError, type LoraErrorCode } from "./errors";
export { loraConfig, loraScaling, targetedModules, moduleRankAlpha, DEFAULT_LORA_CONFIG, type LoraConfig } from "./config";
export { linearModules, moduleNames, defaultTargets, moduleOrder, type LinearModule, type ModulePart } from "./modules";
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

// training: the frozen base with trainable adapters, data with loss masks, the loop, checkpoints
export { FrozenLinear, LoraInput, LoraLinear, type DropoutSource } from "./train/layers";
export { TrainableLora, loraTrainingModel, type TrainableModule } from "./train/trainable";
export {
  parseJsonl, tokenizeExample, ExampleDataset, textData, IGNORE,
  type TextCodec, type Segment, type Example, type TokenizedExample, type LoraData,
} from "./train/data";
export { LoraTrainer, LORA_DEFAULT_SETTINGS, loraSettings, trainingMemory, learnedLoss, type TrainingMemory } from "./train/trainer";
export {
  LORA_CHECKPOINT_FILE, LORA_CHECKPOINT_FORMAT, serializeLoraCheckpoint, parseLoraCheckpoint, adapterFromCheckpoint, restoreLoraTrainer,
  baseFingerprint, type LoraCheckpointState,
} from "./train/checkpoint";
