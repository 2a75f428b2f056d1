import type { BpeTokenizer } from "../bpe";
import { MAX_RANK } from "../bpe-merge";
import { TokenizerError } from "../errors";
import { GPT2_PATTERN } from "../patterns";
import { FALCON_PUNCTUATION_RUNS, NUMBER_RUNS, PUNCTUATION_EACH, SINGLE_DIGITS } from "../pre-tokenizers";
import { fromByteLevelVocab } from "./byte-level-vocab";

/**
 * Hugging Face `tokenizer.json` with a byte-level BPE model (GPT-2, Llama 3, Qwen, our exports).
 *
 * Supported: `model.type = "BPE"` with `vocab` and `merges` (strings "a b" or pairs),
 * `model.ignore_merges`; `pre_tokenizer` = `ByteLevel` (its built-in GPT-2 regex), `Split`,
 * `Digits`, `Punctuation`, or a `Sequence` of them (see `patternsOf`);
 * `added_tokens` (special ones are matched when allowed, the others always). Anything else
 * (normalizers, prefix spaces, byte fallback, other pre-tokenizers) is refused with an error
 * naming the field rather than silently tokenizing differently. Top-level `bos_token_id` /
 * `eos_token_id` (not part of the format; `exportTokenizerJson` writes them) become `bosId` /
 * `eosId`.
 */
function bad(field: string, expected: string, found: unknown): never {
  const shown = found === undefined ? "nothing" : JSON.stringify(found)?.slice(0, 80);
  throw new TokenizerError("TOKENIZER_BAD_JSON", `tokenizer.json ${field}: expected ${expected}, found ${shown}`);
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

/**
 * The pre-tokenizer as split patterns in order. Steps: `Split` (a regex, "Isolated"),
 * `ByteLevel` (with `use_regex`: GPT-2's pattern; without: no split), `Digits` (`\p{N}` one at a
 * time, or runs), `Punctuation` ("Isolated" or "Contiguous"), alone or in a `Sequence`.
 */
function patternsOf(pre: unknown, field = "pre_tokenizer"): string[] {
  if (!isObject(pre)) return bad(field, "a ByteLevel, Split, Digits, Punctuation or Sequence pre-tokenizer", pre);
  switch (pre.type) {
    case "Sequence": {
      const steps = pre.pretokenizers;
      if (!Array.isArray(steps) || steps.length === 0) return bad(`${field}.pretokenizers`, "a non-empty array", steps);
      const patterns = steps.flatMap((step, k) => patternsOf(step, `${field}.pretokenizers[${k}]`));
      return patterns.length > 0 ? patterns : bad(`${field}.pretokenizers`, "at least one step that splits", steps);
    }
    case "ByteLevel":
      if (pre.add_prefix_space === true) bad(`${field}.add_prefix_space`, "false", true);
      return pre.use_regex === false ? [] : [GPT2_PATTERN];
    case "Split": {
      const regex = isObject(pre.pattern) ? pre.pattern.Regex : undefined;
      if (typeof regex !== "string") return bad(`${field}.pattern.Regex`, "a string", regex);
      if (pre.behavior !== "Isolated") bad(`${field}.behavior`, `"Isolated"`, pre.behavior);
      if (pre.invert === true) bad(`${field}.invert`, "false", true);
      return [regex];
    }
    case "Digits":
      return [pre.individual_digits === true ? SINGLE_DIGITS : NUMBER_RUNS];
    case "Punctuation":
      if (pre.behavior !== undefined && pre.behavior !== "Isolated" && pre.behavior !== "Contiguous") bad(`${field}.behavior`, `"Isolated" or "Contiguous"`, pre.behavior);
      return [pre.behavior === "Contiguous" ? FALCON_PUNCTUATION_RUNS : PUNCTUATION_EACH];
    default:
      return bad(`${field}.type`, `"ByteLevel", "Split", "Digits", "Punctuation" or "Sequence"`, pre.type);
  }
}

export function fromTokenizerJson(json: string | Record<string, unknown>): BpeTokenizer {
  let root: unknown = json;
  if (typeof json === "string") {
    try {
      root = JSON.parse(json);
    } catch (err) {
      throw new TokenizerError("TOKENIZER_BAD_JSON", `tokenizer.json: expected JSON, found a parse error (${(err as Error).message})`, { cause: err });
    }
  }
  if (!isObject(root)) return bad("(root)", "an object", root);
  const model = root.model;
  if (!isObject(model)) return bad("model", "an object", model);
  if (model.type !== undefined && model.type !== "BPE") bad("model.type", `"BPE"`, model.type);
  if (model.byte_fallback === true) bad("model.byte_fallback", "false (byte-level BPE)", true);
  if (root.normalizer !== null && root.normalizer !== undefined) bad("normalizer", "null", root.normalizer);
  const vocab = model.vocab;
  if (!isObject(vocab)) return bad("model.vocab", "an object of token -> id", vocab);
  const merges = model.merges;
  if (!Array.isArray(merges)) return bad("model.merges", "an array", merges);
  const pattern = patternsOf(root.pre_tokenizer);

  const tokens: (string | undefined)[] = [];
  for (const [text, id] of Object.entries(vocab)) {
    if (!Number.isInteger(id) || (id as number) < 0 || (id as number) >= MAX_RANK) bad(`model.vocab[${JSON.stringify(text)}]`, `an integer id in 0..${MAX_RANK - 1}`, id);
    tokens[id as number] = text;
  }
  const specialIds: number[] = [];
  const addedIds: number[] = [];
  const added = root.added_tokens ?? [];
  if (!Array.isArray(added)) bad("added_tokens", "an array", added);
  (added as unknown[]).forEach((t, k) => {
    if (!isObject(t) || !Number.isInteger(t.id) || (t.id as number) < 0 || (t.id as number) >= MAX_RANK || typeof t.content !== "string") return bad(`added_tokens[${k}]`, `{ id (0..${MAX_RANK - 1}), content, special }`, t);
    tokens[t.id as number] = t.content;
    (t.special === true ? specialIds : addedIds).push(t.id as number);
  });
  const ids: { bosId?: number; eosId?: number } = {};
  for (const [field, key] of [["bos_token_id", "bosId"], ["eos_token_id", "eosId"]] as const) {
    const id = root[field];
    if (id === undefined || id === null) continue;
    if (!Number.isInteger(id) || (id as number) < 0 || (id as number) >= tokens.length) bad(field, `a token id in 0..${tokens.length - 1}`, id);
    ids[key] = id as number;
  }
  return fromByteLevelVocab({
    tokens,
    ...ids,
    merges: merges as (string | [string, string])[],
    specialIds,
    addedIds,
    pattern,
    ignoreMerges: model.ignore_merges === true,
    errorCode: "TOKENIZER_BAD_JSON",
    mergesField: "tokenizer.json model.merges",
    tokensField: "model.vocab",
  });
}
