import { TokenizerError } from "../errors";
import { GGUF_PRE_TOKENIZERS, GGUF_PRE_TOKENIZER_NAMES } from "../pre-tokenizers";
import { SpmTokenizer } from "../spm";
import { TOKEN_TYPE } from "./token-type";
import type { BpeTokenizer } from "../bpe";
import { WordPieceTokenizer } from "../wordpiece";
import { fromByteLevelVocab } from "../loaders/byte-level-vocab";
import { checkPieceBytes, type SpmPieceBytes } from "../spm-vocabulary";

/**
 * A tokenizer from GGUF tokenizer metadata. This package reads no GGUF files itself (that is
 * @zero-llm/tensor's job); pass the key/value metadata as a Map or plain object, with strings as
 * strings, string arrays as string[] or as their UTF-8 bytes end to end with count + 1 offsets
 * (`{ bytes: Uint8Array, offsets: Uint32Array }`: @zero-llm/tensor's GgufStringArray, which
 * `ggufStringArrayOf(entry)` gives for an array read from a file), numeric arrays as typed
 * arrays (or number[]), u32 as number and u64 as bigint. A SentencePiece ("llama") vocabulary
 * given as bytes stays bytes: the tokenizer makes no string per piece (32,000 strings and their
 * Map cost ~5 MB of heap).
 *
 * Keys read:
 *   tokenizer.ggml.model        "gpt2" (byte-level BPE), "llama" (SentencePiece BPE) or "bert" (WordPiece)
 *   tokenizer.ggml.pre          pre-tokenizer name (gpt2 only): see GGUF_PRE_TOKENIZERS; absent: "default"
 *   tokenizer.ggml.tokens       string[]
 *   tokenizer.ggml.merges       string[] "left right" (gpt2)
 *   tokenizer.ggml.scores       f32[] (llama)
 *   tokenizer.ggml.token_type   i32[]: 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte
 *   tokenizer.ggml.{bos,eos,unknown}_token_id, tokenizer.ggml.add_space_prefix
 *   tokenizer.ggml.{cls,seperator}_token_id   (bert: bosId / eosId; the misspelling is the key's)
 */
export type GgufMetadataInput = ReadonlyMap<string, unknown> | Readonly<Record<string, unknown>>;

function getter(meta: GgufMetadataInput): (key: string) => unknown {
  if (meta instanceof Map) return (key) => meta.get(key);
  const record = meta as Readonly<Record<string, unknown>>;
  return (key) => (Object.prototype.hasOwnProperty.call(record, key) ? record[key] : undefined);
}

function fail(key: string, expected: string, found: unknown): never {
  const shown = found === undefined ? "nothing" : Array.isArray(found) ? `an array of ${found.length}` : typeof found === "object" ? (found?.constructor?.name ?? "object") : JSON.stringify(String(found));
  throw new TokenizerError("TOKENIZER_BAD_GGUF_METADATA", `${key}: expected ${expected}, found ${shown}`);
}

/** A string array as given: string[], or bytes + offsets (checked, kept undecoded). */
function stringList(get: (k: string) => unknown, key: string): string[] | SpmPieceBytes {
  const v = get(key);
  if (isStringBytes(v)) {
    checkPieceBytes(v, key, "TOKENIZER_BAD_GGUF_METADATA");
    return v;
  }
  if (!Array.isArray(v) || v.some((x) => typeof x !== "string")) fail(key, "an array of strings (or { bytes: Uint8Array, offsets: Uint32Array })", v);
  return v as string[];
}

function isStringBytes(v: unknown): v is SpmPieceBytes {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
  const { bytes, offsets } = v as { bytes?: unknown; offsets?: unknown };
  return bytes instanceof Uint8Array && offsets instanceof Uint32Array && offsets.length > 0;
}

const lenientDecoder = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });

/** A string array as strings: bytes + offsets decoded item by item (invalid UTF-8 as U+FFFD, as the GGUF reader decodes). */
function stringArray(get: (k: string) => unknown, key: string): string[] {
  const list = stringList(get, key);
  if (Array.isArray(list)) return list;
  const { bytes, offsets } = list;
  return Array.from({ length: offsets.length - 1 }, (_, i) => lenientDecoder.decode(bytes.subarray(offsets[i], offsets[i + 1])));
}

function listLength(list: string[] | SpmPieceBytes): number {
  return Array.isArray(list) ? list.length : list.offsets.length - 1;
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
  return n;
}

/**
 * GGUF keeps no "lower-case" flag for WordPiece vocabularies; the pieces tell: an uncased
 * vocabulary has no upper-case letter outside its bracketed specials ("[CLS]", "[unused0]").
 */
function isCased(tokens: readonly string[]): boolean {
  return tokens.some((t) => !(t.startsWith("[") && t.endsWith("]")) && t !== t.toLowerCase());
}

export function fromGgufMetadata(meta: GgufMetadataInput): BpeTokenizer | SpmTokenizer | WordPieceTokenizer {
  const get = getter(meta);
  const model = get("tokenizer.ggml.model");
  if (model !== "gpt2" && model !== "llama" && model !== "bert") fail("tokenizer.ggml.model", `"gpt2", "llama" or "bert"`, model);
  const pieces = stringList(get, "tokenizer.ggml.tokens");
  const count = listLength(pieces);
  const types = numberArray(get, "tokenizer.ggml.token_type", count);
  const unknownId = optionalId(get, "tokenizer.ggml.unknown_token_id", count);
  const bosId = optionalId(get, "tokenizer.ggml.bos_token_id", count);
  const eosId = optionalId(get, "tokenizer.ggml.eos_token_id", count);

  if (model === "llama") {
    const scores = numberArray(get, "tokenizer.ggml.scores", count);
    if (scores === undefined) fail("tokenizer.ggml.scores", `${count} scores`, undefined);
    const addSpacePrefix = get("tokenizer.ggml.add_space_prefix");
    if (addSpacePrefix !== undefined && typeof addSpacePrefix !== "boolean") fail("tokenizer.ggml.add_space_prefix", "a boolean", addSpacePrefix);
    return new SpmTokenizer({
      pieces: Array.isArray(pieces) ? pieces : compactPieces(pieces),
      scores: scores,
      ...(types !== undefined ? { types } : {}),
      ...(bosId !== undefined ? { bosId } : {}),
      ...(eosId !== undefined ? { eosId } : {}),
      ...(unknownId !== undefined ? { unknownId } : {}),
      addSpacePrefix: addSpacePrefix ?? true,
    });
  }

  const tokens = stringArray(get, "tokenizer.ggml.tokens");
  if (model === "bert") {
    const cls = optionalId(get, "tokenizer.ggml.cls_token_id", tokens.length) ?? bosId;
    const sep = optionalId(get, "tokenizer.ggml.seperator_token_id", tokens.length) ?? eosId;
    if (unknownId === undefined) fail("tokenizer.ggml.unknown_token_id", "the id of [UNK]", undefined);
    const lowercase = !isCased(tokens);
    return new WordPieceTokenizer({
      tokens,
      ...(types !== undefined ? { types } : {}),
      unknownId: unknownId,
      ...(cls !== undefined ? { bosId: cls } : {}),
      ...(sep !== undefined ? { eosId: sep } : {}),
      lowercase,
    });
  }


  // llama.cpp's rule: a gpt2 vocabulary without the key gets the "default" pre-tokenizer.
  const preName = get("tokenizer.ggml.pre") ?? "default";
  if (typeof preName !== "string") fail("tokenizer.ggml.pre", "a string", preName);
  const pre = Object.prototype.hasOwnProperty.call(GGUF_PRE_TOKENIZERS, preName) ? GGUF_PRE_TOKENIZERS[preName] : undefined;
  if (pre === undefined) {
    throw new TokenizerError("TOKENIZER_UNKNOWN_PRE", `tokenizer.ggml.pre: expected one of ${GGUF_PRE_TOKENIZER_NAMES.join(", ")}, found ${JSON.stringify(preName)}`);
  }
  const merges = stringArray(get, "tokenizer.ggml.merges");
  const specialIds: number[] = [];
  const addedIds: number[] = [];
  const holes: (string | undefined)[] = tokens.slice();
  if (types !== undefined) {
    for (let id = 0; id < tokens.length; id++) {
      const t = types[id];
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
    pattern: pre.patterns,
    ignoreMerges: pre.ignoreMerges,
    // No unknownId: llama.cpp drops a byte that has no token (falcon has none for 0x0B) even when
    // the file names an unknown token (GPT-NeoX's is <|endoftext|>).
    ...(bosId !== undefined ? { bosId } : {}),
    ...(eosId !== undefined ? { eosId } : {}),
    errorCode: "TOKENIZER_BAD_GGUF_METADATA",
    mergesField: "tokenizer.ggml.merges",
    tokensField: "tokenizer.ggml.tokens",
  });
}

/**
 * The bytes and offsets alone (a GgufStringArray also holds its decoded strings once anything
 * asked for them; the tokenizer keeps only these two), already checked by stringList.
 */
function compactPieces(list: SpmPieceBytes): SpmPieceBytes {
  return { bytes: list.bytes, offsets: list.offsets };
}
