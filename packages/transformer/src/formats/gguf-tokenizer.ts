import { ggufValue } from "@zero-llm/tensor";
import {
  CL100K_PATTERN, GPT2_PATTERN, LLAMA3_PATTERN, QWEN2_PATTERN, TokenizerError, bytesToByteLevel, type BpeTokenizer,
} from "@zero-llm/tokenizer-bpe";
import { TransformerError } from "../errors";
import { TOKEN_TYPE, type GgufEntries } from "./gguf-vocab";

/**
 * A trained byte-level BPE tokenizer (@zero-llm/tokenizer-bpe) as GGUF tokenizer.ggml.* metadata,
 * the way llama.cpp's converter writes a Hugging Face BPE tokenizer:
 *
 *   tokenizer.ggml.model        "gpt2" (byte-level BPE, whatever the model's architecture)
 *   tokenizer.ggml.pre          llama.cpp's name for the split pattern (below)
 *   tokenizer.ggml.tokens       one string per id: GPT-2 byte-level text ("Ġthe"); special tokens as written
 *   tokenizer.ggml.token_type   1 NORMAL, 3 CONTROL (special tokens), 5 UNUSED (padding up to the model's vocab)
 *   tokenizer.ggml.merges       "left right" in byte-level text, highest priority first
 *   tokenizer.ggml.bos_token_id / eos_token_id / add_bos_token / add_eos_token
 *
 * Pre-tokenizer names. llama.cpp picks its split regex by name, not from the file:
 * - GPT-2's pattern is "gpt-2"; Qwen 2's is "qwen2".
 * - cl100k's pattern (our trained tokenizers' default) is, match for match, the one llama.cpp uses
 *   for "llama-bpe" (Llama 3), "dbrx" and "smaug-bpe": the contractions are spelled differently
 *   ('(?i:[sdmt]|ll|ve|re) vs (?:'[sS]|'[tT]|…)), possessive quantifiers are greedy there, and
 *   \s*[\r\n] vs \s*[\r\n]+ match the same runs. "llama-bpe" additionally makes llama.cpp look a
 *   whole piece up as one token before merging (ignore_merges), which is the same result as
 *   merging exactly when every token's own bytes merge back to that token. That is checked
 *   here: "llama-bpe" when it holds, else "dbrx" (the same regex, merges always applied).
 */

export interface GgufTokenizerOptions {
  /** Ids to write as bos / eos. Default: the id of "<|endoftext|>" when the tokenizer has it. */
  bosTokenId?: number;
  eosTokenId?: number;
  /** tokenizer.ggml.add_bos_token: whether llama.cpp prepends bos to a prompt. Default false. */
  addBosToken?: boolean;
}

/** llama.cpp's tokenizer.ggml.pre value for a split pattern (see above); undefined if it has none. */
export function llamaCppPreName(tokenizer: BpeTokenizer): string | undefined {
  const pattern = tokenizer.pattern;
  if (pattern === GPT2_PATTERN) return "gpt-2";
  if (pattern === QWEN2_PATTERN) return "qwen2";
  if (pattern === CL100K_PATTERN || pattern === LLAMA3_PATTERN) return mergesReachEveryToken(tokenizer) ? "llama-bpe" : "dbrx";
  return undefined;
}

/** True when merging the bytes of every (non-special) token gives back that one token. */
function mergesReachEveryToken(tokenizer: BpeTokenizer): boolean {
  const specials = new Set(tokenizer.specialTokens.values());
  for (let id = 0; id < tokenizer.vocabSize; id++) {
    if (specials.has(id)) continue;
    const bytes = bytesOf(tokenizer, id);
    if (bytes === undefined || bytes.length < 2) continue;
    const ids = tokenizer.mergeBytes(bytes);
    if (ids.length !== 1 || ids[0] !== id) return false;
  }
  return true;
}

/** A token's bytes, or undefined for an id the vocabulary leaves empty. */
function bytesOf(tokenizer: BpeTokenizer, id: number): Uint8Array | undefined {
  try {
    return tokenizer.tokenBytes(id);
  } catch (e) {
    if (e instanceof TokenizerError) return undefined;
    throw e;
  }
}

/** tokenizer.ggml.* entries for `tokenizer`, padded with UNUSED tokens to `vocabSize` ids. */
export function bpeVocabularyEntries(tokenizer: BpeTokenizer, vocabSize: number, options: GgufTokenizerOptions = {}): GgufEntries {
  if (tokenizer.vocabSize > vocabSize) {
    throw new TransformerError(
      "BAD_CONFIG",
      `gguf tokenizer: expected at most the model's ${vocabSize} token ids, found a tokenizer with ${tokenizer.vocabSize}`,
    );
  }
  const merges = tokenizer.merges;
  if (merges === undefined) {
    throw new TransformerError("BAD_CONFIG", "gguf tokenizer: expected a BPE tokenizer with a merge list, found one with tiktoken ranks only");
  }
  const pre = llamaCppPreName(tokenizer);
  if (pre === undefined) {
    throw new TransformerError(
      "BAD_CONFIG",
      `gguf tokenizer: expected a split pattern llama.cpp knows by name (gpt2, cl100k, llama3, qwen2), found ${JSON.stringify(tokenizer.pattern.slice(0, 60))}`,
    );
  }
  const specialText = new Map<number, string>();
  for (const [text, id] of tokenizer.specialTokens) specialText.set(id, text);
  const tokens: string[] = [];
  const types = new Int32Array(vocabSize);
  for (let id = 0; id < vocabSize; id++) {
    const special = specialText.get(id);
    const bytes = special === undefined && id < tokenizer.vocabSize ? bytesOf(tokenizer, id) : undefined;
    if (special !== undefined) {
      tokens.push(special);
      types[id] = TOKEN_TYPE.CONTROL;
    } else if (bytes !== undefined) {
      tokens.push(bytesToByteLevel(bytes));
      types[id] = TOKEN_TYPE.NORMAL;
    } else {
      tokens.push(`[PAD${id}]`); // ids the tokenizer never produces (the model's vocab is larger)
      types[id] = TOKEN_TYPE.UNUSED;
    }
  }
  const text = (id: number): string => bytesToByteLevel(tokenizer.tokenBytes(id));
  const endOfText = tokenizer.specialTokens.get("<|endoftext|>");
  const bos = options.bosTokenId ?? endOfText;
  const eos = options.eosTokenId ?? endOfText;
  for (const [key, id] of [["bosTokenId", bos], ["eosTokenId", eos]] as const) {
    if (id !== undefined && (!Number.isInteger(id) || id < 0 || id >= vocabSize)) {
      throw new TransformerError("BAD_CONFIG", `gguf tokenizer ${key}: expected an id in [0, ${vocabSize}), found ${id}`);
    }
  }
  const entries: GgufEntries = [
    ["tokenizer.ggml.model", ggufValue.string("gpt2")],
    ["tokenizer.ggml.pre", ggufValue.string(pre)],
    ["tokenizer.ggml.tokens", ggufValue.array("string", tokens)],
    ["tokenizer.ggml.token_type", ggufValue.array("i32", types)],
    ["tokenizer.ggml.merges", ggufValue.array("string", merges.map(([a, b]) => `${text(a)} ${text(b)}`))],
  ];
  if (bos !== undefined) entries.push(["tokenizer.ggml.bos_token_id", ggufValue.u32(bos)]);
  if (eos !== undefined) entries.push(["tokenizer.ggml.eos_token_id", ggufValue.u32(eos)]);
  entries.push(
    ["tokenizer.ggml.add_bos_token", ggufValue.bool(options.addBosToken ?? false)],
    ["tokenizer.ggml.add_eos_token", ggufValue.bool(false)],
  );
  return entries;
}
