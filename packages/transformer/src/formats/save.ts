import { makeDirectory as makeTensorDirectory, writeFileAtomic, writeGgufFile, writeSafetensorsFile } from "@zero-llm/tensor/node";
import { exportTokenizerJson, type BpeTokenizer } from "@zero-llm/tokenizer-bpe";
import { TransformerError } from "../errors";
import type { Config } from "../infer/config";
import type { Weights } from "../infer/weights";
import { ggufFromModel, type GgufExportOptions } from "./gguf-write";
import { hfFromModel, type HfExportOptions } from "./hf-write";

export interface HfWriteOptions extends HfExportOptions {
  /**
   * Also write `directory`/tokenizer.json: a BpeTokenizer (exported with exportTokenizerJson of
   * @zero-llm/tokenizer-bpe), or the text of a tokenizer.json to copy (checked to be JSON).
   */
  tokenizer?: BpeTokenizer | string;
}

/**
 * Writes the model as one GGUF file (atomically: a temporary file renamed over `path`), creating
 * the parent directory if needed. With `options.tokenizer` a BpeTokenizer, its vocabulary goes
 * into tokenizer.ggml.* (@zero-llm/tokenizer-bpe's toGgufMetadata). Node only.
 */
export async function writeGgufModel(path: string, model: { config: Config; weights: Weights }, options: GgufExportOptions = {}): Promise<void> {
  const input = ggufFromModel(model.config, model.weights, options);
  const nodePath = await import("node:path");
  await makeDirectory(nodePath.dirname(path));
  await writeGgufFile(path, input);
}

/**
 * Writes `directory`/config.json and `directory`/model.safetensors (and tokenizer.json when given),
 * creating the directory if needed; each file is written atomically. Node only.
 */
export async function writeHfModel(directory: string, model: { config: Config; weights: Weights }, options: HfWriteOptions = {}): Promise<void> {
  const nodePath = await import("node:path");
  const checkpoint = hfFromModel(model.config, model.weights, options);
  const tokenizerJson = tokenizerText(options.tokenizer);
  await makeDirectory(directory);
  await writeSafetensorsFile(nodePath.join(directory, "model.safetensors"), checkpoint.safetensors);
  if (tokenizerJson !== undefined) await writeFileAtomic(nodePath.join(directory, "tokenizer.json"), [new TextEncoder().encode(tokenizerJson)]);
  const json = new TextEncoder().encode(`${JSON.stringify(checkpoint.config, null, 2)}\n`);
  await writeFileAtomic(nodePath.join(directory, "config.json"), [json]);
}

function tokenizerText(tokenizer: HfWriteOptions["tokenizer"]): string | undefined {
  if (tokenizer === undefined) return undefined;
  if (typeof tokenizer !== "string") return exportTokenizerJson(tokenizer);
  try {
    JSON.parse(tokenizer);
  } catch (e) {
    throw new TransformerError("BAD_METADATA", `writeHfModel tokenizer: expected the text of a tokenizer.json, found a JSON parse error: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  return tokenizer;
}

/**
 * mkdir -p through @zero-llm/tensor's makeDirectory (which, unlike Node 20's recursive mkdir,
 * cannot loop forever on paths such as /proc/x), its MKDIR_FAILED kept as this package's error.
 */
async function makeDirectory(directory: string): Promise<void> {
  try {
    await makeTensorDirectory(directory);
  } catch (e) {
    throw new TransformerError("BAD_CONFIG", `write: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
}
