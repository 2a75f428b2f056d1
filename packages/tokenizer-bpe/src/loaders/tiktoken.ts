import { BpeTokenizer } from "../bpe";
import { MAX_RANK } from "../bpe-merge";
import { TokenizerError } from "../errors";
import { CL100K_PATTERN, GPT2_PATTERN, O200K_PATTERN } from "../patterns";

/**
 * tiktoken rank data, in either of its two published forms:
 *
 * - a `.tiktoken` file: one line per token, `<base64 of the token's bytes> <rank>`;
 * - the js-tiktoken ranks object `{ pat_str, special_tokens, bpe_ranks }`, where `bpe_ranks` is
 *   lines of `<label> <first rank> <base64> <base64> ...`, consecutive ranks from the first.
 *
 * The rank of a token is its id. This package bundles no rank data: pass the file's contents or
 * the js-tiktoken object (e.g. `import ranks from "js-tiktoken/ranks/cl100k_base"`).
 */
export type TiktokenEncodingName = "r50k_base" | "p50k_base" | "cl100k_base" | "o200k_base" | "gpt2";

export interface JsTiktokenRanks {
  pat_str: string;
  special_tokens: Record<string, number>;
  bpe_ranks: string;
}

/** Split pattern and special tokens of each built-in encoding (the rank data comes separately). */
export const TIKTOKEN_ENCODINGS: Record<TiktokenEncodingName, { pattern: string; specialTokens: Record<string, number> }> = {
  gpt2: { pattern: GPT2_PATTERN, specialTokens: { "<|endoftext|>": 50256 } },
  r50k_base: { pattern: GPT2_PATTERN, specialTokens: { "<|endoftext|>": 50256 } },
  p50k_base: { pattern: GPT2_PATTERN, specialTokens: { "<|endoftext|>": 50256 } },
  cl100k_base: {
    pattern: CL100K_PATTERN,
    specialTokens: { "<|endoftext|>": 100257, "<|fim_prefix|>": 100258, "<|fim_middle|>": 100259, "<|fim_suffix|>": 100260, "<|endofprompt|>": 100276 },
  },
  o200k_base: { pattern: O200K_PATTERN, specialTokens: { "<|endoftext|>": 199999, "<|endofprompt|>": 200018 } },
};

export function isTiktokenEncodingName(name: string): name is TiktokenEncodingName {
  return Object.prototype.hasOwnProperty.call(TIKTOKEN_ENCODINGS, name);
}

function decodeBase64(text: string, where: string): Uint8Array {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) {
    throw new TokenizerError("TOKENIZER_BAD_RANKS", `${where}: expected base64 token bytes, found ${JSON.stringify(text.slice(0, 40))}`);
  }
  const bin = atob(text);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** Parses `.tiktoken` file contents into id -> bytes. */
export function parseTiktokenFile(contents: string): Uint8Array[] {
  const tokens: Uint8Array[] = [];
  const lines = contents.split("\n");
  for (let k = 0; k < lines.length; k++) {
    const line = lines[k].trim();
    if (line === "") continue;
    const space = line.indexOf(" ");
    const rank = Number(line.slice(space + 1));
    if (space < 0 || !Number.isInteger(rank) || rank < 0 || rank >= MAX_RANK) {
      throw new TokenizerError("TOKENIZER_BAD_RANKS", `tiktoken line ${k + 1}: expected "<base64> <rank>", found ${JSON.stringify(line.slice(0, 60))}`);
    }
    tokens[rank] = decodeBase64(line.slice(0, space), `tiktoken line ${k + 1}`);
  }
  return tokens;
}

/** Parses the js-tiktoken `bpe_ranks` string into id -> bytes. */
export function parseJsTiktokenRanks(bpeRanks: string): Uint8Array[] {
  const tokens: Uint8Array[] = [];
  const lines = bpeRanks.split("\n");
  for (let k = 0; k < lines.length; k++) {
    const line = lines[k];
    if (line === "") continue;
    const fields = line.split(" ");
    const first = Number(fields[1]);
    if (fields.length < 2 || !Number.isInteger(first) || first < 0 || first + fields.length - 2 > MAX_RANK) {
      throw new TokenizerError("TOKENIZER_BAD_RANKS", `bpe_ranks line ${k + 1}: expected "<label> <first rank> <base64>...", found ${JSON.stringify(line.slice(0, 60))}`);
    }
    for (let t = 2; t < fields.length; t++) tokens[first + t - 2] = decodeBase64(fields[t], `bpe_ranks line ${k + 1}`);
  }
  return tokens;
}

export interface TiktokenSource {
  /** `.tiktoken` file contents, or the js-tiktoken ranks object. */
  ranks: string | JsTiktokenRanks;
  /** Built-in name (sets pattern and special tokens) or omitted when both are given. */
  encoding?: TiktokenEncodingName;
  pattern?: string;
  specialTokens?: Record<string, number>;
}

/** A tokenizer from tiktoken rank data. */
export function fromTiktoken(source: TiktokenSource): BpeTokenizer {
  const builtin = source.encoding !== undefined ? TIKTOKEN_ENCODINGS[source.encoding] : undefined;
  if (source.encoding !== undefined && builtin === undefined) {
    throw new TokenizerError("TOKENIZER_UNKNOWN_ENCODING", `encoding: expected one of ${Object.keys(TIKTOKEN_ENCODINGS).join(", ")}, found ${JSON.stringify(source.encoding)}`);
  }
  let tokens: Uint8Array[];
  let specialTokens = source.specialTokens ?? builtin?.specialTokens;
  let pattern = source.pattern ?? builtin?.pattern;
  if (typeof source.ranks === "string") {
    tokens = parseTiktokenFile(source.ranks);
  } else {
    const r = source.ranks as Partial<JsTiktokenRanks> | null;
    if (r === null || typeof r !== "object" || typeof r.bpe_ranks !== "string") {
      throw new TokenizerError("TOKENIZER_BAD_RANKS", `ranks.bpe_ranks: expected a string, found ${r === null ? "null" : typeof r?.bpe_ranks}`);
    }
    tokens = parseJsTiktokenRanks(r.bpe_ranks);
    specialTokens ??= r.special_tokens;
    // js-tiktoken ships its own JS rewrite of the pattern; ours is the published one.
    pattern ??= r.pat_str;
  }
  if (pattern === undefined) throw new TokenizerError("TOKENIZER_BAD_ARGUMENT", "pattern: expected an encoding name or a pattern, found neither");
  const seen = new Uint8Array(256);
  for (const t of tokens) if (t !== undefined && t.length === 1) seen[t[0]] = 1;
  const missing = seen.indexOf(0);
  if (missing >= 0) throw new TokenizerError("TOKENIZER_BAD_RANKS", `ranks: expected a token for every single byte, found none for 0x${missing.toString(16)}`);
  return new BpeTokenizer({ tokens, pattern, specialTokens: Object.entries(specialTokens ?? {}) });
}
