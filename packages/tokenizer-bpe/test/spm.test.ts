import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { SpmTokenizer, TokenizerError, createStreamDecoder, detectVocabulary, encodeUtf8, fromGgufMetadata, fromLlama2cTokenizer, loadVocabulary } from "../src";
import { ggufMetadata } from "./helpers/vocab-files";
import { loadBrownText } from "./helpers/brown";
import { mulberry32, randomText } from "./helpers/fuzz";
import { GGML_VOCAB, LLAMA2C_TOKENIZER, MISSING_FIXTURES, hasFixture, readVocabTest } from "./helpers/fixtures";

/**
 * llama.cpp's llama-spm test vectors, encoded with llama2.c's tokenizer.bin: the same Llama 2
 * vocabulary (32,000 pieces and scores), in the llama2.c container. phi-3's vectors are
 * identical to llama-spm's and are checked too (gguf.test.ts checks both from their own .gguf).
 */
const present = hasFixture(LLAMA2C_TOKENIZER) && hasFixture(path.join(GGML_VOCAB, "ggml-vocab-llama-spm.gguf.inp"));

describe.skipIf(!present)(`SPM mode against llama.cpp vectors (${present ? "llama2.c vocabulary" : MISSING_FIXTURES})`, () => {
  const tok = present ? fromLlama2cTokenizer(readFileSync(LLAMA2C_TOKENIZER)) : undefined;

  it.each(["llama-spm", "phi-3"])("ggml-vocab-%s vectors", (name) => {
    const cases = readVocabTest(path.join(GGML_VOCAB, `ggml-vocab-${name}.gguf`));
    expect(cases.length).toBeGreaterThan(30);
    for (const { text, ids } of cases) expect({ text, ids: tok!.encode(text) }).toEqual({ text, ids });
  });

  it("round-trips the vectors through decode", () => {
    for (const { text } of readVocabTest(path.join(GGML_VOCAB, "ggml-vocab-llama-spm.gguf"))) {
      expect(tok!.decode(tok!.encode(text))).toBe(text);
    }
  });

  it("reads the file's 32,000 pieces with llama2.c's conventions", () => {
    expect(tok!.vocabSize).toBe(32000);
    expect(tok!.piece(1)).toBe("\n<s>\n");
    expect(tok!.score(300)).toBe(-41);
    expect(tok!.encode("Hello world")).toEqual([15043, 3186]);
  });
});

describe.skipIf(!present)("SPM mode details", () => {
  const bytes = present ? new Uint8Array(readFileSync(LLAMA2C_TOKENIZER)) : new Uint8Array(0);
  const tok = present ? fromLlama2cTokenizer(bytes) : undefined;

  it("gives offsets: the leading-space token maps to the start, byte-fallback tokens share their character", () => {
    expect(tok!.encodeWithOffsets("Hi 😀 there")).toEqual([
      { id: 6324, start: 0, end: 2 },
      { id: 29871, start: 2, end: 3 },
      { id: 243, start: 3, end: 5 },
      { id: 162, start: 3, end: 5 },
      { id: 155, start: 3, end: 5 },
      { id: 131, start: 3, end: 5 },
      { id: 727, start: 5, end: 11 },
    ]);
  });

  it("round-trips and streams fuzzed text", () => {
    const rand = mulberry32(21);
    for (let k = 0; k < 200; k++) {
      const text = randomText(rand, 60, { loneSurrogates: true });
      const ids = tok!.encode(text);
      expect(tok!.decode(ids)).toBe(text);
      const stream = createStreamDecoder(tok!);
      expect(ids.map((id) => stream.push(id)).join("") + stream.flush()).toBe(text);
    }
  });

  it("is recognised by loadVocabulary", () => {
    expect(detectVocabulary(bytes)).toBe("llama2c");
    expect(loadVocabulary(bytes).encode("Hello world")).toEqual([15043, 3186]);
  });

  it("names the field of a truncated or corrupt file", () => {
    expect(() => fromLlama2cTokenizer(bytes.subarray(0, 1000))).toThrow(/tokenizer.bin: token \d+: expected/);
    const corrupt = bytes.slice(0, 100);
    new DataView(corrupt.buffer).setInt32(8, 9999, true);
    expect(() => fromLlama2cTokenizer(corrupt)).toThrow(TokenizerError);
    expect(() => fromLlama2cTokenizer(corrupt)).toThrow(/token 0: expected length in 0..27, found 9999/);
  });
});

/**
 * Long texts are cut into segments where no piece holds the two neighbouring characters, short
 * segments are cached, and pairs of pieces are found in a table (spm.ts, `segmentEnd`): held
 * here to the plain loop, one bigram queue over the whole text looking up joined strings, as
 * llama.cpp's `llm_tokenizer_spm` does, on a fresh tokenizer that has built no table.
 */
describe("SentencePiece segments and pair table give the plain loop's ids", () => {
  const vocabularies = [
    { name: "llama2.c tokenizer.bin", file: LLAMA2C_TOKENIZER, load: (bytes: Uint8Array) => fromLlama2cTokenizer(bytes) },
    ...["llama-spm", "phi-3", "baichuan"].map((name) => ({ name, file: path.join(GGML_VOCAB, `ggml-vocab-${name}.gguf`), load: (bytes: Uint8Array) => fromGgufMetadata(ggufMetadata(bytes)) })),
  ];

  function plainIds(tok: SpmTokenizer, text: string): number[] {
    const escaped = (tok.addSpacePrefix ? tok.spaceSymbol : "") + text.replaceAll(" ", tok.spaceSymbol);
    const symbols = (tok as unknown as { mergeSymbols: (s: string, from: number, to: number) => { ids: number[]; lengths: number[] } }).mergeSymbols(escaped, 0, escaped.length);
    const byteIds = (tok as unknown as { byteIds: Int32Array }).byteIds;
    const ids: number[] = [];
    let k = 0;
    symbols.ids.forEach((id, i) => {
      if (id >= 0) ids.push(id);
      else for (const byte of encodeUtf8(escaped.slice(k, k + symbols.lengths[i]))) ids.push(byteIds[byte] >= 0 ? byteIds[byte] : tok.unknownId!);
      k += symbols.lengths[i];
    });
    return ids;
  }

  it.each(vocabularies)("$name: prose, generated text of every script, random letters, `1a` runs", ({ file, load }) => {
    if (!hasFixture(file)) return; // shared fixtures absent (CI provides them)
    const bytes = new Uint8Array(readFileSync(file));
    const tok = load(bytes) as SpmTokenizer;
    const reference = load(bytes) as SpmTokenizer; // never encodes a long text: no segments, no table
    expect(tok).toBeInstanceOf(SpmTokenizer);
    const rand = mulberry32(4);
    let letters = "";
    for (let i = 0; i < 30_000; i++) letters += String.fromCharCode(97 + Math.floor(rand() * 26));
    const texts = [
      loadBrownText().slice(0, 40_000),
      randomText(rand, 20_000),
      randomText(rand, 20_000, { loneSurrogates: true }),
      letters,
      "1a".repeat(15_000),
      `  leading spaces,${" ".repeat(300)}then ${"ab ".repeat(2000)}\n\ttabs\n`.repeat(5),
    ];
    for (const [k, text] of texts.entries()) {
      const ids = tok.encode(text);
      expect({ k, ids }).toEqual({ k, ids: plainIds(reference, text) });
      expect({ k, repeated: tok.encode(text) }).toEqual({ k, repeated: ids }); // from the cache this time
    }
  }, 300_000);
});
