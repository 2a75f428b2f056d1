import { GgufReader, bytesSource, type ByteSource, type GgufValue } from "@zero-llm/tensor";
import { TransformerError } from "../errors";
import { readGguf } from "../formats/gguf";
import { LLAMA2C_V1_MAGIC, readLlama2c } from "../formats/llama2c";
import type { LoadOptions } from "../formats/placement";
import { Model, type ModelOptions } from "./model";

export type CheckpointFormat = "llama2c" | "gguf" | "safetensors";

/** What a loader takes: where the weights go and how they are stored (LoadOptions), and the Model's own options. */
export type OpenOptions = ModelOptions & LoadOptions & {
  /**
   * Whether a GGUF's tokenizer.* metadata is kept on `Checkpoint.ggufMetadata` (default true).
   * false: those keys are read and checked but not stored (no vocabulary copied), for callers
   * that build only the model: loadModel and modelFromBytes.
   */
  keepTokenizer?: boolean;
};

/** The GGUF metadata keys a model is built from: every key but the tokenizer's. */
const notTokenizer = (key: string): boolean => !key.startsWith("tokenizer.");

/** Recognises a checkpoint from its first bytes (9 are enough). */
export function detectFormat(bytes: Uint8Array): CheckpointFormat {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.byteLength >= 4 && view.getUint32(0, true) === 0x46554747) return "gguf"; // "GGUF"
  // safetensors: u64 header length, then a JSON object
  if (bytes.byteLength >= 9 && bytes[8] === 0x7b && view.getUint32(4, true) === 0) return "safetensors";
  if (bytes.byteLength >= 4 && view.getUint32(0, true) === LLAMA2C_V1_MAGIC) return "llama2c";
  return "llama2c"; // the legacy layout has no magic: its header is validated against the size instead
}

/** A loaded checkpoint: the model and what else the file carried. */
export interface Checkpoint {
  readonly format: CheckpointFormat;
  readonly model: Model;
  /** GGUF only: the metadata (the tokenizer is in its tokenizer.ggml.* keys). */
  readonly ggufMetadata?: ReadonlyMap<string, GgufValue>;
  /** Hugging Face only: the checkpoint directory (tokenizer.json, if any, is there) and config.json. */
  readonly directory?: string;
  readonly hfConfig?: unknown;
}

/**
 * A checkpoint from one source (GGUF or llama2.c; safetensors needs its config.json: readHf),
 * each tensor read from the source straight into the backend's memory. Works anywhere: a file
 * from openFileSource of @zero-llm/tensor/node, a browser File through blobSource, bytes.
 */
export async function checkpointFromSource(source: ByteSource, options: OpenOptions = {}): Promise<Checkpoint> {
  const first = new Uint8Array(Math.min(9, source.size));
  await source.read(0, first);
  const format = detectFormat(first);
  if (format === "gguf") {
    const reader = await GgufReader.open(source, options.keepTokenizer === false ? { keepKey: notTokenizer } : {});
    const { config, weights, file } = await readGguf(reader, options);
    return { format, model: new Model(config, weights, options), ggufMetadata: file.metadata };
  }
  if (format === "safetensors") {
    throw new TransformerError(
      "MISSING_METADATA",
      `loadModel: expected config.json beside the safetensors file ${source.name}, found only the tensors (use loadModel(directory) or readHf(configJson, [source]))`,
    );
  }
  const { config, weights } = await readLlama2c(source, options);
  return { format, model: new Model(config, weights, options) };
}

/** A Model from one file's bytes already in memory: GGUF or llama2.c (the bytes are copied into the backend's memory). */
export async function modelFromBytes(bytes: Uint8Array, options: OpenOptions = {}): Promise<Model> {
  return (await checkpointFromSource(bytesSource(bytes, "bytes"), { ...options, keepTokenizer: false })).model;
}
