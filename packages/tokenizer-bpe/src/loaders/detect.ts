import type { BpeTokenizer } from "../bpe";
import { TokenizerError } from "../errors";
import type { SpmTokenizer } from "../spm";
import { loadBpeJson, BPE_FORMAT } from "../format";
import { fromTokenizerJson } from "./hf";
import { fromLlama2cTokenizer } from "./llama2c";
import { fromTiktoken, parseTiktokenFile, type TiktokenEncodingName } from "./tiktoken";

/**
 * Picks the loader from a file's contents, never its name: GGUF (magic "GGUF"), our JSON format,
 * Hugging Face tokenizer.json, a `.tiktoken` rank file (encoding recognised by its number of
 * ranks), or llama2.c tokenizer.bin (a plausible header and first records). Anything else is
 * "unknown", and `loadVocabulary` refuses it with TOKENIZER_UNRECOGNISED_FILE rather than letting
 * a loader report a misleading field. GGUF files are recognised but need their metadata read
 * first (see `fromGgufMetadata`).
 */
export type VocabularyKind = "zero-llm-bpe" | "tokenizer.json" | "tiktoken" | "gguf" | "llama2c" | "unknown";

const TIKTOKEN_BY_SIZE: Record<number, TiktokenEncodingName> = { 50256: "r50k_base", 50281: "p50k_base", 100256: "cl100k_base", 199998: "o200k_base" };

/** What the loaders accept, for the "unrecognised" message. */
const EXPECTED = 'a GGUF file (magic "GGUF"), tokenizer.json, zero-llm-bpe JSON, a .tiktoken rank file or a llama2.c tokenizer.bin';

/** llama2.c records checked before calling a file llama2.c: enough to reject other binaries, cheap. */
const LLAMA2C_PROBE_RECORDS = 64;

/**
 * A llama2.c tokenizer.bin starts `| max_token_length: u32 |` then `| score: f32 | len: i32 |
 * bytes |` records. Plausible: max_token_length in 1..65536 and the first records (up to
 * LLAMA2C_PROBE_RECORDS, or the end of the file) have a finite score, a length within the
 * maximum and valid UTF-8 text. A record cut off by the end of the file is left to the parser,
 * which names the truncated token.
 */
function looksLikeLlama2c(bytes: Uint8Array): boolean {
  if (bytes.length < 12) return false;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const maxTokenLength = view.getUint32(0, true);
  if (maxTokenLength === 0 || maxTokenLength > 1 << 16) return false;
  const utf8 = new TextDecoder("utf-8", { fatal: true });
  let at = 4;
  let records = 0;
  while (records < LLAMA2C_PROBE_RECORDS && at + 8 <= bytes.length) {
    const score = view.getFloat32(at, true);
    const len = view.getInt32(at + 4, true);
    if (!Number.isFinite(score) || len < 0 || len > maxTokenLength) return false;
    if (at + 8 + len > bytes.length) break;
    try {
      utf8.decode(bytes.subarray(at + 8, at + 8 + len));
    } catch {
      return false;
    }
    at += 8 + len;
    records++;
  }
  return records > 0;
}

export function detectVocabulary(bytes: Uint8Array): VocabularyKind {
  if (bytes.length >= 4 && bytes[0] === 0x47 && bytes[1] === 0x47 && bytes[2] === 0x55 && bytes[3] === 0x46) return "gguf";
  let i = 0;
  while (i < bytes.length && (bytes[i] === 0x20 || bytes[i] === 0x0a || bytes[i] === 0x0d || bytes[i] === 0x09 || bytes[i] === 0xef || bytes[i] === 0xbb || bytes[i] === 0xbf)) i++;
  if (bytes[i] === 0x7b /* { */) {
    const head = new TextDecoder().decode(bytes.subarray(0, Math.min(bytes.length, 200)));
    return head.includes(`"${BPE_FORMAT}"`) ? "zero-llm-bpe" : "tokenizer.json";
  }
  if (/^[A-Za-z0-9+/=]+ \d+\r?\n/.test(new TextDecoder().decode(bytes.subarray(0, 64)))) return "tiktoken";
  return looksLikeLlama2c(bytes) ? "llama2c" : "unknown";
}

/** The first bytes of a file, shown in the "unrecognised" message so the user can tell what it is. */
function describeStart(bytes: Uint8Array): string {
  if (bytes.length === 0) return "an empty file";
  const head = bytes.subarray(0, 16);
  const printable = head.every((b) => b === 0x09 || b === 0x0a || b === 0x0d || (b >= 0x20 && b < 0x7f));
  if (printable) return `text starting ${JSON.stringify(new TextDecoder().decode(head))}`;
  return `${bytes.length} bytes starting ${Array.from(head.subarray(0, 8), (b) => b.toString(16).padStart(2, "0")).join(" ")}`;
}

function unrecognised(found: string): never {
  throw new TokenizerError("TOKENIZER_UNRECOGNISED_FILE", `unrecognised vocabulary file: expected ${EXPECTED}, found ${found}`);
}

export function loadVocabulary(bytes: Uint8Array): BpeTokenizer | SpmTokenizer {
  const kind = detectVocabulary(bytes);
  switch (kind) {
    case "zero-llm-bpe":
      return loadBpeJson(new TextDecoder().decode(bytes));
    case "tokenizer.json": {
      const text = new TextDecoder().decode(bytes);
      let root: unknown;
      try {
        root = JSON.parse(text);
      } catch {
        return fromTokenizerJson(text); // reports the parse error
      }
      // Other JSON (a model's config.json, say) is not a broken tokenizer.json.
      if (typeof root === "object" && root !== null && !("model" in root)) unrecognised('JSON without "model" (tokenizer.json) or "format": "zero-llm-bpe"');
      return fromTokenizerJson(root as Record<string, unknown>);
    }
    case "tiktoken": {
      const text = new TextDecoder().decode(bytes);
      const encoding = TIKTOKEN_BY_SIZE[parseTiktokenFile(text).length];
      if (encoding === undefined) throw new TokenizerError("TOKENIZER_UNKNOWN_ENCODING", "tiktoken file: expected the ranks of r50k, p50k, cl100k or o200k (the pattern is not in the file), found another size");
      return fromTiktoken({ ranks: text, encoding });
    }
    case "gguf":
      throw new TokenizerError("TOKENIZER_BAD_ARGUMENT", "vocabulary: a GGUF file needs its metadata read first (GgufFile from @zero-llm/tensor), then fromGgufMetadata(metadata)");
    case "llama2c":
      return fromLlama2cTokenizer(bytes);
    case "unknown":
      return unrecognised(describeStart(bytes));
  }
}
