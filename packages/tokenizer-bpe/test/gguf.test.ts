import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { BpeTokenizer, SpmTokenizer, TokenizerError, fromGgufMetadata, parseLlama2cTokenizer } from "../src";
import { GGML_VOCAB, LLAMA2C_TOKENIZER, MISSING_FIXTURES, hasFixture, readVocabTest } from "./helpers/fixtures";
import { readGgufFile } from "./helpers/gguf";

/**
 * llama.cpp's tokenizer test vectors, with vocabulary and pre-tokenizer read from each .gguf.
 *
 * The .gguf files in ../shared were damaged by a UTF-8 text filter (bytes outside valid UTF-8
 * became U+FFFD); the test reader's salvage mode recovers everything the byte-level (gpt2)
 * vocabularies need. The SentencePiece files (llama-spm, phi-3) lost their f32 scores, which
 * cannot be recovered, so their vectors are checked in spm.test.ts with the same Llama 2
 * vocabulary from llama2.c's tokenizer.bin, and here fromGgufMetadata's llama path is fed the
 * damaged file's tokens and types plus those scores.
 */
const BPE_FILES = ["gpt-2", "mpt"];

describe.each(BPE_FILES)("ggml-vocab-%s.gguf (byte-level BPE)", (name) => {
  const file = path.join(GGML_VOCAB, `ggml-vocab-${name}.gguf`);
  const present = hasFixture(file);
  it.skipIf(!present)(`matches llama.cpp's vectors token for token${present ? "" : ` (skipped: ${MISSING_FIXTURES})`}`, () => {
    const { metadata } = readGgufFile(file, { salvage: true });
    const tok = fromGgufMetadata(metadata);
    expect(tok).toBeInstanceOf(BpeTokenizer);
    const cases = readVocabTest(file);
    expect(cases.length).toBeGreaterThan(30);
    for (const { text, ids } of cases) expect({ text, ids: tok.encode(text) }).toEqual({ text, ids });
    for (const { text } of cases) expect(tok.decode(tok.encode(text))).toBe(text);
  });
});

describe("ggml-vocab-llama-spm.gguf (SentencePiece)", () => {
  const file = path.join(GGML_VOCAB, "ggml-vocab-llama-spm.gguf");
  const present = hasFixture(file) && hasFixture(LLAMA2C_TOKENIZER);
  it.skipIf(!present)(`builds an SPM tokenizer from the metadata and matches the vectors${present ? "" : ` (skipped: ${MISSING_FIXTURES})`}`, () => {
    const { metadata, damaged } = readGgufFile(file, { salvage: true });
    expect(damaged).toContain("tokenizer.ggml.scores");
    const tokens = metadata.get("tokenizer.ggml.tokens") as string[];
    const llama2c = parseLlama2cTokenizer(readFileSync(LLAMA2C_TOKENIZER));
    // Same vocabulary: llama2.c writes "▁" as " " and <s>, </s> as "\n<s>\n", "\n</s>\n".
    tokens.forEach((t, id) => id > 2 && expect(llama2c.pieces[id]).toBe(t.replaceAll("\u2581", " ")));
    metadata.set("tokenizer.ggml.scores", llama2c.scores);
    const tok = fromGgufMetadata(metadata);
    expect(tok).toBeInstanceOf(SpmTokenizer);
    for (const { text, ids } of readVocabTest(file)) expect({ text, ids: tok.encode(text) }).toEqual({ text, ids });
  });
});

describe("fromGgufMetadata validation", () => {
  const base = { "tokenizer.ggml.model": "gpt2", "tokenizer.ggml.pre": "gpt-2", "tokenizer.ggml.tokens": ["a", "b", "ab"], "tokenizer.ggml.merges": ["a b"] };
  it("accepts a plain object", () => {
    expect(fromGgufMetadata(base).encode("ab")).toEqual([2]);
  });
  it.each([
    [{ ...base, "tokenizer.ggml.model": "bert" }, "tokenizer.ggml.model"],
    [{ ...base, "tokenizer.ggml.tokens": "abc" }, "tokenizer.ggml.tokens"],
    [{ ...base, "tokenizer.ggml.merges": ["ab"] }, "tokenizer.ggml.merges[0]"],
    [{ ...base, "tokenizer.ggml.merges": ["a c"] }, "tokenizer.ggml.merges[0]"],
    [{ ...base, "tokenizer.ggml.token_type": new Int32Array(2) }, "tokenizer.ggml.token_type"],
    [{ ...base, "tokenizer.ggml.bos_token_id": 7 }, "tokenizer.ggml.bos_token_id"],
    [{ ...base, "tokenizer.ggml.model": "llama" }, "tokenizer.ggml.scores"],
  ])("names the bad field (%#)", (meta, field) => {
    expect(() => fromGgufMetadata(meta)).toThrow(TokenizerError);
    expect(() => fromGgufMetadata(meta)).toThrow(field);
  });
  it("rejects an unknown pre-tokenizer with its own code", () => {
    try {
      fromGgufMetadata({ ...base, "tokenizer.ggml.pre": "falcon" });
      expect.unreachable();
    } catch (err) {
      expect((err as TokenizerError).code).toBe("TOKENIZER_UNKNOWN_PRE");
    }
  });
});
