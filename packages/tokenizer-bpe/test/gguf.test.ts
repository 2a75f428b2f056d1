import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { BpeTokenizer, SpmTokenizer, TokenizerError, fromGgufMetadata } from "../src";
import { GGML_VOCAB, LLAMA2C_TOKENIZER, MISSING_FIXTURES, hasFixture, readVocabTest } from "./helpers/fixtures";
import { readGgufFile, readGgufMetadata } from "./helpers/gguf";
import { writeGgufMetadata } from "./helpers/gguf-write";
import { readSpmGguf } from "./helpers/spm-gguf";

/**
 * llama.cpp's tokenizer test vectors, with vocabulary and pre-tokenizer read from each .gguf.
 *
 * The .gguf files in ../shared were damaged by a UTF-8 text filter (bytes outside valid UTF-8
 * became U+FFFD); the test reader's salvage mode recovers everything the byte-level (gpt2)
 * vocabularies need. The SentencePiece files (llama-spm, phi-3) lost their f32 scores; their
 * tokens and types still come from the file, and the scores are substituted only when the
 * reader finds them damaged (see helpers/spm-gguf.ts), so the same tests pass on a clean copy.
 * Each SentencePiece test also runs on such a clean copy, written back by helpers/gguf-write.ts.
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

/** Per SentencePiece file: vocabulary size and bos / eos as the file declares them. */
const SPM_FILES = [
  { name: "llama-spm", vocabSize: 32000, bosId: 1, eosId: 2 },
  { name: "phi-3", vocabSize: 32064, bosId: 1, eosId: 32000 },
];

describe.each(SPM_FILES)("SentencePiece .gguf: $name", ({ name, vocabSize, bosId, eosId }) => {
  const file = path.join(GGML_VOCAB, `ggml-vocab-${name}.gguf`);
  const present = hasFixture(file) && hasFixture(LLAMA2C_TOKENIZER);
  const skipped = present ? "" : ` (skipped: ${MISSING_FIXTURES})`;
  const stored = (): Uint8Array => new Uint8Array(readFileSync(file));
  // The same metadata written back without damage: what a clean copy of the fixture reads as.
  const clean = (): Uint8Array => writeGgufMetadata(readSpmGguf(stored()).metadata);

  it.skipIf(!present)(`a clean copy keeps its scores and needs no substitution${skipped}`, () => {
    const { metadata, substituted } = readSpmGguf(clean());
    expect(substituted).toBe(false);
    expect((metadata.get("tokenizer.ggml.scores") as Float32Array).length).toBe(vocabSize);
  });

  it.each([
    ["as stored", stored],
    ["clean copy", clean],
  ])(`%s: builds an SPM tokenizer from the file's metadata and matches llama.cpp's vectors${skipped}`, (_label, bytes) => {
    if (!present) return;
    const { metadata } = readSpmGguf(bytes());
    const tok = fromGgufMetadata(metadata);
    expect(tok).toBeInstanceOf(SpmTokenizer);
    expect({ vocabSize: tok.vocabSize, bosId: tok.bosId, eosId: tok.eosId }).toEqual({ vocabSize, bosId, eosId });
    const cases = readVocabTest(file);
    expect(cases.length).toBeGreaterThan(30);
    for (const { text, ids } of cases) expect({ text, ids: tok.encode(text) }).toEqual({ text, ids });
    for (const { text } of cases) expect(tok.decode(tok.encode(text))).toBe(text);
  });
});

it.skipIf(!hasFixture(path.join(GGML_VOCAB, "ggml-vocab-phi-3.gguf")) || !hasFixture(LLAMA2C_TOKENIZER))("phi-3's added tokens are control tokens: matched when allowed, rendered as nothing", () => {
  const tok = fromGgufMetadata(readSpmGguf(new Uint8Array(readFileSync(path.join(GGML_VOCAB, "ggml-vocab-phi-3.gguf")))).metadata);
  expect(tok.encode("<|endoftext|>", { allowedSpecial: "all" })).toEqual([32000]);
  expect(tok.encode("<|user|>", { allowedSpecial: ["<|user|>"] })).toEqual([32010]);
  expect(tok.encode("<|user|>")).not.toContain(32010);
  expect(tok.decode([32000])).toBe("");
});

describe("bos / eos from gpt2-type metadata", () => {
  const mptFile = path.join(GGML_VOCAB, "ggml-vocab-mpt.gguf");
  const gpt2File = path.join(GGML_VOCAB, "ggml-vocab-gpt-2.gguf");
  it.skipIf(!hasFixture(mptFile))(`mpt: read from the file itself${hasFixture(mptFile) ? "" : ` (skipped: ${MISSING_FIXTURES})`}`, () => {
    const { metadata, damaged } = readGgufFile(mptFile, { salvage: true });
    expect(damaged).not.toContain("tokenizer.ggml.eos_token_id");
    const tok = fromGgufMetadata(metadata) as BpeTokenizer;
    expect([tok.bosId, tok.eosId]).toEqual([metadata.get("tokenizer.ggml.bos_token_id"), metadata.get("tokenizer.ggml.eos_token_id")]);
    expect(tok.eosId).toBe(0);
  });
  it.skipIf(!hasFixture(gpt2File))(`gpt-2: 50256, from a clean copy (the stored copy lost them to the damage)${hasFixture(gpt2File) ? "" : ` (skipped: ${MISSING_FIXTURES})`}`, () => {
    const { metadata } = readGgufFile(gpt2File, { salvage: true });
    // GPT-2's <|endoftext|> is both; written as u32 like llama.cpp's converter does.
    metadata.set("tokenizer.ggml.bos_token_id", 50256);
    metadata.set("tokenizer.ggml.eos_token_id", 50256);
    const again = readGgufMetadata(writeGgufMetadata(metadata));
    expect(again.damaged).toEqual([]);
    const tok = fromGgufMetadata(again.metadata) as BpeTokenizer;
    expect([tok.bosId, tok.eosId]).toEqual([50256, 50256]);
    expect(tok.encode("<|endoftext|>", { allowedSpecial: "all" })).toEqual([tok.eosId]);
  });
  it("absent keys leave them undefined; bigint (u64) ids are accepted", () => {
    const base = { "tokenizer.ggml.model": "gpt2", "tokenizer.ggml.tokens": ["a", "b", "ab"], "tokenizer.ggml.merges": ["a b"] };
    const none = fromGgufMetadata(base) as BpeTokenizer;
    expect([none.bosId, none.eosId]).toEqual([undefined, undefined]);
    const some = fromGgufMetadata({ ...base, "tokenizer.ggml.bos_token_id": 0n, "tokenizer.ggml.eos_token_id": 2 }) as BpeTokenizer;
    expect([some.bosId, some.eosId]).toEqual([0, 2]);
  });
  it("BpeTokenizer refuses a bos / eos outside the vocabulary", () => {
    const tokens = [Uint8Array.of(97), Uint8Array.of(98)];
    expect(() => new BpeTokenizer({ tokens, pattern: "gpt2", eosId: 2 })).toThrow(/eosId: expected a token id in 0..1, found 2/);
    expect(new BpeTokenizer({ tokens, pattern: "gpt2", specialTokens: [["<|endoftext|>", 2]], eosId: 2 }).eosId).toBe(2);
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
