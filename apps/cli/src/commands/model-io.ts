import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { AdapterUse } from "@zero-llm/lora";
import { createWasmBackend, jsBackend, type Backend, type WasmBackend } from "@zero-llm/tensor";
import { createStreamDecoder, fromGgufMetadata, fromTokenizerJson, SpmTokenizer, type StreamDecoder, type Tokenizer } from "@zero-llm/tokenizer-bpe";
import { KV_TYPE_NAMES, type Checkpoint, type KVCache, type KVTypeName, type Model } from "@zero-llm/transformer";
import { openCheckpoint } from "@zero-llm/transformer/node";
import { CliError, UsageError, type FlagTable, type IntegerListFlag, type ParsedArgs } from "../command";
import { adaptedModel, describeAdapters } from "./lora-io";
import { plainGgufMetadata, readVocabularyFile } from "./vocabulary";

/**
 * What the model commands (generate, chat, eval logits, bench) share: the --model / --backend /
 * --threads flags, opening a checkpoint on the chosen backend, and finding its tokenizer.
 */

/**
 * The directory of the nearest package.json above `start`: apps/cli, both for the bundled
 * dist/cli.js and for src/commands/model-io.ts under vitest (neither folder has one).
 */
function packageDirOf(start: string): string {
  for (let dir = start; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, "package.json"))) return dir;
    if (path.dirname(dir) === dir) return start;
  }
}

/**
 * The embedded default model (models/default at the repository root: a 1M-parameter Llama
 * trained on the Brown corpus, see its MODEL.md), used when --model is not given. Found from
 * where the CLI's own files are, never from the working directory, so `zllm generate` works
 * from any folder. The CLI is private to the repository, so the repository is always there.
 */
export const DEFAULT_MODEL_PATH: string = path.resolve(packageDirOf(path.dirname(fileURLToPath(import.meta.url))), "../../models/default");

export const MODEL_FLAGS = {
  model: { type: "string", description: "checkpoint: GGUF file, llama2.c .bin, or Hugging Face directory (config.json + model.safetensors); default the embedded model (models/default)" },
  backend: { type: "string", description: "kernels: wasm (SIMD, default when available) or js (reference)", choices: ["wasm", "js"] },
  threads: { type: "number", description: "threads for the wasm backend (default 2)", integer: true, min: 1, max: 64 },
  ...({
    "cache-type-k": { type: "string", description: "KV cache element type of the keys (llama.cpp's --cache-type-k): f32 (default), f16, q8_0, q4_0, q4_1", choices: KV_TYPE_NAMES },
    "cache-type-v": { type: "string", description: "KV cache element type of the values, independent of the keys (no other mode needed): f32 (default), f16, q8_0, q4_0, q4_1", choices: KV_TYPE_NAMES },
  } as const),
} as const satisfies FlagTable;

/** The KV element types --cache-type-k / --cache-type-v chose (f32 where not given), as ModelOptions.cacheTypes. */
export function cacheTypesOf(flags: Pick<ModelChoice, "cache-type-k" | "cache-type-v">): { kType: KVTypeName; vType: KVTypeName } {
  return { kType: flags["cache-type-k"] ?? "f32", vType: flags["cache-type-v"] ?? "f32" };
}

export const CONTEXT_FLAG = {
  "allow-context-overflow": {
    type: "boolean",
    description: "run a llama (RoPE) model past its trained context (positions are computed, but outputs there were never trained); a gpt2 model cannot (it has that many learned positions)",
  },
} as const satisfies FlagTable;

/**
 * A KV cache of `capacity` positions under the one context rule: more than the model's context
 * (config.seqLen) is a usage error naming `what`, unless --allow-context-overflow and the model
 * is a llama (RoPE computes any position; gpt2 has only its learned ones).
 */
export function contextCache(model: Model, capacity: number, what: string, allowOverflow: boolean): KVCache {
  const { seqLen, arch } = model.config;
  if (capacity > seqLen) {
    if (!allowOverflow) {
      throw new UsageError(`${what}: expected at most ${seqLen} tokens (the model's context), found ${capacity}; --allow-context-overflow runs a llama (RoPE) model past it`);
    }
    if (arch !== "llama") {
      throw new UsageError(`${what}: expected at most ${seqLen} tokens, found ${capacity}; --allow-context-overflow cannot help a ${arch} model: it has ${seqLen} learned position embeddings and none past them`);
    }
  }
  return model.newCache({ capacity, allowContextOverflow: allowOverflow });
}

export const TOKENIZER_FLAG = {
  tokenizer: { type: "string", description: "tokenizer file, recognised by content: tokenizer.json, GGUF, llama2.c tokenizer.bin, .tiktoken or a trained tokenizer (default: the one in the checkpoint)" },
} as const satisfies FlagTable;

export interface OpenedModel {
  /** The checkpoint; its model runs the --lora adapters when any were given (see `lora`). */
  readonly checkpoint: Checkpoint;
  readonly backend: Backend;
  /** A note for stderr when the wasm backend was asked for (or defaulted) but is unavailable. */
  readonly backendNote?: string;
  /** With --lora: the base model and the adapters the checkpoint's model runs on it, and a line for stderr. */
  readonly lora?: { base: Model; uses: AdapterUse[]; note: string };
  dispose(): Promise<void>;
}

/** The flags that choose where the weights come from and which kernels run them. */
export interface ModelChoice {
  model?: string | undefined;
  backend?: "wasm" | "js" | undefined;
  threads?: number | undefined;
  "cache-type-k"?: KVTypeName | undefined;
  "cache-type-v"?: KVTypeName | undefined;
  /** --lora DIR[:scale] values (see lora-io.ts). */
  lora?: string[] | undefined;
}

/** The --model path, or the embedded model's directory; CLI_NO_DEFAULT_MODEL (exit 1) when that is missing. */
export function modelPath(args: ParsedArgs<Pick<typeof MODEL_FLAGS, "model">>, defaultPath: string = DEFAULT_MODEL_PATH): string {
  return modelFile(args.flags.model, defaultPath);
}

export function modelFile(given: string | undefined, defaultPath: string = DEFAULT_MODEL_PATH): string {
  if (given !== undefined && given !== "") return given;
  if (!existsSync(path.join(defaultPath, "config.json")) || !existsSync(path.join(defaultPath, "model.safetensors"))) {
    throw new CliError(
      "CLI_NO_DEFAULT_MODEL",
      `the embedded default model is missing: expected ${defaultPath} with config.json and model.safetensors (models/default of the zero-llm repository), found none; pass --model FILE`,
    );
  }
  return defaultPath;
}

/** The wasm backend (threads from --threads, default 2) unless --backend js or wasm is unavailable. */
export async function chooseBackend(flags: ModelChoice): Promise<{ backend: Backend; note?: string; dispose(): Promise<void> }> {
  const kind = flags.backend ?? "wasm";
  const threads = flags.threads ?? 2;
  if (kind === "js") return { backend: jsBackend, dispose: async () => {} };
  try {
    const wasm: WasmBackend = await createWasmBackend({ threads });
    return { backend: wasm, dispose: () => wasm.dispose() };
  } catch (error) {
    if (flags.backend === "wasm") throw error; // asked for explicitly
    return { backend: jsBackend, note: `wasm backend unavailable (${error instanceof Error ? error.message : String(error)}); using js`, dispose: async () => {} };
  }
}

export async function openModel(flags: ModelChoice, maxBatchRows?: number): Promise<OpenedModel> {
  const file = modelFile(flags.model);
  const { backend, note, dispose } = await chooseBackend(flags);
  try {
    const checkpoint = await openCheckpoint(file, { backend, cacheTypes: cacheTypesOf(flags), ...(maxBatchRows ? { maxBatchRows } : {}) });
    const opened = { checkpoint, backend, ...(note ? { backendNote: note } : {}), dispose };
    const { model, uses } = await adaptedModel(checkpoint.model, flags.lora);
    if (uses.length === 0) return opened;
    const lora = { base: checkpoint.model, uses, note: describeAdapters(uses, flags.lora ?? []) };
    return { ...opened, checkpoint: { ...checkpoint, model }, lora };
  } catch (error) {
    await dispose();
    throw error;
  }
}

/** A tokenizer and the ids that frame a sequence. */
export interface TextCodec {
  readonly tokenizer: Tokenizer;
  /** Prepended to a prompt when the vocabulary asks for it (Llama's <s>). */
  readonly bos?: number;
  /** Generation stops at any of these. */
  readonly eos: readonly number[];
  encode(text: string): number[];
  decoder(): StreamDecoder;
}

function codec(tokenizer: Tokenizer, bos: number | undefined, eos: readonly number[]): TextCodec {
  return {
    tokenizer,
    ...(bos !== undefined ? { bos } : {}),
    eos,
    encode: (text) => (bos !== undefined ? [bos, ...tokenizer.encode(text)] : tokenizer.encode(text)),
    decoder: () => createStreamDecoder(tokenizer),
  };
}

/** bos (when add_bos_token, or by default for SentencePiece) and eos as GGUF tokenizer.ggml.* metadata gives them. */
function ggufCodec(tokenizer: Tokenizer, meta: ReadonlyMap<string, unknown>): TextCodec {
  const bosId = meta.get("tokenizer.ggml.bos_token_id");
  const eosId = meta.get("tokenizer.ggml.eos_token_id");
  const addBos = meta.get("tokenizer.ggml.add_bos_token") ?? tokenizer instanceof SpmTokenizer;
  return codec(tokenizer, addBos === true && typeof bosId === "number" ? bosId : undefined, typeof eosId === "number" ? [eosId] : eosOf(tokenizer));
}

/** A --tokenizer file, whatever its kind (see vocabulary.ts). */
async function codecFromFile(file: string): Promise<TextCodec> {
  const { tokenizer, kind, ggufMetadata } = await readVocabularyFile("tokenizer", file, "a tokenizer file");
  // llama2.c's run.c prepends <s> and stops at <s> (a new story) as well as </s>
  if (kind === "llama2c") return codec(tokenizer, 1, [1, 2]);
  if (ggufMetadata !== undefined) return ggufCodec(tokenizer, ggufMetadata);
  return codec(tokenizer, tokenizer instanceof SpmTokenizer ? tokenizer.bosId : undefined, eosOf(tokenizer));
}

/**
 * The checkpoint's tokenizer: --tokenizer FILE when given (any vocabulary file, recognised by
 * content); else GGUF tokenizer.ggml.* metadata, or tokenizer.json beside a Hugging Face
 * checkpoint. `undefined` when there is none: llama2.c checkpoints carry none, and a Hugging Face
 * directory may lack its tokenizer.json (noTokenizer says why, for the command's message).
 *
 * Checked at load: a tokenizer with fewer tokens than the model's vocabulary could not decode
 * every id the model can produce (a usage error with --tokenizer, CLI_TOKENIZER_MISMATCH for the
 * checkpoint's own).
 */
export async function findTokenizer(checkpoint: Checkpoint, tokenizerFile?: string): Promise<TextCodec | undefined> {
  let found: TextCodec | undefined;
  if (tokenizerFile !== undefined) {
    found = await codecFromFile(tokenizerFile);
  } else if (checkpoint.ggufMetadata) {
    if (!checkpoint.ggufMetadata.has("tokenizer.ggml.model")) return undefined;
    const meta = plainGgufMetadata(checkpoint.ggufMetadata);
    found = ggufCodec(fromGgufMetadata(meta), meta);
  } else if (checkpoint.directory) {
    const file = path.join(checkpoint.directory, "tokenizer.json");
    if (!existsSync(file)) return undefined;
    const t = fromTokenizerJson(await readFile(file, "utf8"));
    const config = (checkpoint.hfConfig ?? {}) as { bos_token_id?: unknown; eos_token_id?: unknown; model_type?: unknown };
    const eos = Array.isArray(config.eos_token_id) ? config.eos_token_id : [config.eos_token_id];
    const ids = eos.filter((x): x is number => typeof x === "number");
    const bos = config.model_type === "llama" && typeof config.bos_token_id === "number" ? config.bos_token_id : undefined;
    found = codec(t, bos, ids.length > 0 ? ids : eosOf(t));
  }
  if (found !== undefined) checkTokenizerCoversModel(found.tokenizer.vocabSize, checkpoint.model.config.vocabSize, tokenizerFile);
  return found;
}

/** Why findTokenizer found none, as the start of a usage message ("no tokenizer: …"). */
export function noTokenizer(checkpoint: Checkpoint): string {
  if (checkpoint.ggufMetadata) return "no tokenizer: the GGUF file has no tokenizer.ggml.* metadata; pass --tokenizer FILE";
  if (checkpoint.directory) return `no tokenizer: expected ${path.join(checkpoint.directory, "tokenizer.json")} beside the Hugging Face checkpoint, or pass --tokenizer FILE`;
  return "no tokenizer: llama2.c checkpoints carry none; pass --tokenizer FILE (llama2.c tokenizer.bin or tokenizer.json)";
}

/** findTokenizer, where text needs one: none is a usage error (`alternative` adds a way out, ", or use --ids"). */
export async function openTokenizer(checkpoint: Checkpoint, tokenizerFile?: string, alternative = ""): Promise<TextCodec> {
  const found = await findTokenizer(checkpoint, tokenizerFile);
  if (found === undefined) throw new UsageError(`${noTokenizer(checkpoint)}${alternative}`);
  return found;
}

/** Every id the model can produce must be a token of the tokenizer (checked before any work). */
function checkTokenizerCoversModel(tokenizerSize: number, vocabSize: number, tokenizerFlag: string | undefined): void {
  if (tokenizerSize >= vocabSize) return;
  const source = tokenizerFlag !== undefined ? `--tokenizer ${tokenizerFlag}` : "the checkpoint's tokenizer";
  const message = `${source} has ${tokenizerSize} tokens, expected at least the model's vocabulary size ${vocabSize} (ids ${tokenizerSize}…${vocabSize - 1} could not be decoded; is it the model's tokenizer?)`;
  if (tokenizerFlag !== undefined) throw new UsageError(message);
  throw new CliError("CLI_TOKENIZER_MISMATCH", message);
}

function eosOf(t: Tokenizer): number[] {
  if (t instanceof SpmTokenizer && t.eosId !== undefined) return [t.eosId];
  const eot = t.specialTokens.get("<|endoftext|>") ?? t.specialTokens.get("</s>") ?? t.specialTokens.get("<|eot_id|>");
  return eot === undefined ? [] : [eot];
}

/** A list flag of token ids (`--tokens`, `--ids`): comma-separated, every entry a non-negative integer. */
export const tokenIdsFlag = (description: string) => ({ type: "integers", item: "token id", min: 0, description }) as const satisfies IntegerListFlag;

/** Token ids must be below the model's vocabulary size. */
export function checkIds(flag: string, ids: readonly number[], vocabSize: number): void {
  const bad = ids.find((id) => id >= vocabSize);
  if (bad !== undefined) throw new UsageError(`--${flag}: expected token ids below the vocabulary size ${vocabSize}, found ${bad}`);
}

/**
 * A text prompt's ids must fit the model too: an id out of range means the tokenizer is not the
 * model's. With --tokenizer FILE that is a bad argument (exit 2); with the checkpoint's own
 * tokenizer the files disagree (exit 1).
 */
export function checkPromptIds(ids: readonly number[], vocabSize: number, tokenizerFlag: string | undefined): void {
  const bad = ids.find((id) => id >= vocabSize);
  if (bad === undefined) return;
  const source = tokenizerFlag !== undefined ? `--tokenizer ${tokenizerFlag}` : "the checkpoint's tokenizer";
  const message = `prompt: ${source} gave token id ${bad}, expected ids below the model's vocabulary size ${vocabSize} (is it the model's tokenizer?)`;
  if (tokenizerFlag !== undefined) throw new UsageError(message);
  throw new CliError("CLI_TOKENIZER_MISMATCH", message);
}
