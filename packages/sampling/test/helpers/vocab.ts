import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { fromLlama2cTokenizer, fromTiktoken } from "@zero-llm/tokenizer-bpe";
import { tokenVocabulary, type TokenVocabulary } from "../../src/constrain";

const here = path.dirname(fileURLToPath(import.meta.url));
/** Shared reference data outside the repository (../shared/fixtures); never copied in. */
export const LLAMA2_TOKENIZER = path.resolve(here, "../../../../../shared/fixtures/llama2c/llama2-tokenizer.bin");

export interface RealVocabulary {
  name: string;
  vocab: TokenVocabulary;
  decode(ids: readonly number[]): string;
}

let cached: RealVocabulary | undefined;

/**
 * A real 32k vocabulary: Llama 2's (SentencePiece with byte fallback) from the shared fixtures,
 * or, without them, the first 32,000 ids of cl100k_base (byte-level BPE, from js-tiktoken's
 * bundled ranks) with an EOS id appended. ZLLM_TEST_VOCAB=cl100k picks the second one even when
 * the fixtures are present.
 */
export async function realVocabulary(): Promise<RealVocabulary> {
  if (cached !== undefined) return cached;
  if (existsSync(LLAMA2_TOKENIZER) && process.env.ZLLM_TEST_VOCAB !== "cl100k") {
    const tok = fromLlama2cTokenizer(readFileSync(LLAMA2_TOKENIZER));
    cached = { name: "llama2 (32,000)", vocab: tokenVocabulary(tok), decode: (ids) => new TextDecoder("utf-8", { ignoreBOM: true }).decode(tok.decodeBytes(ids)) };
  } else {
    const mod = (await import("js-tiktoken/ranks/cl100k_base"));
    const tok = fromTiktoken({ ranks: mod.default, encoding: "cl100k_base" });
    const full = tokenVocabulary(tok);
    const tokens = full.tokens.slice(0, 32000);
    tokens.push(null); // id 32000: EOS
    cached = { name: "cl100k_base ids < 32,000", vocab: { tokens, eos: [32000] }, decode: (ids) => new TextDecoder("utf-8", { ignoreBOM: true }).decode(tok.decodeBytes(ids.filter((i) => i < 32000))) };
  }
  return cached;
}
