import { GgufFile, serializeGguf } from "@zero-llm/tensor";
import { describe, expect, it } from "vitest";
import {
  BpeTokenizer, GGUF_PRE_TOKENIZERS, SpmTokenizer, TOKEN_TYPE, TokenizerError, fromGgufMetadata, ggufPreTokenizerNameOf, minimalGpt2Vocabulary,
  minimalLlamaVocabulary, toGgufMetadata, trainBpe, type GgufTokenizerEntries,
} from "../src";
import { readVocabTest } from "./helpers/fixtures";
import { VOCAB_FILES, ggufMetadata, hasVocab, loadVocab, readVocabMetadata, vocabPath } from "./helpers/vocab-files";

/**
 * The writing half of GGUF tokenizer metadata (src/gguf/write.ts), held to the reading half and
 * to llama.cpp's own files: each byte-level vocabulary file, read and written back, gives the
 * file's tokens, types, merges and bos / eos, and a pre-tokenizer name with the same rules.
 * (@zero-llm/transformer writes these entries into the GGUF models it exports, and its tests
 * check that llama.cpp tokenizes such files as we do.)
 */
function entries(list: GgufTokenizerEntries): Map<string, unknown> {
  return new Map(list.map(([key, v]) => [key, v.value]));
}

/** Through a real GGUF file: @zero-llm/tensor's writer, then its reader. */
function throughFile(list: GgufTokenizerEntries): Map<string, unknown> {
  return ggufMetadata(serializeGguf({ metadata: list }));
}

const BPE_FILES = VOCAB_FILES.filter((f) => f.model === "gpt2" && hasVocab(f.name));

describe.skipIf(BPE_FILES.length === 0)(`toGgufMetadata gives llama.cpp's files back${BPE_FILES.length > 0 ? "" : " (skipped: no byte-level BPE vocabulary in ../shared/fixtures/ggml-vocab)"}`, () => {
  it.each(BPE_FILES.map((f) => f.name))("%s: tokens, token types, merges, bos / eos as stored; a name with the same rules", (name) => {
    const stored = readVocabMetadata(name);
    const tok = loadVocab(name) as BpeTokenizer;
    const written = entries(toGgufMetadata(tok));
    for (const key of ["tokenizer.ggml.tokens", "tokenizer.ggml.merges", "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id"]) {
      expect({ key, value: written.get(key) }).toEqual({ key, value: stored.get(key) });
    }
    expect(Array.from(written.get("tokenizer.ggml.token_type") as Int32Array)).toEqual(Array.from(stored.get("tokenizer.ggml.token_type") as Int32Array));
    const pre = written.get("tokenizer.ggml.pre") as string;
    expect(GGUF_PRE_TOKENIZERS[pre]).toBe(GGUF_PRE_TOKENIZERS[(stored.get("tokenizer.ggml.pre") as string | undefined) ?? "default"]);
  });

  it.each(BPE_FILES.filter((f) => f.vectors).map((f) => f.name))("%s: written to a GGUF file and read again, it still passes llama.cpp's vectors", (name) => {
    const again = fromGgufMetadata(throughFile(toGgufMetadata(loadVocab(name) as BpeTokenizer)));
    for (const { text, ids } of readVocabTest(vocabPath(name))) expect({ text, ids: again.encode(text) }).toEqual({ text, ids });
  });
});

/** 256 byte tokens, then "bc", "ab", "abc" with merges (b c) before (a b): "abc" itself merges to a + bc. */
function tokenizerWhereMergesMissAToken(): BpeTokenizer {
  const tokens: Uint8Array[] = Array.from({ length: 256 }, (_, b) => new Uint8Array([b]));
  tokens.push(new TextEncoder().encode("bc"), new TextEncoder().encode("ab"), new TextEncoder().encode("abc"));
  return new BpeTokenizer({ tokens, merges: [[98, 99], [97, 98], [257, 99]], pattern: "cl100k", specialTokens: [["<|endoftext|>", 259]] });
}

describe("trained tokenizers as GGUF metadata", () => {
  it("a trained cl100k-pattern tokenizer is llama-bpe (whole-piece lookup cannot change a result), padded to the model's vocabulary", () => {
    const tok = trainBpe("the cat sat on the mat; the dog ate the hat. ".repeat(40), { vocabSize: 300, specialTokens: ["<|endoftext|>"] });
    expect(ggufPreTokenizerNameOf(tok)).toBe("llama-bpe");
    const written = entries(toGgufMetadata(tok, { vocabSize: 320, addBosToken: true }));
    const tokens = written.get("tokenizer.ggml.tokens") as string[];
    const types = written.get("tokenizer.ggml.token_type") as Int32Array;
    expect(tokens).toHaveLength(320);
    const eot = tok.specialTokens.get("<|endoftext|>")!;
    expect([tokens[eot], types[eot]]).toEqual(["<|endoftext|>", TOKEN_TYPE.control]);
    expect([tokens[319], types[319]]).toEqual(["[PAD319]", TOKEN_TYPE.unused]);
    expect([written.get("tokenizer.ggml.bos_token_id"), written.get("tokenizer.ggml.add_bos_token")]).toEqual([eot, true]);
    const back = fromGgufMetadata(throughFile(toGgufMetadata(tok, { vocabSize: 320 })));
    expect(back.encode("the cat ate the mat")).toEqual(tok.encode("the cat ate the mat"));
  });

  it("else dbrx: the same regex with merges always applied", () => {
    const odd = tokenizerWhereMergesMissAToken();
    expect(odd.encode("abc")).toEqual([97, 256]); // a + bc, not abc
    expect(ggufPreTokenizerNameOf(odd)).toBe("dbrx");
    const written = entries(toGgufMetadata(odd, { vocabSize: 300 }));
    expect(written.get("tokenizer.ggml.pre")).toBe("dbrx");
    expect(written.get("tokenizer.ggml.merges")).toEqual(["b c", "a b", "ab c"]);
  });

  it("refuses a tokenizer larger than the model, tiktoken ranks, split rules with no llama.cpp name and a bad bos, with typed errors", () => {
    const odd = tokenizerWhereMergesMissAToken();
    const bytes = Array.from({ length: 256 }, (_, b) => new Uint8Array([b]));
    const cases: [() => unknown, RegExp][] = [
      [() => toGgufMetadata(odd, { vocabSize: 100 }), /at most the model's 100 token ids, found a tokenizer with 260/],
      [() => toGgufMetadata(new BpeTokenizer({ tokens: bytes, pattern: "cl100k" })), /merge list, found one with tiktoken ranks only/],
      [() => toGgufMetadata(new BpeTokenizer({ tokens: bytes, merges: [], pattern: String.raw`\w+|\s+` })), /split rules llama\.cpp knows by name/],
      [() => toGgufMetadata(odd, { vocabSize: 300, bosTokenId: 300 }), /bosTokenId: expected an id in \[0, 300\), found 300/],
    ];
    for (const [run, message] of cases) {
      expect(run).toThrow(TokenizerError);
      expect(run).toThrow(message);
    }
  });
});

describe("placeholder vocabularies", () => {
  it("minimalLlamaVocabulary loads as SentencePiece with every byte encodable", () => {
    const tok = fromGgufMetadata(throughFile(minimalLlamaVocabulary(300)));
    expect(tok).toBeInstanceOf(SpmTokenizer);
    expect(tok.vocabSize).toBe(300);
    expect(tok.decode(tok.encode("any text, even😀"))).toBe("any text, even😀");
    expect([tok.bosId, tok.eosId]).toEqual([1, 2]);
  });

  it("minimalGpt2Vocabulary loads as byte-level BPE with <|endoftext|> last", () => {
    const tok = fromGgufMetadata(throughFile(minimalGpt2Vocabulary(260)));
    expect(tok).toBeInstanceOf(BpeTokenizer);
    expect(tok.encode("hi")).toEqual([104, 105]);
    expect([tok.bosId, tok.eosId]).toEqual([259, 259]);
    expect(tok.encode("<|endoftext|>", { allowedSpecial: "all" })).toEqual([259]);
  });

  it("GGUF reads them back unchanged: the file stores what the entries say", () => {
    const file = GgufFile.parse(serializeGguf({ metadata: minimalLlamaVocabulary(260) }));
    expect(file.get("tokenizer.ggml.tokens")).toHaveLength(260);
    expect(Array.from((file.get("tokenizer.ggml.token_type") as Int32Array).subarray(0, 4))).toEqual([TOKEN_TYPE.unknown, TOKEN_TYPE.control, TOKEN_TYPE.control, TOKEN_TYPE.byte]);
  });
});
