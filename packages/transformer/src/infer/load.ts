import type { GgufValue } from "@zero-llm/tensor";
import { TransformerError } from "../errors";
import { readGguf } from "../formats/gguf";
import { readHf } from "../formats/hf";
import { LLAMA2C_V1_MAGIC, readLlama2c } from "../formats/llama2c";
import type { Config } from "./config";
import { Model, type ModelOptions } from "./model";
import type { Weights } from "./weights";

export type CheckpointFormat = "llama2c" | "gguf" | "safetensors";

/** Recognises a checkpoint from its first bytes. */
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

/** A Model from one file's bytes: GGUF or llama2.c (safetensors needs its config.json: see loadModel / readHf). */
export function modelFromBytes(bytes: Uint8Array, options: ModelOptions = {}): Model {
  return checkpointFromBytes(bytes, options).model;
}

function checkpointFromBytes(bytes: Uint8Array, options: ModelOptions): Checkpoint {
  const format = detectFormat(bytes);
  if (format === "gguf") {
    const { config, weights, file } = readGguf(bytes, options.backend);
    return { format, model: build(config, weights, options), ggufMetadata: file.metadata };
  }
  if (format === "safetensors") {
    throw new TransformerError(
      "MISSING_METADATA",
      "loadModel: expected config.json beside a safetensors file, found only the tensors (use loadModel(directory) or readHf(configJson, [bytes]))",
    );
  }
  const { config, weights } = readLlama2c(bytes, options.backend);
  return { format, model: build(config, weights, options) };
}

function build(config: Config, weights: Weights, options: ModelOptions): Model {
  return new Model(config, weights, options);
}

/**
 * Opens a checkpoint (Node only: node:fs is imported on demand):
 * - a GGUF file or a llama2.c .bin file;
 * - a Hugging Face directory (config.json + model.safetensors, or the shards named by
 *   model.safetensors.index.json), or its config.json, or a .safetensors file beside a config.json.
 */
export async function openCheckpoint(path: string, options: ModelOptions = {}): Promise<Checkpoint> {
  const fs = await import("node:fs/promises");
  const nodePath = await import("node:path");
  const stat = await fs.stat(path).catch(() => {
    throw new TransformerError("UNKNOWN_FORMAT", `loadModel: expected a checkpoint file or directory at ${path}, found nothing`);
  });
  const read = async (file: string): Promise<Uint8Array> => {
    const b = await fs.readFile(file);
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  };
  const exists = (file: string): Promise<boolean> => fs.stat(file).then(() => true, () => false);

  let directory: string;
  let shardPaths: string[] | undefined;
  if (stat.isDirectory()) {
    directory = path;
  } else if (nodePath.basename(path) === "config.json") {
    directory = nodePath.dirname(path);
  } else {
    const bytes = await read(path);
    if (detectFormat(bytes) !== "safetensors") return checkpointFromBytes(bytes, options);
    directory = nodePath.dirname(path);
    shardPaths = [path];
  }

  const configPath = nodePath.join(directory, "config.json");
  if (!(await exists(configPath))) {
    throw new TransformerError("MISSING_METADATA", `loadModel: expected a Hugging Face config.json in ${directory}, found none`);
  }
  let hfConfig: unknown;
  try {
    hfConfig = JSON.parse(await fs.readFile(configPath, "utf8"));
  } catch (e) {
    throw new TransformerError("BAD_METADATA", `loadModel: expected ${configPath} to be JSON, found a parse error: ${e instanceof Error ? e.message : String(e)}`);
  }
  shardPaths ??= await hfShards(directory, { readText: (f) => fs.readFile(f, "utf8"), exists, join: nodePath.join, basename: nodePath.basename });
  const shards: Uint8Array[] = [];
  for (const p of shardPaths) shards.push(await read(p));
  const { config, weights } = readHf(hfConfig, shards, options.backend);
  return { format: "safetensors", model: build(config, weights, options), directory, hfConfig };
}

/** model.safetensors, or the distinct files of model.safetensors.index.json's weight_map (names checked to stay in the directory). */
interface FileAccess {
  readText(file: string): Promise<string>;
  exists(file: string): Promise<boolean>;
  join(...parts: string[]): string;
  basename(file: string): string;
}

async function hfShards(directory: string, fs: FileAccess): Promise<string[]> {
  const indexPath = fs.join(directory, "model.safetensors.index.json");
  const single = fs.join(directory, "model.safetensors");
  if (!(await fs.exists(indexPath))) {
    if (await fs.exists(single)) return [single];
    throw new TransformerError("MISSING_WEIGHT", `loadModel: expected model.safetensors or model.safetensors.index.json in ${directory}, found neither`);
  }
  let index: unknown;
  try {
    index = JSON.parse(await fs.readText(indexPath));
  } catch (e) {
    throw new TransformerError("BAD_METADATA", `loadModel: expected ${indexPath} to be JSON, found a parse error: ${e instanceof Error ? e.message : String(e)}`);
  }
  const map = (index as { weight_map?: unknown } | null)?.weight_map;
  if (typeof map !== "object" || map === null) {
    throw new TransformerError("BAD_METADATA", `loadModel: expected a weight_map object in ${indexPath}, found ${JSON.stringify(map)}`);
  }
  const files = new Set<string>();
  for (const file of Object.values(map)) {
    if (typeof file !== "string" || file !== fs.basename(file) || !file.endsWith(".safetensors")) {
      throw new TransformerError("BAD_METADATA", `loadModel: expected weight_map entries to be .safetensors file names in ${directory}, found ${JSON.stringify(file)}`);
    }
    files.add(file);
  }
  return [...files].map((f) => fs.join(directory, f));
}

/** Reads a checkpoint and builds a Model (see openCheckpoint for what `path` may be). */
export async function loadModel(path: string, options: ModelOptions = {}): Promise<Model> {
  return (await openCheckpoint(path, options)).model;
}
