// @zero-llm/lora/node: adapter directories and files on disk, training runs (Node only).
export { readPeftAdapter, writePeftAdapter, readGgufAdapter, writeGgufAdapter, readAdapter, MAX_ADAPTER_BYTES } from "./files";
export {
  loraTrainRun, readLoraCheckpoint, removeStaleLoraTempFiles, LORA_RUN_FILES,
  type LoraTrainEvent, type LoraTrainRunOptions, type LoraTrainRunResult,
} from "./run";
