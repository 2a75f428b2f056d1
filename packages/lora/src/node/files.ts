import { rm, stat } from "node:fs/promises";
import path from "node:path";
import { makeDirectory, readFileBounded, writeFileAtomic } from "@zero-llm/tensor/node";
import type { Config } from "@zero-llm/transformer";
import type { Allocate, LoraAdapter } from "../adapter";
import { LoraError } from "../errors";
import { adapterFromGguf, serializeGgufAdapter, type GgufAdapterOptions } from "../formats/gguf";
import { ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE, adapterFromPeft, peftAdapterFiles } from "../formats/peft";

/** Largest adapter file read (a rank-64 adapter on every layer of a 7B model is ~640 MB in f32). */
export const MAX_ADAPTER_BYTES = 4 * 1024 ** 3;
const MAX_CONFIG_BYTES = 1 << 20;

async function readBounded(file: string, max: number, what: string): Promise<Uint8Array> {
  try {
    return await readFileBounded(file, max);
  } catch (e) {
    throw new LoraError("BAD_ADAPTER_FILE", `${what}: expected a readable file at ${file}, found ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
}

/** A PEFT adapter directory (adapter_config.json + adapter_model.safetensors). */
export async function readPeftAdapter(directory: string, options: { allocate?: Allocate } = {}): Promise<LoraAdapter> {
  const config = await readBounded(path.join(directory, ADAPTER_CONFIG_FILE), MAX_CONFIG_BYTES, "PEFT adapter");
  const weights = await readBounded(path.join(directory, ADAPTER_WEIGHTS_FILE), MAX_ADAPTER_BYTES, "PEFT adapter");
  return adapterFromPeft(new TextDecoder().decode(config), weights, options);
}

/**
 * Writes a PEFT adapter directory, each file atomically. adapter_config.json is removed first
 * and written last: an interrupted write leaves a directory that does not load, never one that
 * pairs one adapter's config with another's weights.
 */
export async function writePeftAdapter(directory: string, adapter: LoraAdapter): Promise<void> {
  const { configJson, safetensors } = peftAdapterFiles(adapter);
  await makeDirectory(directory);
  await rm(path.join(directory, ADAPTER_CONFIG_FILE), { force: true });
  await writeFileAtomic(path.join(directory, ADAPTER_WEIGHTS_FILE), [safetensors]);
  await writeFileAtomic(path.join(directory, ADAPTER_CONFIG_FILE), [new TextEncoder().encode(configJson)]);
}

/** A llama.cpp GGUF adapter file, for a base model of config `model`. */
export async function readGgufAdapter(file: string, model: Config, options: { allocate?: Allocate } = {}): Promise<LoraAdapter> {
  return adapterFromGguf(await readBounded(file, MAX_ADAPTER_BYTES, "GGUF adapter"), model, options);
}

/** Writes a llama.cpp GGUF adapter file (atomically) for a base model of config `model`. */
export async function writeGgufAdapter(file: string, model: Config, adapter: LoraAdapter, options: GgufAdapterOptions = {}): Promise<void> {
  await makeDirectory(path.dirname(file));
  await writeFileAtomic(file, [serializeGgufAdapter(model, adapter, options)]);
}

/**
 * An adapter from a path, either kind: a directory (PEFT layout, or a `zllm lora train` run
 * directory, which is one) or a .gguf adapter file (read for `model`, which a GGUF adapter needs
 * to know its module names and RoPE rows).
 */
export async function readAdapter(file: string, model: Config, options: { allocate?: Allocate } = {}): Promise<LoraAdapter> {
  const info = await stat(file).catch(() => undefined);
  if (info === undefined) throw new LoraError("BAD_ADAPTER_FILE", `lora adapter: expected a PEFT adapter directory or a .gguf adapter file at ${file}, found nothing`);
  const adapter = info.isDirectory() ? await readPeftAdapter(file, options) : await readGgufAdapter(file, model, options);
  adapter.check(model);
  return adapter;
}
