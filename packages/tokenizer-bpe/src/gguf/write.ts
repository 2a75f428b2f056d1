import { bytesToByteLevel } from "../byte-level";
import { mergeTablesOf, type BpeTokenizer } from "../bpe";
import { mergeByHeap } from "../bpe-merge";
import { TokenizerError } from "../errors";
import { CL100K_PATTERN, LLAMA3_PATTERN } from "../patterns";
import { ggufPreTokenizerName } from "../pre-tokenizers";
import { TOKEN_TYPE } from "./token-type";

/**
 * Tokenizers as GGUF tokenizer.ggml.* metadata: the writing half of read.ts, the way llama.cpp's
 * converter writes them. This package writes no files; the entries are values in the shape of
 * @zero-llm/tensor's GgufValue (`{ type, value }`, arrays `{ type: "array", itemType, value }`),
 * so a GGUF writer takes them as they are:
 *
 *   serializeGguf({ metadata: [...modelKeys, ...toGgufMetadata(tokenizer, { vocabSize })], tensors })
 *
 * A byte-level BPE tokenizer (`toGgufMetadata`):
 *   tokenizer.ggml.model        "gpt2" (byte-level BPE, whatever the model's architecture)
 *   tokenizer.ggml.pre          llama.cpp's name for the split rules (`ggufPreTokenizerNameOf`)
 *   tokenizer.ggml.tokens       one string per id: GPT-2 byte-level text ("Ġthe"); special tokens as written
 *   tokenizer.ggml.token_type   NORMAL, CONTROL (special tokens), USER_DEFINED (added tokens
 *                               matched in any text), UNUSED (padding up to the model's vocabulary)
 *   tokenizer.ggml.merges       "left right" in byte-level text, highest priority first
 *   tokenizer.ggml.bos_token_id / eos_token_id / add_bos_token / add_eos_token
 *
 * Placeholder vocabularies for a model that has no tokenizer (`minimalLlamaVocabulary`,
 * `minimalGpt2Vocabulary`): llama.cpp refuses a model without one.
 */
export type GgufTokenizerValue =
  | { type: "u32"; value: number }
  | { type: "bool"; value: boolean }
  | { type: "string"; value: string }
  | { type: "array"; itemType: "string"; value: string[] }
  | { type: "array"; itemType: "i32"; value: Int32Array }
  | { type: "array"; itemType: "f32"; value: Float32Array };

export type GgufTokenizerEntries = Array<readonly [key: string, value: GgufTokenizerValue]>;

export interface GgufTokenizerOptions {
  /** The model's vocabulary size: ids the tokenizer does not use are written as UNUSED "[PADn]". Default: the tokenizer's. */
  vocabSize?: number;
  /** Ids to write as bos / eos. Default: the tokenizer's own, else the id of "<|endoftext|>" when it has one. */
  bosTokenId?: number;
  eosTokenId?: number;
  /** tokenizer.ggml.add_bos_token: whether llama.cpp prepends bos to a prompt. Default false. */
  addBosToken?: boolean;
}

const u32 = (value: number): GgufTokenizerValue => ({ type: "u32", value });
const bool = (value: boolean): GgufTokenizerValue => ({ type: "bool", value });
const string = (value: string): GgufTokenizerValue => ({ type: "string", value });
const strings = (value: string[]): GgufTokenizerValue => ({ type: "array", itemType: "string", value });
const i32s = (value: Int32Array): GgufTokenizerValue => ({ type: "array", itemType: "i32", value });
const f32s = (value: Float32Array): GgufTokenizerValue => ({ type: "array", itemType: "f32", value });

/**
 * llama.cpp's tokenizer.ggml.pre for a tokenizer's split rules, or undefined when it has none
 * (a custom pattern). llama.cpp picks its rules by this name, not from the file.
 *
 * cl100k's pattern (our trained tokenizers' default) is, match for match, the one llama.cpp uses
 * for "llama-bpe" (Llama 3), "dbrx" and "smaug-bpe" (see patterns.ts). "llama-bpe" also makes
 * llama.cpp look a whole piece up as one token before merging (ignore_merges), which gives the
 * same result as merging exactly when every token's own bytes merge back to that token; so a
 * trained tokenizer is written "llama-bpe" when that holds, else "dbrx" (merges always).
 */
export function ggufPreTokenizerNameOf(tokenizer: BpeTokenizer): string | undefined {
  const patterns = tokenizer.patterns.map((p) => (p === CL100K_PATTERN ? LLAMA3_PATTERN : p));
  const isLlama3 = patterns.length === 1 && patterns[0] === LLAMA3_PATTERN;
  if (isLlama3 && !tokenizer.ignoreMerges && tokenizer.merges !== undefined && mergesReachEveryToken(tokenizer)) return "llama-bpe";
  return ggufPreTokenizerName(patterns, tokenizer.ignoreMerges);
}

/** True when encoding the bytes of every (non-special) token gives back that one token. */
function mergesReachEveryToken(tokenizer: BpeTokenizer): boolean {
  const { tokens, pairs, tokenBytes } = mergeTablesOf(tokenizer);
  const specials = new Set(tokenizer.specialTokens.values());
  for (let id = 0; id < tokenizer.vocabSize; id++) {
    const bytes = tokenBytes[id];
    if (specials.has(id) || bytes === undefined || bytes.length < 2) continue;
    const ids = mergeByHeap(bytes, tokens, pairs).ids;
    if (ids.length !== 1 || ids[0] !== id) return false;
  }
  return true;
}

function bad(field: string, expected: string, found: unknown): never {
  throw new TokenizerError("TOKENIZER_BAD_ARGUMENT", `gguf tokenizer ${field}: expected ${expected}, found ${String(found)}`);
}

/** tokenizer.ggml.* entries for a byte-level BPE tokenizer with a merge list, padded with UNUSED tokens to `vocabSize` ids. */
export function toGgufMetadata(tokenizer: BpeTokenizer, options: GgufTokenizerOptions = {}): GgufTokenizerEntries {
  const vocabSize = options.vocabSize ?? tokenizer.vocabSize;
  if (tokenizer.vocabSize > vocabSize) bad("vocabSize", `at most the model's ${vocabSize} token ids`, `a tokenizer with ${tokenizer.vocabSize}`);
  const merges = tokenizer.merges;
  if (merges === undefined) bad("merges", "a BPE tokenizer with a merge list", "one with tiktoken ranks only");
  const pre = ggufPreTokenizerNameOf(tokenizer);
  if (pre === undefined) bad("pre", "split rules llama.cpp knows by name (gpt2, cl100k, llama3, qwen2, or a GGUF_PRE_TOKENIZERS entry)", JSON.stringify(tokenizer.patterns.join(" then ").slice(0, 60)));
  const specialText = new Map<number, string>();
  for (const [text, id] of tokenizer.specialTokens) specialText.set(id, text);
  const { tokenBytes } = mergeTablesOf(tokenizer);
  const tokens: string[] = [];
  const types = new Int32Array(vocabSize);
  for (let id = 0; id < vocabSize; id++) {
    const special = specialText.get(id);
    const bytes = special === undefined ? tokenBytes[id] : undefined;
    if (special !== undefined) {
      tokens.push(special);
      types[id] = tokenizer.addedTokens.has(special) ? TOKEN_TYPE.userDefined : TOKEN_TYPE.control;
    } else if (bytes !== undefined) {
      tokens.push(bytesToByteLevel(bytes));
      types[id] = TOKEN_TYPE.normal;
    } else {
      tokens.push(`[PAD${id}]`); // ids the tokenizer never produces (the model's vocabulary is larger)
      types[id] = TOKEN_TYPE.unused;
    }
  }
  const text = (id: number): string => bytesToByteLevel(tokenizer.tokenBytes(id));
  const endOfText = tokenizer.specialTokens.get("<|endoftext|>");
  const bos = options.bosTokenId ?? tokenizer.bosId ?? endOfText;
  const eos = options.eosTokenId ?? tokenizer.eosId ?? endOfText;
  for (const [key, id] of [["bosTokenId", bos], ["eosTokenId", eos]] as const) {
    if (id !== undefined && (!Number.isInteger(id) || id < 0 || id >= vocabSize)) bad(key, `an id in [0, ${vocabSize})`, id);
  }
  const entries: GgufTokenizerEntries = [
    ["tokenizer.ggml.model", string("gpt2")],
    ["tokenizer.ggml.pre", string(pre)],
    ["tokenizer.ggml.tokens", strings(tokens)],
    ["tokenizer.ggml.token_type", i32s(types)],
    ["tokenizer.ggml.merges", strings(merges.map(([a, b]) => `${text(a)} ${text(b)}`))],
  ];
  if (bos !== undefined) entries.push(["tokenizer.ggml.bos_token_id", u32(bos)]);
  if (eos !== undefined) entries.push(["tokenizer.ggml.eos_token_id", u32(eos)]);
  entries.push(["tokenizer.ggml.add_bos_token", bool(options.addBosToken ?? false)], ["tokenizer.ggml.add_eos_token", bool(false)]);
  return entries;
}

/** tokenizer.ggml.* entries from explicit pieces (SentencePiece-style "llama" model). */
export function llamaVocabularyEntries(tokens: string[], scores: Float32Array, types: Int32Array, ids = { bos: 1, eos: 2, unk: 0 }): GgufTokenizerEntries {
  return [
    ["tokenizer.ggml.model", string("llama")],
    ["tokenizer.ggml.tokens", strings(tokens)],
    ["tokenizer.ggml.scores", f32s(scores)],
    ["tokenizer.ggml.token_type", i32s(types)],
    ["tokenizer.ggml.bos_token_id", u32(ids.bos)],
    ["tokenizer.ggml.eos_token_id", u32(ids.eos)],
    ["tokenizer.ggml.unknown_token_id", u32(ids.unk)],
    ["tokenizer.ggml.add_bos_token", bool(true)],
    ["tokenizer.ggml.add_eos_token", bool(false)],
  ];
}

/** "a", "b", … "z", "aa", "ab", …: a distinct lower-case name for every n ≥ 0. */
function letters(n: number): string {
  let s = "";
  for (let k = n + 1; k > 0; k = Math.floor((k - 1) / 26)) s = String.fromCharCode(97 + ((k - 1) % 26)) + s;
  return s;
}

/**
 * A minimal valid llama (SentencePiece, byte-fallback) vocabulary of exactly vocabSize tokens,
 * the layout of llama2.c's tok512 / tok32000:
 *
 *   id 0 <unk> (UNKNOWN) | 1 <s> (CONTROL, bos) | 2 </s> (CONTROL, eos) |
 *   ids 3 … 258  <0x00> … <0xFF>  (BYTE: every byte is encodable, as llama.cpp's byte_to_token needs) |
 *   ids 259 …    "▁a", "▁b", … "▁z", "▁aa", …  (NORMAL, score −rank)
 */
export function minimalLlamaVocabulary(vocabSize: number): GgufTokenizerEntries {
  const tokens: string[] = [];
  const types = new Int32Array(vocabSize);
  const scores = new Float32Array(vocabSize);
  for (let id = 0; id < vocabSize; id++) {
    if (id < 3) {
      tokens.push(["<unk>", "<s>", "</s>"][id]);
      types[id] = id === 0 ? TOKEN_TYPE.unknown : TOKEN_TYPE.control;
    } else if (id < 259) {
      tokens.push(`<0x${(id - 3).toString(16).toUpperCase().padStart(2, "0")}>`);
      types[id] = TOKEN_TYPE.byte;
    } else {
      tokens.push(`▁${letters(id - 259)}`);
      types[id] = TOKEN_TYPE.normal;
      scores[id] = -(id - 259);
    }
  }
  return llamaVocabularyEntries(tokens, scores, types, { bos: Math.min(1, vocabSize - 1), eos: Math.min(2, vocabSize - 1), unk: 0 });
}

/**
 * A minimal valid gpt2 (byte-level BPE) vocabulary of exactly vocabSize tokens: ids 0 … 255 the
 * byte-level characters, then control tokens <|extra_N|>, the last id <|endoftext|> (bos = eos);
 * no merges (an empty list is valid). With fewer than 257 ids it holds the first bytes only;
 * llama.cpp still loads it (it tolerates a missing newline token here, where its SentencePiece
 * loader aborts), so small test models use it.
 */
export function minimalGpt2Vocabulary(vocabSize: number): GgufTokenizerEntries {
  const tokens: string[] = [];
  const types = new Int32Array(vocabSize).fill(TOKEN_TYPE.normal);
  for (let id = 0; id < vocabSize; id++) {
    if (id < 256) tokens.push(bytesToByteLevel(new Uint8Array([id])));
    else if (id === vocabSize - 1) tokens.push("<|endoftext|>");
    else tokens.push(`<|extra_${id - 256}|>`);
    if (id >= 256) types[id] = TOKEN_TYPE.control;
  }
  const eot = vocabSize - 1;
  return [
    ["tokenizer.ggml.model", string("gpt2")],
    ["tokenizer.ggml.pre", string("gpt-2")],
    ["tokenizer.ggml.tokens", strings(tokens)],
    ["tokenizer.ggml.token_type", i32s(types)],
    ["tokenizer.ggml.merges", strings([])],
    ["tokenizer.ggml.bos_token_id", u32(eot)],
    ["tokenizer.ggml.eos_token_id", u32(eot)],
  ];
}
