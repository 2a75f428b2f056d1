import { LoraModel, type LoraAdapter } from "@zero-llm/lora";
import type { KVCache, KVCacheOptions } from "@zero-llm/transformer";
import { ServeError } from "../errors";
import type { ServedAdapter, ServedModel } from "./load";

/** An adapter to serve under a name (`zllm serve --lora NAME=DIR[:scale]`). */
export interface AdapterToServe {
  /** What requests put after "+": "model": "default+NAME". */
  readonly name: string;
  readonly adapter: LoraAdapter;
  /** Default 1 (llama.cpp's --lora-scaled). */
  readonly scale?: number;
  /** Where it was read from, for /v1/models. Default: the name. */
  readonly source?: string;
}

/**
 * A LoraModel whose KV caches are the base model's: same shape, and the element types the base
 * was loaded with (`--cache-type-k/v`), which a LoraModel built from the base alone would not
 * know. The cache's rows still run with the adapters attached to it.
 */
class ServedLoraModel extends LoraModel {
  override newCache(options: KVCacheOptions = {}): KVCache {
    return this.base.newCache(options);
  }
}

/** Adapter names: what may follow "+" in a model name. */
const NAME = /^[A-Za-z0-9._:-]{1,64}$/;

/**
 * The served model with LoRA adapters that requests choose per sequence ("model": "ID+NAME").
 * The model becomes a @zero-llm/lora LoraModel over the same weight arrays (nothing copied);
 * each adapter is resolved once (checked against the model, its matrices copied into backend
 * memory once) into an AdapterSet. The engine attaches a request's set to its sequence's KV
 * cache, and every forward pass routes each row to its own cache's set: base and adapted
 * sequences, and sequences of different adapters, decode in one batch, and a row with no adapter
 * gets the base model's logits bit for bit.
 */
export function withAdapters(served: ServedModel, adapters: readonly AdapterToServe[]): ServedModel {
  if (adapters.length === 0) return served;
  const model = served.model instanceof LoraModel ? served.model : new ServedLoraModel(served.model);
  const byName = new Map<string, ServedAdapter>(served.adapters ?? []);
  for (const { name, adapter, scale = 1, source } of adapters) {
    if (!NAME.test(name)) {
      throw new ServeError("invalid_option", `adapter name: expected 1 to 64 letters, digits, '.', '_', ':' or '-', found "${name}"`);
    }
    if (byName.has(name)) throw new ServeError("invalid_option", `adapter name: expected distinct names for model ${served.id}, found "${name}" twice`);
    let set: ReturnType<LoraModel["adapterSet"]>;
    try {
      set = model.adapterSet([{ adapter, scale }]);
    } catch (e) {
      throw new ServeError("model_load_failed", `adapter ${name}: expected an adapter for model ${served.id}, found: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
    byName.set(name, {
      name,
      source: source ?? name,
      scale,
      rank: adapter.config.r,
      modules: adapter.modules.size,
      bytes: set.bytes,
      weights: { variant: name, attach: (cache) => model.useAdapters(cache, set) },
    });
  }
  return { ...served, model, adapters: byName };
}
