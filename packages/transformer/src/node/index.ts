// @zero-llm/transformer/node: what touches the file system (Node only). Opening checkpoints from
// paths, writing model files and training runs to directories. The root entry is browser-safe:
// it reads models from a ByteSource (a browser File through blobSource, bytes) and serializes
// them to bytes.
export { openCheckpoint, loadModel, MAX_JSON_BYTES } from "./checkpoint";
export {
  findCheckpointTokenizer, readTokenizerFile, tokenizerFromBytes, plainGgufMetadata, MAX_TOKENIZER_FILE_BYTES,
  type ModelTokenizer, type ChatTemplateSource,
} from "./tokenizer";
export { writeGgufModel, writeHfModel, type HfWriteOptions } from "../formats/save";
export {
  trainRun, lossCsv, exportForInference, readCheckpointFile, removeStaleTempFiles, RUN_FILES,
  type TrainEvent, type TrainProgressEvent, type TrainRunOptions, type TrainRunResult,
} from "../train/run";
