import { readFile } from "node:fs/promises";
import path from "node:path";
import type { Backend } from "@zero-llm/tensor";
import {
  SpmTokenizer, decodeUtf8, fromGgufMetadata, fromLlama2cTokenizer, fromTokenizerJson, loadVocabulary, type Tokenizer,
} from "@zero-llm/tokenizer-bpe";
import type { Checkpoint, Model, ModelOptions } from "@zero-llm/transformer";
import { openCheckpoint } from "@zero-llm/transformer/node";
import { ServeError } from "../errors";
import { ChatTemplate, DEFAULT_CHAT_TEMPLATE, DEFAULT_TEMPLATE_STOP, type ChatTemplateOrigin } from "./chat-template";

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
 * tokenizer and chat template. The rules follow `zllm generate` and llama.cpp:
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
  const own = options.chatTemplate !== undefined ? { source: options.chatTemplate, origin: "option" as const } : found.template;
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

interface FoundTokenizer {
  tokenizer: Tokenizer;
  bos: number | undefined;
  eos: number[];
  template?: { source: string; origin: ChatTemplateOrigin };
}

const plain = (v: unknown): unknown => (typeof v === "bigint" ? Number(v) : v);

async function tokenizerOf(checkpoint: Checkpoint, file: string): Promise<FoundTokenizer> {
  try {
    if (checkpoint.ggufMetadata) {
      const meta = new Map([...checkpoint.ggufMetadata].map(([k, v]) => [k, plain(v.value)]));
      const tokenizer = fromGgufMetadata(meta);
      const num = (key: string): number | undefined => {
        const v = meta.get(key);
        return typeof v === "number" ? v : undefined;
      };
      const addBos = meta.get("tokenizer.ggml.add_bos_token") ?? tokenizer instanceof SpmTokenizer;
      const bosId = num("tokenizer.ggml.bos_token_id");
      const eos = [num("tokenizer.ggml.eos_token_id"), num("tokenizer.ggml.eot_token_id"), num("tokenizer.ggml.eom_token_id")]
        .filter((x): x is number => x !== undefined);
      const source = meta.get("tokenizer.chat_template");
      return {
        tokenizer,
        bos: addBos === true ? bosId : undefined,
        eos,
        ...(typeof source === "string" ? { template: { source, origin: "gguf" as const } } : {}),
      };
    }
    if (checkpoint.directory) {
      const dir = checkpoint.directory;
      const tokenizerJson = await readFile(path.join(dir, "tokenizer.json"), "utf8").catch((cause: unknown) => {
        throw new ServeError("model_load_failed", `model ${file}: expected tokenizer.json beside the Hugging Face checkpoint in ${dir}, found none`, { cause });
      });
      const tokenizer = fromTokenizerJson(tokenizerJson);
      const config = (checkpoint.hfConfig ?? {}) as { bos_token_id?: unknown; eos_token_id?: unknown; model_type?: unknown };
      const tokConfig = await readJson(path.join(dir, "tokenizer_config.json"));
      const eosIds = (Array.isArray(config.eos_token_id) ? config.eos_token_id : [config.eos_token_id]).filter((x): x is number => typeof x === "number");
      const wantsBos = tokConfig?.add_bos_token ?? config.model_type === "llama";
      const bos = wantsBos === true && typeof config.bos_token_id === "number" ? config.bos_token_id : undefined;
      return { tokenizer, bos, eos: eosIds, ...(await hfTemplate(dir, tokConfig)) };
    }
  } catch (e) {
    if (e instanceof ServeError) throw e;
    throw new ServeError("model_load_failed", `model ${file}: expected a readable tokenizer, found an error: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  throw new ServeError("model_load_failed", `model ${file}: a llama2.c checkpoint carries no tokenizer; expected a tokenizer file (llama2.c tokenizer.bin or tokenizer.json), found none`);
}

async function tokenizerFromFile(file: string): Promise<FoundTokenizer> {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(file));
  } catch (e) {
    throw new ServeError("model_load_failed", `tokenizer ${file}: expected a readable file, found an error: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  if (file.endsWith(".bin")) {
    // llama2.c's run.c: <s> = 1 starts a prompt, </s> = 2 ends generation
    return { tokenizer: fromLlama2cTokenizer(bytes), bos: 1, eos: [2] };
  }
  const tokenizer = loadVocabulary(bytes);
  return { tokenizer, bos: tokenizer instanceof SpmTokenizer ? tokenizer.bosId : undefined, eos: tokenizer.eosId === undefined ? [] : [tokenizer.eosId] };
}

interface TokenizerConfig {
  add_bos_token?: unknown;
  chat_template?: unknown;
}

async function readJson(file: string): Promise<TokenizerConfig | undefined> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch {
    return undefined; // optional file
  }
  try {
    return JSON.parse(text) as TokenizerConfig;
  } catch (e) {
    throw new ServeError("model_load_failed", `${file}: expected JSON, found a parse error: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
}

/** chat_template.jinja (transformers ≥ 4.43 saves it apart), else tokenizer_config.json's chat_template. */
async function hfTemplate(dir: string, tokConfig: TokenizerConfig | undefined): Promise<{ template?: { source: string; origin: ChatTemplateOrigin } }> {
  const jinja = await readFile(path.join(dir, "chat_template.jinja"), "utf8").catch(() => undefined);
  if (jinja !== undefined) return { template: { source: jinja, origin: "chat_template.jinja" } };
  const t = tokConfig?.chat_template;
  if (typeof t === "string") return { template: { source: t, origin: "tokenizer_config.json" } };
  if (Array.isArray(t)) {
    // a list of named templates: the one named "default", else the first
    const named = t.filter((x): x is { name: string; template: string } => typeof x?.name === "string" && typeof x?.template === "string");
    const chosen = named.find((x) => x.name === "default") ?? named[0];
    if (chosen) return { template: { source: chosen.template, origin: "tokenizer_config.json" } };
  }
  return {};
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
