import { fromTiktoken, isTiktokenEncodingName, type JsTiktokenRanks, type Tokenizer } from "@zero-llm/tokenizer-bpe";
import { tokenizerFromBytes, type ModelTokenizer } from "@zero-llm/transformer/node";
import { CliError } from "../command";
import { readFlagFile } from "../flag-files";

/**
 * Vocabulary files named by a flag (`tokenize --vocab`, `--tokenizer` of the model commands and
 * of `train`), recognised by their content, not their name: tokenizer.json, GGUF
 * (tokenizer.ggml.* metadata), llama2.c tokenizer.bin, a .tiktoken rank file, or the JSON
 * `tokenize train` writes. Every failure names the flag and the file as the user gave them.
 */

export const BUILTIN_ENCODINGS = "r50k_base, p50k_base, cl100k_base, o200k_base";

/** A vocabulary file: its tokenizer, how it was recognised, and the ids that frame a sequence. */
export type VocabularyFile = ModelTokenizer;

/**
 * Reads `file` (given as `--flag file`) as a vocabulary (transformer's tokenizerFromBytes, the
 * rules the server uses too). A missing file or a directory is a usage error; a file that is no
 * vocabulary, or a broken one, is a runtime error (exit 1) whose message starts `--flag file:` and
 * keeps the reader's code (TOKENIZER_…, GGUF_…).
 */
export async function readVocabularyFile(flag: string, file: string, expected = "a vocabulary file"): Promise<VocabularyFile> {
  const bytes = new Uint8Array(await readFlagFile(flag, file, expected));
  try {
    return tokenizerFromBytes(bytes, file);
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
