import { GgufFile } from "@zero-llm/tensor";
import {
  detectVocabulary, fromGgufMetadata, fromLlama2cTokenizer, fromTiktoken, isTiktokenEncodingName, loadVocabulary,
  type JsTiktokenRanks, type Tokenizer,
} from "@zero-llm/tokenizer-bpe";
import { CliError } from "../command";
import { readFlagFile } from "../flag-files";

/**
 * Vocabulary files named by a flag (`tokenize --vocab`, `--tokenizer` of the model commands and
 * of `train`), recognised by their content, not their name: tokenizer.json, GGUF
 * (tokenizer.ggml.* metadata), llama2.c tokenizer.bin, a .tiktoken rank file, or the JSON
 * `tokenize train` writes. Every failure names the flag and the file as the user gave them.
 */

export const BUILTIN_ENCODINGS = "r50k_base, p50k_base, cl100k_base, o200k_base";

export interface VocabularyFile {
  tokenizer: Tokenizer;
  /** How the file was recognised. */
  kind: "gguf" | "llama2c" | "other";
  /** A GGUF file's metadata (bos / eos ids and add_bos_token live there), values as plain JS values. */
  ggufMetadata?: ReadonlyMap<string, unknown>;
}

/** GGUF integers arrive as bigint when 64-bit; ids and flags fit in a number. */
const plain = (value: unknown): unknown => (typeof value === "bigint" ? Number(value) : value);

/** The tokenizer.ggml.* metadata as plain values, ready for fromGgufMetadata. */
export function plainGgufMetadata(metadata: ReadonlyMap<string, { value: unknown }>): Map<string, unknown> {
  return new Map([...metadata].map(([key, entry]) => [key, plain(entry.value)]));
}

/**
 * Reads `file` (given as `--flag file`) as a vocabulary. A missing file or a directory is a usage
 * error; a file that is no vocabulary, or a broken one, is a runtime error (exit 1) whose message
 * starts `--flag file:` and keeps the reader's code (TOKENIZER_…, GGUF_…).
 */
export async function readVocabularyFile(flag: string, file: string, expected = "a vocabulary file"): Promise<VocabularyFile> {
  const bytes = new Uint8Array(await readFlagFile(flag, file, expected));
  try {
    const kind = detectVocabulary(bytes);
    if (kind === "gguf") {
      const metadata = plainGgufMetadata(GgufFile.parse(bytes).metadata);
      return { tokenizer: fromGgufMetadata(metadata), kind: "gguf", ggufMetadata: metadata };
    }
    // A .bin that does not look like llama2.c's format is most likely a damaged one: its reader
    // then says where it breaks, which helps more than "unrecognised".
    if (kind === "llama2c" || (kind === "unknown" && /\.bin$/i.test(file))) return { tokenizer: fromLlama2cTokenizer(bytes), kind: "llama2c" };
    return { tokenizer: loadVocabulary(bytes), kind: "other" };
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (!(error instanceof Error) || typeof code !== "string") throw error;
    // The readers name the format ("tokenizer.bin: token 71: …"), not the file: name the file.
    const message = error.message.replace(/^tokenizer\.bin: /, "llama2.c tokenizer: ");
    throw new CliError(code, `--${flag} ${file}: ${message}`, { cause: error });
  }
}

/** `tokenize --vocab`: a built-in encoding name (rank data from js-tiktoken) or a vocabulary file. */
export async function loadTokenizer(vocab: string): Promise<Tokenizer> {
  if (isTiktokenEncodingName(vocab)) {
    const ranks = ((await import(`js-tiktoken/ranks/${vocab}`)) as { default: JsTiktokenRanks }).default;
    return fromTiktoken({ ranks, encoding: vocab });
  }
  return (await readVocabularyFile("vocab", vocab, `${BUILTIN_ENCODINGS} or a vocabulary file`)).tokenizer;
}
