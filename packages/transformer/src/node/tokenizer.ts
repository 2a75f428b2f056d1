// A model's tokenizer, found the one way every consumer (zllm's model commands, the server) uses:
// in the checkpoint (GGUF tokenizer.ggml.* metadata, tokenizer.json beside a Hugging Face
// checkpoint) or in a tokenizer file recognised by its content, with the ids that frame a
// sequence (bos, the end ids) and the chat template the files carry.
import path from "node:path";
import { GgufFile, ggufStringArrayOf } from "@zero-llm/tensor";
import { readFileBounded } from "@zero-llm/tensor/node";
import {
  SpmTokenizer, decodeUtf8Strict, detectVocabulary, fromGgufMetadata, fromLlama2cTokenizer, fromTokenizerJson, loadVocabulary,
  type Tokenizer,
} from "@zero-llm/tokenizer-bpe";
import { TransformerError } from "../errors";
import type { Checkpoint } from "../infer/load";
import { MAX_JSON_BYTES } from "./checkpoint";

/** The largest tokenizer file read whole (a GGUF used as a tokenizer file is read whole too). */
export const MAX_TOKENIZER_FILE_BYTES = 1 << 30;

/** Where a model's chat template came from. */
export type ChatTemplateSource = "gguf" | "chat_template.jinja" | "tokenizer_config.json";

/** A tokenizer and the ids that frame a sequence, as the model's files declare them. */
export interface ModelTokenizer {
  readonly tokenizer: Tokenizer;
  /**
   * How it was found: the checkpoint's GGUF metadata or tokenizer.json, or a tokenizer file of
   * the kind its content says (GGUF, llama2.c tokenizer.bin, any other vocabulary file).
   */
  readonly kind: "gguf" | "tokenizer.json" | "llama2c" | "other";
  /** Prepended to a prompt when the files ask for it (Llama's <s>); undefined: nothing is. */
  readonly bos: number | undefined;
  /**
   * The ids that end a sequence: GGUF's eos, eot and eom ids; config.json's eos_token_id (one or
   * a list); llama2.c's </s> and <s> (run.c stops at both); the tokenizer's own eos when the
   * files name none. The eos proper comes first.
   */
  readonly eos: readonly number[];
  /** The chat template the files carry, if any. */
  readonly chatTemplate?: { readonly source: string; readonly origin: ChatTemplateSource };
  /**
   * A GGUF file's metadata as plain values (bigint ids as numbers), converted when read: a
   * string array becomes string[] on the first `get` of its key (see PlainGgufMetadata).
   */
  readonly ggufMetadata?: ReadonlyMap<string, unknown>;
}

/** GGUF integers arrive as bigint when 64-bit; ids and flags fit in a number. */
const plain = (value: unknown): unknown => (typeof value === "bigint" ? Number(value) : value);

/** GGUF metadata entries as plain values, ready for fromGgufMetadata. */
export function plainGgufMetadata(metadata: ReadonlyMap<string, { value: unknown }>): Map<string, unknown> {
  return new Map([...metadata].map(([key, entry]) => [key, plain(entry.value)]));
}

/**
 * A GGUF file's metadata as plain values, each converted when asked for (`get`, iteration):
 * the file's string arrays (tokenizer.ggml.tokens, merges) stay bytes until someone asks for
 * them as strings. A model's tokenizer keeps this view, so 32,000 pieces cost their bytes, not
 * 32,000 strings (~5 MB of heap for the stories15M vocabulary).
 */
class PlainGgufMetadata implements ReadonlyMap<string, unknown> {
  constructor(private readonly entries_: ReadonlyMap<string, { value: unknown }>) {}

  get size(): number {
    return this.entries_.size;
  }

  get(key: string): unknown {
    const entry = this.entries_.get(key);
    return entry === undefined ? undefined : plain(entry.value);
  }

  has(key: string): boolean {
    return this.entries_.has(key);
  }

  forEach(callback: (value: unknown, key: string, map: ReadonlyMap<string, unknown>) => void, thisArg?: unknown): void {
    for (const [key, value] of this.entries()) callback.call(thisArg, value, key, this);
  }

  *entries(): MapIterator<[string, unknown]> {
    for (const [key, entry] of this.entries_) yield [key, plain(entry.value)];
  }

  keys(): MapIterator<string> {
    return this.entries_.keys();
  }

  *values(): MapIterator<unknown> {
    for (const entry of this.entries_.values()) yield plain(entry.value);
  }

  [Symbol.iterator](): MapIterator<[string, unknown]> {
    return this.entries();
  }
}

/**
 * The tokenizer.* entries as fromGgufMetadata takes them, string arrays as their bytes and
 * offsets (the reader's GgufStringArray): a SentencePiece vocabulary is then built without a
 * string per piece. Other keys are not touched (a lazy string array would decode).
 */
function tokenizerGgufMetadata(metadata: ReadonlyMap<string, { value: unknown }>): Map<string, unknown> {
  const out = new Map<string, unknown>();
  for (const [key, entry] of metadata) {
    if (key.startsWith("tokenizer.")) out.set(key, ggufStringArrayOf(entry) ?? plain(entry.value));
  }
  return out;
}

/** The tokenizer's own end id (SentencePiece's </s>, a BPE file's eosId), else the special that ends a text in its family. */
function ownEos(t: Tokenizer): number[] {
  if (t.eosId !== undefined) return [t.eosId];
  const eot = t.specialTokens.get("<|endoftext|>") ?? t.specialTokens.get("</s>") ?? t.specialTokens.get("<|eot_id|>");
  return eot === undefined ? [] : [eot];
}

/**
 * GGUF's rules, as llama.cpp reads them: bos when tokenizer.ggml.add_bos_token (default: true
 * for SentencePiece vocabularies); the end ids eos, eot and eom.
 */
function fromGgufEntries(metadata: ReadonlyMap<string, { value: unknown }>): ModelTokenizer {
  const meta = tokenizerGgufMetadata(metadata);
  const tokenizer = fromGgufMetadata(meta);
  const id = (key: string): number | undefined => {
    const v = meta.get(key);
    return typeof v === "number" ? v : undefined;
  };
  const addBos = meta.get("tokenizer.ggml.add_bos_token") ?? tokenizer instanceof SpmTokenizer;
  const declared = [id("tokenizer.ggml.eos_token_id"), id("tokenizer.ggml.eot_token_id"), id("tokenizer.ggml.eom_token_id")]
    .filter((x): x is number => x !== undefined);
  const template = meta.get("tokenizer.chat_template");
  return {
    tokenizer,
    kind: "gguf",
    bos: addBos === true ? id("tokenizer.ggml.bos_token_id") : undefined,
    eos: [...new Set(declared.length > 0 ? declared : ownEos(tokenizer))],
    ...(typeof template === "string" ? { chatTemplate: { source: template, origin: "gguf" as const } } : {}),
    ggufMetadata: new PlainGgufMetadata(metadata),
  };
}

/**
 * A tokenizer file's bytes, recognised by content (not by name): GGUF (tokenizer.ggml.*
 * metadata), llama2.c tokenizer.bin, tokenizer.json, a .tiktoken rank file or a zero-llm BPE
 * file. `fileName` only decides one case: bytes that match no format but are named *.bin are
 * read as a damaged llama2.c tokenizer, whose reader then says where it breaks. The readers'
 * typed errors (TokenizerError, GgufError) pass through.
 */
export function tokenizerFromBytes(bytes: Uint8Array, fileName = ""): ModelTokenizer {
  const kind = detectVocabulary(bytes);
  if (kind === "gguf") return fromGgufEntries(GgufFile.parse(bytes).metadata);
  if (kind === "llama2c" || (kind === "unknown" && /\.bin$/i.test(fileName))) {
    // run.c prepends <s> (1) and stops at </s> (2) and at <s> (a new story begins); </s> first,
    // as the eos proper (a chat template's eos_token)
    return { tokenizer: fromLlama2cTokenizer(bytes), kind: "llama2c", bos: 1, eos: [2, 1] };
  }
  const tokenizer = loadVocabulary(bytes);
  return { tokenizer, kind: "other", bos: tokenizer instanceof SpmTokenizer ? tokenizer.bosId : undefined, eos: ownEos(tokenizer) };
}

/** A tokenizer file (see tokenizerFromBytes): a regular file of at most MAX_TOKENIZER_FILE_BYTES. */
export async function readTokenizerFile(file: string): Promise<ModelTokenizer> {
  return tokenizerFromBytes(await readFileBounded(file, MAX_TOKENIZER_FILE_BYTES), file);
}

/** A file that may be absent: its bytes, or undefined when there is no such file. */
async function readOptional(file: string, maxBytes: number): Promise<Uint8Array | undefined> {
  try {
    return await readFileBounded(file, maxBytes);
  } catch (error) {
    if ((error as { cause?: { code?: unknown } }).cause?.code === "ENOENT") return undefined;
    throw error;
  }
}

interface TokenizerConfigJson {
  add_bos_token?: unknown;
  chat_template?: unknown;
}

function parseJsonFile(file: string, bytes: Uint8Array): unknown {
  try {
    return JSON.parse(decodeUtf8Strict(bytes, file));
  } catch (e) {
    throw new TransformerError("BAD_METADATA", `tokenizer: expected ${file} to be JSON, found a parse error: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
}

/**
 * chat_template.jinja (transformers ≥ 4.43 saves it apart), else tokenizer_config.json's
 * chat_template: a string, or a list of named templates (the one named "default", else the first).
 */
async function hfChatTemplate(dir: string, tokConfig: TokenizerConfigJson | undefined): Promise<ModelTokenizer["chatTemplate"]> {
  const jinjaFile = path.join(dir, "chat_template.jinja");
  const jinja = await readOptional(jinjaFile, MAX_JSON_BYTES);
  if (jinja !== undefined) return { source: decodeUtf8Strict(jinja, jinjaFile), origin: "chat_template.jinja" };
  const t = tokConfig?.chat_template;
  if (typeof t === "string") return { source: t, origin: "tokenizer_config.json" };
  if (Array.isArray(t)) {
    const named = t.filter((x): x is { name: string; template: string } => typeof x?.name === "string" && typeof x?.template === "string");
    const chosen = named.find((x) => x.name === "default") ?? named[0];
    if (chosen) return { source: chosen.template, origin: "tokenizer_config.json" };
  }
  return undefined;
}

/**
 * Hugging Face's rules: tokenizer.json beside config.json; bos = config.json's bos_token_id when
 * tokenizer_config.json's add_bos_token says so (default: for llama models); the end ids are
 * config.json's eos_token_id (a number or a list).
 */
async function fromHfDirectory(dir: string, hfConfig: unknown): Promise<ModelTokenizer | undefined> {
  const tokenizerFile = path.join(dir, "tokenizer.json");
  const json = await readOptional(tokenizerFile, MAX_TOKENIZER_FILE_BYTES);
  if (json === undefined) return undefined;
  const tokenizer = fromTokenizerJson(decodeUtf8Strict(json, tokenizerFile));
  const configFile = path.join(dir, "tokenizer_config.json");
  const configBytes = await readOptional(configFile, MAX_JSON_BYTES);
  const tokConfig = configBytes === undefined ? undefined : (parseJsonFile(configFile, configBytes) as TokenizerConfigJson | null) ?? undefined;
  const config = (typeof hfConfig === "object" && hfConfig !== null ? hfConfig : {}) as { bos_token_id?: unknown; eos_token_id?: unknown; model_type?: unknown };
  const declared = (Array.isArray(config.eos_token_id) ? config.eos_token_id : [config.eos_token_id]).filter((x): x is number => typeof x === "number");
  const wantsBos = tokConfig?.add_bos_token ?? config.model_type === "llama";
  const chatTemplate = await hfChatTemplate(dir, tokConfig);
  return {
    tokenizer,
    kind: "tokenizer.json",
    bos: wantsBos === true && typeof config.bos_token_id === "number" ? config.bos_token_id : undefined,
    eos: [...new Set(declared.length > 0 ? declared : ownEos(tokenizer))],
    ...(chatTemplate ? { chatTemplate } : {}),
  };
}

/**
 * The tokenizer a checkpoint carries: GGUF tokenizer.ggml.* metadata, or tokenizer.json beside a
 * Hugging Face checkpoint. undefined when there is none (llama2.c checkpoints carry none; a GGUF
 * may lack the metadata, a directory its tokenizer.json).
 */
export async function findCheckpointTokenizer(checkpoint: Checkpoint): Promise<ModelTokenizer | undefined> {
  if (checkpoint.ggufMetadata) {
    if (!checkpoint.ggufMetadata.has("tokenizer.ggml.model")) return undefined;
    return fromGgufEntries(checkpoint.ggufMetadata);
  }
  if (checkpoint.directory) return fromHfDirectory(checkpoint.directory, checkpoint.hfConfig);
  return undefined;
}
