import { bytesToByteLevel } from "./byte-level";
import { BpeTokenizer } from "./bpe";
import { TokenizerError } from "./errors";

/**
 * Our own file format for trained tokenizers (`.json`, UTF-8):
 *
 *   {
 *     "format": "zero-llm-bpe",
 *     "version": 1,
 *     "pattern": "<split pattern, published syntax>",   // or [patterns applied in sequence]
 *     "merges": [[left, right], ...],          // merge k creates token 256 + k
 *     "specialTokens": { "<|endoftext|>": 4096 },
 *     "bosId": 4096, "eosId": 4096             // optional
 *   }
 *
 * Tokens 0..255 are the single bytes 0..255; token 256 + k is the concatenation of merge k's
 * two tokens; the merge list order is the merge priority. Nothing else is implied. `bosId` and
 * `eosId` were added without a version bump: readers of version 1 ignore keys they do not know.
 */
export const BPE_FORMAT = "zero-llm-bpe";
export const BPE_FORMAT_VERSION = 1;

interface BpeFile {
  format: string;
  version: number;
  pattern: string | string[];
  merges: [number, number][];
  specialTokens: Record<string, number>;
  bosId?: number;
  eosId?: number;
}

/** Serialises a tokenizer made by `trainBpe` (or loaded from this format). */
export function saveBpeJson(tok: BpeTokenizer): string {
  const merges = tok.merges;
  if (merges === undefined) throw new TokenizerError("TOKENIZER_BAD_ARGUMENT", "tokenizer: expected one with a merge list (trained or loaded from this format), found tiktoken ranks");
  for (let b = 0; b < 256; b++) {
    const t = tok.tokenBytes(b);
    if (t.length !== 1 || t[0] !== b) throw new TokenizerError("TOKENIZER_BAD_ARGUMENT", `token ${b}: expected the single byte ${b}, found ${t.length} bytes`);
  }
  const file: BpeFile = {
    format: BPE_FORMAT,
    version: BPE_FORMAT_VERSION,
    pattern: tok.patterns.length === 1 ? tok.patterns[0] : [...tok.patterns],
    merges: merges.map(([a, b]) => [a, b]),
    specialTokens: Object.fromEntries(tok.specialTokens),
    ...(tok.bosId !== undefined ? { bosId: tok.bosId } : {}),
    ...(tok.eosId !== undefined ? { eosId: tok.eosId } : {}),
  };
  return JSON.stringify(file) + "\n";
}

export function loadBpeJson(json: string): BpeTokenizer {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch (err) {
    throw new TokenizerError("TOKENIZER_BAD_FORMAT", `file: expected JSON, found a parse error (${(err as Error).message})`, { cause: err });
  }
  const bad = (field: string, expected: string, found: unknown): never => {
    throw new TokenizerError("TOKENIZER_BAD_FORMAT", `${field}: expected ${expected}, found ${JSON.stringify(found)?.slice(0, 60)}`);
  };
  if (typeof parsed !== "object" || parsed === null) bad("file", "an object", parsed);
  const f = parsed as Partial<BpeFile>;
  if (f.format !== BPE_FORMAT) bad("format", `"${BPE_FORMAT}"`, f.format);
  if (f.version !== BPE_FORMAT_VERSION) bad("version", String(BPE_FORMAT_VERSION), f.version);
  const pattern = f.pattern;
  if (typeof pattern !== "string" && !(Array.isArray(pattern) && pattern.length > 0 && pattern.every((p) => typeof p === "string"))) bad("pattern", "a string or a non-empty array of strings", pattern);
  if (!Array.isArray(f.merges)) bad("merges", "an array of [left, right] pairs", f.merges);
  const tokens: Uint8Array[] = [];
  for (let b = 0; b < 256; b++) tokens.push(Uint8Array.of(b));
  f.merges!.forEach((m, k) => {
    const id = 256 + k;
    if (!Array.isArray(m) || m.length !== 2 || !m.every((x) => Number.isInteger(x) && x >= 0 && x < id)) {
      bad(`merges[${k}]`, `two token ids below ${id}`, m);
    }
    const [a, b] = m;
    const merged = new Uint8Array(tokens[a].length + tokens[b].length);
    merged.set(tokens[a]);
    merged.set(tokens[b], tokens[a].length);
    tokens.push(merged);
  });
  const specials = f.specialTokens ?? {};
  if (typeof specials !== "object" || specials === null) bad("specialTokens", "an object of text -> id", specials);
  let vocabSize = tokens.length;
  for (const [text, id] of Object.entries(specials)) {
    if (!Number.isInteger(id) || id < tokens.length) bad(`specialTokens[${JSON.stringify(text)}]`, `an id >= ${tokens.length}`, id);
    vocabSize = Math.max(vocabSize, id + 1);
  }
  for (const field of ["bosId", "eosId"] as const) {
    const id = f[field];
    if (id !== undefined && (!Number.isInteger(id) || id < 0 || id >= vocabSize)) bad(field, `a token id in 0..${vocabSize - 1}`, id);
  }
  return new BpeTokenizer({
    tokens,
    merges: f.merges!,
    pattern: pattern!,
    specialTokens: Object.entries(specials),
    ...(f.bosId !== undefined ? { bosId: f.bosId } : {}),
    ...(f.eosId !== undefined ? { eosId: f.eosId } : {}),
  });
}

/**
 * Hugging Face `tokenizer.json` for a merge-list tokenizer: a BPE model over GPT-2 byte-level
 * strings, each split pattern as a `Split` pre-tokenizer (in order) followed by `ByteLevel`
 * without its own regex, a ByteLevel decoder, and the special tokens as added tokens.
 *
 * tokenizer.json has no field for bos/eos (Hugging Face keeps them in tokenizer_config.json and
 * config.json), so they go in top-level `bos_token_id` / `eos_token_id`, named as in config.json.
 * The `tokenizers` loader skips top-level keys it does not know; `fromTokenizerJson` reads them.
 */
export function exportTokenizerJson(tok: BpeTokenizer): string {
  const merges = tok.merges;
  if (merges === undefined) throw new TokenizerError("TOKENIZER_BAD_ARGUMENT", "tokenizer: expected one with a merge list, found tiktoken ranks");
  const vocab: Record<string, number> = {};
  const specialIds = new Set(tok.specialTokens.values());
  for (let id = 0; id < tok.vocabSize; id++) {
    if (specialIds.has(id)) continue;
    vocab[bytesToByteLevel(tok.tokenBytes(id))] = id;
  }
  const json = {
    version: "1.0",
    ...(tok.bosId !== undefined ? { bos_token_id: tok.bosId } : {}),
    ...(tok.eosId !== undefined ? { eos_token_id: tok.eosId } : {}),
    truncation: null,
    padding: null,
    // Added tokens matched in any text (GGUF user-defined) are Hugging Face's non-special added tokens.
    added_tokens: [...tok.specialTokens].map(([content, id]) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: !tok.addedTokens.has(content) })),
    normalizer: null,
    pre_tokenizer: {
      type: "Sequence",
      pretokenizers: [
        ...tok.patterns.map((pattern) => ({ type: "Split", pattern: { Regex: pattern }, behavior: "Isolated", invert: false })),
        { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: false },
      ],
    },
    post_processor: null,
    decoder: { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: "BPE",
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: tok.ignoreMerges,
      vocab,
      merges: merges.map(([a, b]) => `${bytesToByteLevel(tok.tokenBytes(a))} ${bytesToByteLevel(tok.tokenBytes(b))}`),
    },
  };
  return JSON.stringify(json, null, 2) + "\n";
}
