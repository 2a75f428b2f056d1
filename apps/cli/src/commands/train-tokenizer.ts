import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { exportTokenizerJson, loadVocabulary, saveBpeJson, trainBpe, type Tokenizer } from "@zero-llm/tokenizer-bpe";
import { UsageError } from "../command";
import { readVocabularyFile } from "./vocabulary";
import { EOT } from "./train-input";

/**
 * Where `zllm train` gets its tokenizer, decided before anything is written into --out:
 *
 *   --tokenizer FILE        that file (--vocab, if given, must equal its size)
 *   --resume                the run's own DIR/tokenizer.bpe.json (the checkpoint depends on it)
 *   DIR/tokenizer.bpe.json  left by an earlier run that wrote no checkpoint: reused only when its
 *                           size equals --vocab (default 2048); otherwise a usage error naming both
 *   otherwise               a byte-level BPE of exactly --vocab tokens trained on the text, whose
 *                           files the caller writes once the text has passed its length check
 */

export const OWN_TOKENIZER = "tokenizer.bpe.json";
export const DEFAULT_VOCAB = 2048;

export interface PreparedTokenizer {
  tokenizer: Tokenizer;
  /** Files to write into the run directory (only for a tokenizer trained here). */
  files: { name: string; text: string }[];
  /** A line for stderr about a reused tokenizer. */
  note?: string;
}

export interface TokenizerChoice {
  out: string;
  resume: boolean;
  text: string;
  /** --tokenizer FILE */
  file?: string;
  /** --vocab, when given */
  vocab?: number;
}

async function load(file: string): Promise<Tokenizer> {
  return loadVocabulary(new Uint8Array(await readFile(file)));
}

export async function prepareTokenizer(choice: TokenizerChoice): Promise<PreparedTokenizer> {
  const { out, vocab } = choice;
  const own = path.join(out, OWN_TOKENIZER);
  if (choice.file !== undefined) {
    const { tokenizer } = await readVocabularyFile("tokenizer", choice.file, "a tokenizer file");
    if (vocab !== undefined && vocab !== tokenizer.vocabSize) {
      throw new UsageError(`--vocab ${vocab} differs from the ${tokenizer.vocabSize} tokens of --tokenizer ${choice.file}: drop --vocab or make them agree`);
    }
    return { tokenizer, files: [] };
  }
  if (choice.resume) {
    if (!existsSync(own)) throw new UsageError(`--resume: expected the run's tokenizer ${own}, found none (if the run used --tokenizer FILE, pass it again)`);
    return { tokenizer: await load(own), files: [] };
  }
  const wanted = vocab ?? DEFAULT_VOCAB;
  if (existsSync(own)) {
    const tokenizer = await load(own);
    if (tokenizer.vocabSize !== wanted) {
      throw new UsageError(
        `${own} (left by an earlier run) has ${tokenizer.vocabSize} tokens, --vocab is ${wanted}${vocab === undefined ? " (the default)" : ""}: pass --vocab ${tokenizer.vocabSize} to reuse it, or delete it to train a new one`,
      );
    }
    return { tokenizer, files: [], note: `reusing ${own} (${tokenizer.vocabSize} tokens) left by an earlier run; delete it to train a new one` };
  }
  const bpe = trainBpe(choice.text.split(EOT).join("\n"), { vocabSize: wanted, specialTokens: [EOT] });
  // BPE stops early when no pair is left to merge: say so rather than train a smaller vocabulary than asked
  if (bpe.vocabSize !== wanted) {
    throw new UsageError(`--vocab ${wanted}: the training text has pairs for only ${bpe.vocabSize} tokens (256 bytes + merges + ${EOT}); pass --vocab ${bpe.vocabSize} or more text`);
  }
  return { tokenizer: bpe, files: [{ name: OWN_TOKENIZER, text: saveBpeJson(bpe) }, { name: "tokenizer.json", text: exportTokenizerJson(bpe) }] };
}
