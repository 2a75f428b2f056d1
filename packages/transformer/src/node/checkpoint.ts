import { stat } from "node:fs/promises";
import path from "node:path";
import { openFileSource, readFileBounded } from "@zero-llm/tensor/node";
import type { ByteSource } from "@zero-llm/tensor";
import { TransformerError } from "../errors";
import { readHf } from "../formats/hf";
import { checkpointFromSource, detectFormat, type Checkpoint, type OpenOptions } from "../infer/load";
import { Model } from "../infer/model";

/** Largest config.json / model.safetensors.index.json read: real ones are kilobytes; a bound keeps a wrong file from filling memory. */
export const MAX_JSON_BYTES = 64 << 20;

/**
 * Opens a checkpoint from disk (Node):
 * - a GGUF file or a llama2.c .bin file;
 * - a Hugging Face directory (config.json + model.safetensors, or the shards named by
 *   model.safetensors.index.json), or its config.json, or a .safetensors file beside a config.json.
 *
 * Files are opened as regular files only (a directory where a file is expected, /dev/zero or a
 * fifo is NOT_A_FILE before a byte is read), their headers are checked against their sizes, and
 * each tensor is read from disk straight into `options.backend`'s memory: the file never sits
 * whole in JavaScript memory, so loading takes the weights' memory plus a few megabytes.
 */
export async function openCheckpoint(file: string, options: OpenOptions = {}): Promise<Checkpoint> {
  const info = await stat(file).catch((cause: unknown) => {
    throw new TransformerError("UNKNOWN_FORMAT", `loadModel: expected a checkpoint file or directory at ${file}, found nothing`, { cause });
  });
  let directory: string;
  let shardPaths: string[] | undefined;
  if (info.isDirectory()) {
    directory = file;
  } else if (path.basename(file) === "config.json") {
    directory = path.dirname(file);
  } else {
    const source = await openFileSource(file);
    try {
      const first = new Uint8Array(Math.min(9, source.size));
      await source.read(0, first);
      if (detectFormat(first) !== "safetensors") return await checkpointFromSource(source, options);
    } finally {
      await source.close();
    }
    directory = path.dirname(file);
    shardPaths = [file];
  }

  const configPath = path.join(directory, "config.json");
  if (!(await exists(configPath))) {
    throw new TransformerError("MISSING_METADATA", `loadModel: expected a Hugging Face config.json in ${directory}, found none`);
  }
  const hfConfig = parseJson(configPath, await readFileBounded(configPath, MAX_JSON_BYTES));
  shardPaths ??= await hfShards(directory);
  const sources: ByteSource[] = [];
  try {
    for (const p of shardPaths) sources.push(await openFileSource(p));
    const { config, weights } = await readHf(hfConfig, sources, options);
    return { format: "safetensors", model: new Model(config, weights, options), directory, hfConfig };
  } finally {
    for (const source of sources) await source.close();
  }
}

/**
 * Reads a checkpoint and builds a Model (see openCheckpoint for what `file` may be). Only the
 * model is returned, so a GGUF's tokenizer metadata is skipped, not kept (keepTokenizer false).
 */
export async function loadModel(file: string, options: OpenOptions = {}): Promise<Model> {
  return (await openCheckpoint(file, { ...options, keepTokenizer: false })).model;
}

function exists(file: string): Promise<boolean> {
  return stat(file).then(() => true, () => false);
}

function parseJson(file: string, bytes: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    throw new TransformerError("BAD_METADATA", `loadModel: expected ${file} to be JSON, found a parse error: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
}

/** model.safetensors, or the distinct files of model.safetensors.index.json's weight_map (names checked to stay in the directory). */
async function hfShards(directory: string): Promise<string[]> {
  const indexPath = path.join(directory, "model.safetensors.index.json");
  const single = path.join(directory, "model.safetensors");
  if (!(await exists(indexPath))) {
    if (await exists(single)) return [single];
    throw new TransformerError("MISSING_WEIGHT", `loadModel: expected model.safetensors or model.safetensors.index.json in ${directory}, found neither`);
  }
  const index = parseJson(indexPath, await readFileBounded(indexPath, MAX_JSON_BYTES));
  const map = (index as { weight_map?: unknown } | null)?.weight_map;
  if (typeof map !== "object" || map === null) {
    throw new TransformerError("BAD_METADATA", `loadModel: expected a weight_map object in ${indexPath}, found ${JSON.stringify(map)}`);
  }
  const files = new Set<string>();
  for (const name of Object.values(map)) {
    if (typeof name !== "string" || name !== path.basename(name) || !name.endsWith(".safetensors")) {
      throw new TransformerError("BAD_METADATA", `loadModel: expected weight_map entries to be .safetensors file names in ${directory}, found ${JSON.stringify(name)}`);
    }
    files.add(name);
  }
  return [...files].map((f) => path.join(directory, f));
}
