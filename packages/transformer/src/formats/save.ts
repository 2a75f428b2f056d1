import { writeFileAtomic, writeGgufFile, writeSafetensorsFile } from "@zero-llm/tensor";
import type { Config } from "../infer/config";
import type { Weights } from "../infer/weights";
import { ggufFromModel, type GgufExportOptions } from "./gguf-write";
import { hfFromModel, type HfExportOptions } from "./hf-write";

/** Writes the model as one GGUF file (atomically: a temporary file renamed over `path`). Node only. */
export async function writeGgufModel(path: string, model: { config: Config; weights: Weights }, options: GgufExportOptions = {}): Promise<void> {
  await writeGgufFile(path, ggufFromModel(model.config, model.weights, options));
}

/** Writes `directory`/config.json and `directory`/model.safetensors (the directory must exist). Node only. */
export async function writeHfModel(directory: string, model: { config: Config; weights: Weights }, options: HfExportOptions = {}): Promise<void> {
  const nodePath = await import("node:path");
  const checkpoint = hfFromModel(model.config, model.weights, options);
  await writeSafetensorsFile(nodePath.join(directory, "model.safetensors"), checkpoint.safetensors);
  const json = new TextEncoder().encode(`${JSON.stringify(checkpoint.config, null, 2)}\n`);
  await writeFileAtomic(nodePath.join(directory, "config.json"), [json]);
}
