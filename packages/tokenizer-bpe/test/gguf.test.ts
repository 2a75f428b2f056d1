import { describe, expect, it } from "vitest";
import { BpeTokenizer, TokenizerError, fromGgufMetadata } from "../src";
import { MISSING_FIXTURES } from "./helpers/fixtures";
import { hasVocab, readVocabMetadata } from "./helpers/vocab-files";

/** GGUF tokenizer metadata details; the twelve files' vectors are in ggml-vocab.test.ts. */
it.skipIf(!hasVocab("phi-3"))("phi-3's added tokens are control tokens: matched when allowed, rendered as nothing", () => {
  const tok = fromGgufMetadata(readVocabMetadata("phi-3"));
  expect(tok.encode("<|endoftext|>", { allowedSpecial: "all" })).toEqual([32000]);
  expect(tok.encode("<|user|>", { allowedSpecial: ["<|user|>"] })).toEqual([32010]);
  expect(tok.encode("<|user|>")).not.toContain(32010);
  expect(tok.decode([32000])).toBe("");
});

describe("bos / eos from gpt2-type metadata", () => {
  it.skipIf(!hasVocab("mpt"))(`mpt: read from the file itself${hasVocab("mpt") ? "" : ` (skipped: ${MISSING_FIXTURES})`}`, () => {
    const metadata = readVocabMetadata("mpt");
    const tok = fromGgufMetadata(metadata) as BpeTokenizer;
    expect([tok.bosId, tok.eosId]).toEqual([metadata.get("tokenizer.ggml.bos_token_id"), metadata.get("tokenizer.ggml.eos_token_id")]);
    expect(tok.eosId).toBe(0);
  });
  it.skipIf(!hasVocab("gpt-2"))(`gpt-2: 50256 for both, as the file says${hasVocab("gpt-2") ? "" : ` (skipped: ${MISSING_FIXTURES})`}`, () => {
    const tok = fromGgufMetadata(readVocabMetadata("gpt-2")) as BpeTokenizer;
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
    [{ ...base, "tokenizer.ggml.model": "t5" }, "tokenizer.ggml.model"],
    [{ ...base, "tokenizer.ggml.model": "bert" }, "tokenizer.ggml.unknown_token_id"],
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
      fromGgufMetadata({ ...base, "tokenizer.ggml.pre": "falcon-9" });
      expect.unreachable();
    } catch (err) {
      expect((err as TokenizerError).code).toBe("TOKENIZER_UNKNOWN_PRE");
    }
  });
});
