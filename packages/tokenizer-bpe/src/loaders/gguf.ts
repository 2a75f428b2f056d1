import { TokenizerError } from "../errors";
import { GPT2_PATTERN, LLAMA3_PATTERN, QWEN2_PATTERN } from "../patterns";
import { SpmTokenizer, TOKEN_TYPE } from "../spm";
import type { BpeTokenizer } from "../bpe";
import { fromByteLevelVocab } from "./byte-level-vocab";

/**
 * A tokenizer from GGUF tokenizer metadata. This package reads no GGUF files itself (that is
 * @zero-llm/tensor's job); pass the key/value metadata as a Map or plain object, with strings as
 * strings, string arrays as string[], numeric arrays as typed arrays (or number[]), u32 as
 * number and u64 as bigint.
 *
 * Keys read:
 *   tokenizer.ggml.model        "gpt2" (byte-level BPE) or "llama" (SentencePiece BPE)
 *   tokenizer.ggml.pre          pre-tokenizer name (gpt2 only): see GGUF_PRE_PATTERNS
 *   tokenizer.ggml.tokens       string[]
 *   tokenizer.ggml.merges       string[] "left right" (gpt2)
 *   tokenizer.ggml.scores       f32[] (llama)
 *   tokenizer.ggml.token_type   i32[]: 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte
 *   tokenizer.ggml.{bos,eos,unknown}_token_id, tokenizer.ggml.add_space_prefix
 */
export type GgufMetadataInput = ReadonlyMap<string, unknown> | Readonly<Record<string, unknown>>;

/** `tokenizer.ggml.pre` values -> split pattern, and whether whole words are looked up first. */
export const GGUF_PRE_PATTERNS: Readonly<Record<string, { pattern: string; ignoreMerges: boolean }>> = {
  "gpt-2": { pattern: GPT2_PATTERN, ignoreMerges: false },
  mpt: { pattern: GPT2_PATTERN, ignoreMerges: false },
  olmo: { pattern: GPT2_PATTERN, ignoreMerges: false },
  jais: { pattern: GPT2_PATTERN, ignoreMerges: false },
  "llama-bpe": { pattern: LLAMA3_PATTERN, ignoreMerges: true },
  llama3: { pattern: LLAMA3_PATTERN, ignoreMerges: true },
  dbrx: { pattern: LLAMA3_PATTERN, ignoreMerges: false },
  "smaug-bpe": { pattern: LLAMA3_PATTERN, ignoreMerges: false },
  qwen2: { pattern: QWEN2_PATTERN, ignoreMerges: false },
  stablelm2: { pattern: QWEN2_PATTERN, ignoreMerges: false },
};

function getter(meta: GgufMetadataInput): (key: string) => unknown {
  if (meta instanceof Map) return (key) => meta.get(key);
  const record = meta as Readonly<Record<string, unknown>>;
  return (key) => (Object.prototype.hasOwnProperty.call(record, key) ? record[key] : undefined);
}

function fail(key: string, expected: string, found: unknown): never {
  const shown = found === undefined ? "nothing" : Array.isArray(found) ? `an array of ${found.length}` : typeof found === "object" ? (found?.constructor?.name ?? "object") : JSON.stringify(String(found));
  throw new TokenizerError("TOKENIZER_BAD_GGUF_METADATA", `${key}: expected ${expected}, found ${shown}`);
}

function stringArray(get: (k: string) => unknown, key: string): string[] {
  const v = get(key);
  if (!Array.isArray(v) || v.some((x) => typeof x !== "string")) fail(key, "an array of strings", v);
  return v as string[];
}

function numberArray(get: (k: string) => unknown, key: string, length: number): ArrayLike<number> | undefined {
  const v = get(key);
  if (v === undefined) return undefined;
  const ok = (ArrayBuffer.isView(v) && !(v instanceof DataView) && !(v instanceof BigInt64Array) && !(v instanceof BigUint64Array)) || (Array.isArray(v) && v.every((x) => typeof x === "number"));
  if (!ok) fail(key, "a numeric array", v);
  const arr = v as ArrayLike<number>;
  if (arr.length !== length) fail(key, `${length} values (one per token)`, `${arr.length} values`);
  return arr;
}

function optionalId(get: (k: string) => unknown, key: string, vocabSize: number): number | undefined {
  const v = get(key);
  if (v === undefined) return undefined;
  const n = typeof v === "bigint" ? Number(v) : v;
  if (typeof n !== "number" || !Number.isInteger(n) || n < 0 || n >= vocabSize) fail(key, `a token id in 0..${vocabSize - 1}`, v);
  return n as number;
}

export function fromGgufMetadata(meta: GgufMetadataInput): BpeTokenizer | SpmTokenizer {
  const get = getter(meta);
  const model = get("tokenizer.ggml.model");
  if (model !== "gpt2" && model !== "llama") fail("tokenizer.ggml.model", `"gpt2" or "llama"`, model);
  const tokens = stringArray(get, "tokenizer.ggml.tokens");
  const types = numberArray(get, "tokenizer.ggml.token_type", tokens.length);
  const unknownId = optionalId(get, "tokenizer.ggml.unknown_token_id", tokens.length);
  const bosId = optionalId(get, "tokenizer.ggml.bos_token_id", tokens.length);
  const eosId = optionalId(get, "tokenizer.ggml.eos_token_id", tokens.length);

  if (model === "llama") {
    const scores = numberArray(get, "tokenizer.ggml.scores", tokens.length);
    if (scores === undefined) fail("tokenizer.ggml.scores", `${tokens.length} scores`, undefined);
    const addSpacePrefix = get("tokenizer.ggml.add_space_prefix");
    if (addSpacePrefix !== undefined && typeof addSpacePrefix !== "boolean") fail("tokenizer.ggml.add_space_prefix", "a boolean", addSpacePrefix);
    return new SpmTokenizer({
      pieces: tokens,
      scores: scores!,
      ...(types !== undefined ? { types } : {}),
      ...(bosId !== undefined ? { bosId } : {}),
      ...(eosId !== undefined ? { eosId } : {}),
      ...(unknownId !== undefined ? { unknownId } : {}),
      addSpacePrefix: addSpacePrefix ?? true,
    });
  }

  const preName = get("tokenizer.ggml.pre") ?? "gpt-2";
  if (typeof preName !== "string") fail("tokenizer.ggml.pre", "a string", preName);
  const pre = GGUF_PRE_PATTERNS[preName as string];
  if (pre === undefined) {
    throw new TokenizerError("TOKENIZER_UNKNOWN_PRE", `tokenizer.ggml.pre: expected one of ${Object.keys(GGUF_PRE_PATTERNS).join(", ")}, found ${JSON.stringify(preName)}`);
  }
  const merges = stringArray(get, "tokenizer.ggml.merges");
  const specialIds: number[] = [];
  const addedIds: number[] = [];
  const holes: (string | undefined)[] = tokens.slice();
  if (types !== undefined) {
    for (let id = 0; id < tokens.length; id++) {
      const t = types[id]!;
      // llama.cpp splits user-defined tokens out of any text; control tokens only when parsing specials.
      if (t === TOKEN_TYPE.control) specialIds.push(id);
      else if (t === TOKEN_TYPE.userDefined) addedIds.push(id);
      else if (t === TOKEN_TYPE.unused) holes[id] = undefined;
    }
  }
  return fromByteLevelVocab({
    tokens: holes,
    merges,
    specialIds,
    addedIds,
    pattern: pre.pattern,
    ignoreMerges: pre.ignoreMerges,
    ...(unknownId !== undefined ? { unknownId } : {}),
    ...(bosId !== undefined ? { bosId } : {}),
    ...(eosId !== undefined ? { eosId } : {}),
    errorCode: "TOKENIZER_BAD_GGUF_METADATA",
    mergesField: "tokenizer.ggml.merges",
    tokensField: "tokenizer.ggml.tokens",
  });
}
