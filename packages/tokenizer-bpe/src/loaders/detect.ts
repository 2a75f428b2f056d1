import type { BpeTokenizer } from "../bpe";
import { TokenizerError } from "../errors";
import type { SpmTokenizer } from "../spm";
import { loadBpeJson, BPE_FORMAT } from "../format";
import { fromTokenizerJson } from "./hf";
import { fromLlama2cTokenizer } from "./llama2c";
import { fromTiktoken, parseTiktokenFile, type TiktokenEncodingName } from "./tiktoken";

/**
 * Picks the loader from a file's contents: our JSON format, Hugging Face tokenizer.json, a
 * `.tiktoken` rank file (encoding recognised by its number of ranks), or llama2.c tokenizer.bin.
 * GGUF files are recognised but need their metadata read first (see `fromGgufMetadata`).
 */
export type VocabularyKind = "zero-llm-bpe" | "tokenizer.json" | "tiktoken" | "gguf" | "llama2c";

const TIKTOKEN_BY_SIZE: Record<number, TiktokenEncodingName> = { 50256: "r50k_base", 50281: "p50k_base", 100256: "cl100k_base", 199998: "o200k_base" };

export function detectVocabulary(bytes: Uint8Array): VocabularyKind {
  if (bytes.length >= 4 && bytes[0] === 0x47 && bytes[1] === 0x47 && bytes[2] === 0x55 && bytes[3] === 0x46) return "gguf";
  let i = 0;
  while (i < bytes.length && (bytes[i] === 0x20 || bytes[i] === 0x0a || bytes[i] === 0x0d || bytes[i] === 0x09 || bytes[i] === 0xef || bytes[i] === 0xbb || bytes[i] === 0xbf)) i++;
  if (bytes[i] === 0x7b /* { */) {
    const head = new TextDecoder().decode(bytes.subarray(0, Math.min(bytes.length, 200)));
    return head.includes(`"${BPE_FORMAT}"`) ? "zero-llm-bpe" : "tokenizer.json";
  }
  if (/^[A-Za-z0-9+/=]+ \d+\r?\n/.test(new TextDecoder().decode(bytes.subarray(0, 64)))) return "tiktoken";
  return "llama2c";
}

export function loadVocabulary(bytes: Uint8Array): BpeTokenizer | SpmTokenizer {
  const kind = detectVocabulary(bytes);
  switch (kind) {
    case "zero-llm-bpe":
      return loadBpeJson(new TextDecoder().decode(bytes));
    case "tokenizer.json":
      return fromTokenizerJson(new TextDecoder().decode(bytes));
    case "tiktoken": {
      const text = new TextDecoder().decode(bytes);
      const encoding = TIKTOKEN_BY_SIZE[parseTiktokenFile(text).length];
      if (encoding === undefined) throw new TokenizerError("TOKENIZER_UNKNOWN_ENCODING", "tiktoken file: expected the ranks of r50k, p50k, cl100k or o200k (the pattern is not in the file), found another size");
      return fromTiktoken({ ranks: text, encoding });
    }
    case "gguf":
      throw new TokenizerError("TOKENIZER_BAD_ARGUMENT", "vocabulary: a GGUF file needs its metadata read first (readGguf from @zero-llm/tensor), then fromGgufMetadata(metadata)");
    default:
      return fromLlama2cTokenizer(bytes);
  }
}
