import path from "node:path";
import type { Backend } from "@zero-llm/tensor";
import { decodeUtf8, type Tokenizer } from "@zero-llm/tokenizer-bpe";
import type { Checkpoint, Model, ModelOptions } from "@zero-llm/transformer";
import { findCheckpointTokenizer, openCheckpoint, readTokenizerFile, type ModelTokenizer } from "@zero-llm/transformer/node";
import type { SequenceVariant } from "../engine/sequence";
import type { DraftOptions } from "../engine/speculative";
import { ServeError } from "../errors";
import { ChatTemplate, DEFAULT_CHAT_TEMPLATE, DEFAULT_TEMPLATE_STOP } from "./chat-template";

/** A model as the server holds it: weights, tokenizer, the ids that frame a sequence, its chat template. */
export interface ServedModel {
  /** The name clients put in `"model"`. */
  readonly id: string;
  /** Where it was loaded from. */
  readonly source: string;
  readonly model: Model;
  readonly tokenizer: Tokenizer;
  /** Prepended to every prompt that does not already start with it (Llama's <s>, our <|endoftext|>). */
  readonly bos: number | undefined;
  /** Ids that end generation (finish_reason "stop"): eos, end-of-turn and the like. */
  readonly endOfGeneration: readonly number[];
  readonly chatTemplate: ChatTemplate;
  /** Unix seconds when it was loaded (`created` in /v1/models). */
  readonly created: number;
  /** LoRA adapters requests may pick ("model": "ID+NAME"), by name; `model` then runs them per sequence (see withAdapters). */
  readonly adapters?: ReadonlyMap<string, ServedAdapter>;
  /** A draft model for speculative decoding in the engine (`zllm serve --draft-model`), with where it came from. */
  readonly draft?: DraftOptions & { readonly source?: string };
}

/** An adapter as the server holds it: loaded once, applied to the sequences of the requests that name it. */
export interface ServedAdapter {
  /** What follows "+" in a request's "model". */
  readonly name: string;
  /** Where it was read from. */
  readonly source: string;
  readonly scale: number;
  /** Rank and modules, for /v1/models. */
  readonly rank: number;
  readonly modules: number;
  /** Bytes of its matrices in backend memory (held once, whatever the number of sequences using it). */
  readonly bytes: number;
  /** What the engine attaches to a sequence's KV cache. */
  readonly weights: SequenceVariant;
}

export interface LoadOptions {
  /** Default: the file name without extension (the directory name for a Hugging Face folder). */
  id?: string;
  backend?: Backend;
  /** Most rows in one forward pass: the prefill chunk and the largest decode batch. */
  maxBatchRows?: number;
  /** A tokenizer file, for llama2.c checkpoints (which carry none) or to override. */
  tokenizer?: string;
  /** A Jinja chat template overriding the model's. */
  chatTemplate?: string;
  /** KV element types of every cache the engine makes for this model (zllm serve --cache-type-k/v): f32 (default), f16, q8_0, q4_0, q4_1. */
  cacheTypes?: ModelOptions["cacheTypes"];
}

/**
 * Opens a checkpoint (GGUF, Hugging Face directory, llama2.c .bin with `tokenizer`) with its
 * tokenizer and chat template. The tokenizer, bos, end ids and template are found by
 * transformer's findCheckpointTokenizer / readTokenizerFile, as `zllm generate` finds them, with
 * llama.cpp's rules:
 * - bos: GGUF tokenizer.ggml.add_bos_token (default: SentencePiece vocabularies add it);
 *   Hugging Face config.json's bos_token_id for llama models (tokenizer_config.json's
 *   add_bos_token may turn it off).
 * - end of generation: the eos id, GGUF's eot / eom ids, and the special tokens llama.cpp treats as
 *   end-of-generation by name (<|eot_id|>, <|im_end|>, <|end|>, <end_of_turn>, <|endoftext|>,
 *   <|eom_id|>, <EOT>).
 * - chat template: GGUF tokenizer.chat_template; else chat_template.jinja or tokenizer_config.json's
 *   chat_template beside a Hugging Face checkpoint; else DEFAULT_CHAT_TEMPLATE.
 */
export async function loadServedModel(file: string, options: LoadOptions = {}): Promise<ServedModel> {
  let checkpoint: Checkpoint;
  try {
    checkpoint = await openCheckpoint(file, {
      ...(options.backend ? { backend: options.backend } : {}),
      ...(options.maxBatchRows ? { maxBatchRows: options.maxBatchRows } : {}),
      ...(options.cacheTypes ? { cacheTypes: options.cacheTypes } : {}),
    });
  } catch (e) {
    throw new ServeError("model_load_failed", `model ${file}: expected a loadable checkpoint, found an error: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  const found = options.tokenizer ? await tokenizerFromFile(options.tokenizer) : await tokenizerOf(checkpoint, file);
  const { tokenizer } = found;
  if (tokenizer.vocabSize > checkpoint.model.config.vocabSize) {
    // ids the model has no row for would be a BAD_TOKEN deep in a forward pass; refuse up front
    const probe = tokenizer.vocabSize - 1;
    throw new ServeError("model_load_failed", `model ${file}: expected a tokenizer of at most ${checkpoint.model.config.vocabSize} tokens (the model's vocabulary), found ${tokenizer.vocabSize} (id ${probe} has no embedding row)`);
  }
  const text = (id: number | undefined): string => (id === undefined ? "" : decodeUtf8(tokenizer.tokenBytes(id)));
  const specials = { bos_token: text(found.bos ?? tokenizer.bosId), eos_token: text(found.eos[0]) };
  const own = options.chatTemplate !== undefined ? { source: options.chatTemplate, origin: "option" as const } : found.chatTemplate;
  const chatTemplate = own
    ? new ChatTemplate(own.source, own.origin, specials)
    : new ChatTemplate(DEFAULT_CHAT_TEMPLATE, "default", specials, DEFAULT_TEMPLATE_STOP);
  return {
    id: options.id ?? defaultId(file),
    source: file,
    model: checkpoint.model,
    tokenizer,
    bos: found.bos,
    endOfGeneration: endOfGeneration(tokenizer, found.eos),
    chatTemplate,
    created: Math.floor(Date.now() / 1000),
  };
}

/** "models/stories15M.gguf" → "stories15M"; "models/default/" → "default". */
export function defaultId(file: string): string {
  const base = path.basename(path.resolve(file));
  return base.replace(/\.(gguf|bin|safetensors|json)$/i, "");
}

/**
 * The checkpoint's tokenizer, found by transformer's findCheckpointTokenizer (the rules
 * `zllm generate` uses too); its errors, and a checkpoint without one, become model_load_failed.
 */
async function tokenizerOf(checkpoint: Checkpoint, file: string): Promise<ModelTokenizer> {
  let found: ModelTokenizer | undefined;
  try {
    found = await findCheckpointTokenizer(checkpoint);
  } catch (e) {
    throw new ServeError("model_load_failed", `model ${file}: expected a readable tokenizer, found an error: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  if (found !== undefined) return found;
  if (checkpoint.directory) {
    throw new ServeError("model_load_failed", `model ${file}: expected tokenizer.json beside the Hugging Face checkpoint in ${checkpoint.directory}, found none`);
  }
  if (checkpoint.ggufMetadata) {
    throw new ServeError("model_load_failed", `model ${file}: expected tokenizer.ggml.* metadata in the GGUF file, found none; pass a tokenizer file`);
  }
  throw new ServeError("model_load_failed", `model ${file}: a llama2.c checkpoint carries no tokenizer; expected a tokenizer file (llama2.c tokenizer.bin or tokenizer.json), found none`);
}

/** A tokenizer file, recognised by content (transformer's readTokenizerFile). */
async function tokenizerFromFile(file: string): Promise<ModelTokenizer> {
  try {
    return await readTokenizerFile(file);
  } catch (e) {
    throw new ServeError("model_load_failed", `tokenizer ${file}: expected a readable tokenizer file, found an error: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
}

/** llama.cpp's end-of-generation set: the given ids plus the specials it recognises by name. */
const END_OF_GENERATION_NAMES = ["<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|eom_id|>", "<EOT>"];

function endOfGeneration(tokenizer: Tokenizer, eos: readonly number[]): number[] {
  const ids = new Set(eos);
  if (tokenizer.eosId !== undefined) ids.add(tokenizer.eosId);
  for (const name of END_OF_GENERATION_NAMES) {
    const id = tokenizer.specialTokens.get(name);
    if (id !== undefined) ids.add(id);
  }
  return [...ids].sort((a, b) => a - b);
}
