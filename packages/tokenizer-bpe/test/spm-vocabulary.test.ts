import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { GgufFile, ggufStringArrayOf } from "@zero-llm/tensor";
import { SpmTokenizer, TOKEN_TYPE, TokenizerError, encodeUtf8, fromGgufMetadata, fromLlama2cTokenizer, parseLlama2cTokenizer } from "../src";
import { SpmVocabulary, isValidUtf8 } from "../src/spm-vocabulary";
import { loadBrownText } from "./helpers/brown";
import { mulberry32, randomText } from "./helpers/fuzz";
import { GGML_VOCAB, LLAMA2C_TOKENIZER, MISSING_FIXTURES, hasFixture, readVocabTest } from "./helpers/fixtures";

/**
 * The compact SentencePiece vocabulary (spm-vocabulary.ts: pieces as one byte buffer, lookups by
 * bytes) against the string path it replaces: the pieces decoded to JS strings (as the GGUF
 * reader's `value` and llama2.c's TextDecoder make them) and a Map from piece to its first id.
 * Every token of every SentencePiece fixture vocabulary, and the tokenizers built both ways.
 */
const SPM_VOCABS = ["llama-spm", "phi-3", "baichuan"].filter((name) => hasFixture(path.join(GGML_VOCAB, `ggml-vocab-${name}.gguf`)));

/** The old path's lookup: a Map filled in id order, keeping each piece's first id. */
function firstIds(pieces: readonly string[]): Map<string, number> {
  const map = new Map<string, number>();
  pieces.forEach((piece, id) => {
    if (!map.has(piece)) map.set(piece, id);
  });
  return map;
}

/** Both forms of one GGUF vocabulary: the reader's undecoded string array and its strings. */
function ggufBoth(name: string): { bytes: Map<string, unknown>; strings: Map<string, unknown>; pieces: string[] } {
  const file = GgufFile.parse(new Uint8Array(readFileSync(path.join(GGML_VOCAB, `ggml-vocab-${name}.gguf`))));
  const bytes = new Map<string, unknown>();
  const strings = new Map<string, unknown>();
  for (const [key, entry] of file.metadata) {
    const compact = ggufStringArrayOf(entry);
    bytes.set(key, compact ?? file.get(key));
  }
  for (const key of file.metadata.keys()) strings.set(key, file.get(key));
  return { bytes, strings, pieces: strings.get("tokenizer.ggml.tokens") as string[] };
}

/** Every per-token answer of two tokenizers, token by token. */
function expectSameTokens(compact: SpmTokenizer, old: SpmTokenizer): void {
  expect(compact.vocabSize).toBe(old.vocabSize);
  expect([...compact.specialTokens]).toEqual([...old.specialTokens]);
  for (let id = 0; id < old.vocabSize; id++) {
    const a = { id, piece: compact.piece(id), text: compact.tokenText(id), bytes: [...compact.tokenBytes(id)], score: compact.score(id), type: compact.type(id) };
    const b = { id, piece: old.piece(id), text: old.tokenText(id), bytes: [...old.tokenBytes(id)], score: old.score(id), type: old.type(id) };
    if (a.piece !== b.piece || a.text !== b.text || a.bytes.join() !== b.bytes.join() || a.type !== b.type || !Object.is(a.score, b.score)) expect(a).toEqual(b);
    // The old path's rule for a text token's bytes, from its piece string.
    if (a.type !== TOKEN_TYPE.control && a.type !== TOKEN_TYPE.byte && !/^<0x[0-9A-Fa-f]{2}>$/.test(a.piece)) {
      const want = [...encodeUtf8(old.piece(id).replaceAll(old.spaceSymbol, " "))];
      if (a.bytes.join() !== want.join()) expect({ id, bytes: a.bytes }).toEqual({ id, bytes: want });
    }
  }
}

describe.skipIf(SPM_VOCABS.length === 0)(`compact vocabulary from GGUF bytes = the string path (${SPM_VOCABS.length > 0 ? SPM_VOCABS.join(", ") : MISSING_FIXTURES})`, () => {
  it.each(SPM_VOCABS)("%s: every piece looks up to its first id, by bytes and by text; pieces decode to the same strings", (name) => {
    const { bytes, pieces } = ggufBoth(name);
    const vocabulary = SpmVocabulary.fromBytes(bytes.get("tokenizer.ggml.tokens") as { bytes: Uint8Array; offsets: Uint32Array });
    const map = firstIds(pieces);
    expect(vocabulary.size).toBe(pieces.length);
    expect(vocabulary.distinct).toBe(map.size);
    for (let id = 0; id < pieces.length; id++) {
      const piece = pieces[id];
      const got = { id, piece: vocabulary.piece(id), byText: vocabulary.idOfText(piece, 0, piece.length), byBytes: vocabulary.idOfBytes(encodeUtf8(piece), 0, encodeUtf8(piece).length) };
      const want = { id, piece, byText: map.get(piece), byBytes: map.get(piece) };
      if (got.piece !== want.piece || got.byText !== want.byText || got.byBytes !== want.byBytes) expect(got).toEqual(want);
    }
    // Texts that are no piece: a piece with one more character, the empty text when it is none.
    for (const piece of pieces.slice(0, 2000)) {
      const longer = `${piece}\u0001`;
      expect(vocabulary.idOfText(longer, 0, longer.length)).toBe(map.get(longer) ?? -1);
    }
    expect(vocabulary.idOfText("", 0, 0)).toBe(map.get("") ?? -1);
  });

  it.each(SPM_VOCABS)("%s: the tokenizer from bytes answers every token and encodes like the one from strings", (name) => {
    const { bytes, strings } = ggufBoth(name);
    const compact = fromGgufMetadata(bytes) as SpmTokenizer;
    const old = fromGgufMetadata(strings) as SpmTokenizer;
    expect(compact).toBeInstanceOf(SpmTokenizer);
    expectSameTokens(compact, old);
    const vectors = path.join(GGML_VOCAB, `ggml-vocab-${name}.gguf`);
    const cases = hasFixture(`${vectors}.inp`) ? readVocabTest(vectors) : [];
    for (const { text, ids } of cases) expect({ text, ids: compact.encode(text) }).toEqual({ text, ids });
    const random = mulberry32(14);
    const texts = [...cases.map((c) => c.text), ...Array.from({ length: 200 }, () => randomText(random, 1 + Math.floor(random() * 60)))];
    for (const text of texts) {
      const got = compact.encode(text, { allowedSpecial: "all" });
      const want = old.encode(text, { allowedSpecial: "all" });
      if (got.join() !== want.join()) expect({ text, ids: got }).toEqual({ text, ids: want });
    }
    // Past SEGMENTED_FRAGMENT the pair tables are built from the pieces' bytes (buildPairTables).
    const long = texts.join(" ");
    expect(compact.encode(long)).toEqual(old.encode(long));
  });
});

describe.skipIf(!hasFixture(LLAMA2C_TOKENIZER))(`llama2.c tokenizer.bin held as bytes = the string path (${hasFixture(LLAMA2C_TOKENIZER) ? "llama2-tokenizer.bin" : MISSING_FIXTURES})`, () => {
  it("every token and a Brown corpus sample encode as with the file's pieces as strings", () => {
    const data = readFileSync(LLAMA2C_TOKENIZER);
    const compact = fromLlama2cTokenizer(data);
    const file = parseLlama2cTokenizer(data);
    const types = Int32Array.from({ length: file.pieces.length }, (_, id) => compact.type(id));
    const old = new SpmTokenizer({ pieces: file.pieces, scores: file.scores, types, unknownId: 0, bosId: 1, eosId: 2, spaceSymbol: " " });
    expectSameTokens(compact, old);
    const vocabulary = SpmVocabulary.fromStrings(file.pieces);
    const map = firstIds(file.pieces);
    for (const [piece, id] of map) expect(vocabulary.idOfText(piece, 0, piece.length)).toBe(id);
    const text = loadBrownText().slice(0, 200_000);
    expect(compact.encode(text)).toEqual(old.encode(text));
  });
});

describe("compact vocabulary: pieces that are not plain UTF-8", () => {
  /** Pieces as bytes end to end with offsets. */
  const pack = (pieces: Uint8Array[]): { bytes: Uint8Array; offsets: Uint32Array } => {
    const offsets = new Uint32Array(pieces.length + 1);
    pieces.forEach((p, i) => (offsets[i + 1] = offsets[i] + p.length));
    const bytes = new Uint8Array(offsets[pieces.length]);
    pieces.forEach((p, i) => bytes.set(p, offsets[i]));
    return { bytes, offsets };
  };
  const lenient = new TextDecoder("utf-8", { ignoreBOM: true });

  it("invalid UTF-8, a WTF-8 surrogate, a BOM and repeated pieces look up as their decoded strings do", () => {
    const raw = [
      Uint8Array.of(0x61), // "a"
      Uint8Array.of(0xff, 0x62), // invalid byte, "b": decodes to "\uFFFDb"
      Uint8Array.of(0xed, 0xa0, 0x80), // a surrogate in UTF-8: invalid, decodes to U+FFFD × 3
      Uint8Array.of(0xef, 0xbb, 0xbf), // U+FEFF, kept (ignoreBOM)
      Uint8Array.of(0xef, 0xbf, 0xbd, 0x62), // "\uFFFDb" again: same piece as id 1
      Uint8Array.of(0x61), // "a" again
      Uint8Array.of(),
    ];
    const strings = raw.map((b) => lenient.decode(b));
    const vocabulary = SpmVocabulary.fromBytes(pack(raw));
    const map = firstIds(strings);
    expect(vocabulary.distinct).toBe(map.size);
    strings.forEach((piece, id) => {
      expect(vocabulary.piece(id)).toBe(piece);
      expect(vocabulary.idOfText(piece, 0, piece.length)).toBe(map.get(piece));
    });
    expect(vocabulary.idOfText("\ud800", 0, 1)).toBe(-1); // a lone surrogate in the text is no piece here
  });

  it("the UTF-8 check agrees with a fatal TextDecoder on random bytes", () => {
    const strict = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
    const random = mulberry32(7);
    const interesting = [0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff];
    for (let n = 0; n < 20000; n++) {
      const bytes = Uint8Array.from({ length: 1 + Math.floor(random() * 6) }, () => (random() < 0.7 ? interesting[Math.floor(random() * interesting.length)] : Math.floor(random() * 256)));
      let valid = true;
      try {
        strict.decode(bytes);
      } catch {
        valid = false;
      }
      if (isValidUtf8(bytes, 0, bytes.length) !== valid) expect({ bytes: [...bytes], valid: isValidUtf8(bytes, 0, bytes.length) }).toEqual({ bytes: [...bytes], valid });
    }
  });

  it("string pieces with a lone surrogate round-trip and match only the same surrogate", () => {
    const pieces = ["<unk>", "\ud83d", "\ud83d\ude00", "\ufffd", "x"];
    const vocabulary = SpmVocabulary.fromStrings(pieces);
    pieces.forEach((piece, id) => {
      expect(vocabulary.piece(id)).toBe(piece);
      expect(vocabulary.idOfText(piece, 0, piece.length)).toBe(id);
    });
    // The high half of a pair, cut from its text, is the lone-surrogate piece (as a slice would be).
    expect(vocabulary.idOfText("\ud83d\ude00", 0, 1)).toBe(1);
  });

  it("a tokenizer from bytes with invalid pieces encodes and decodes as the one from their strings", () => {
    const raw = ["<unk>", "<s>", "</s>", "<0x41>", "\u2581", "a", "b", "ab", "\u2581ab"].map((s) => encodeUtf8(s));
    raw.push(Uint8Array.of(0x61, 0xc3)); // "a" + a truncated sequence
    const scores = Float32Array.from(raw, (_, i) => -i);
    const strings = raw.map((b) => lenient.decode(b));
    const compact = new SpmTokenizer({ pieces: pack(raw), scores, unknownId: 0, bosId: 1, eosId: 2 });
    const old = new SpmTokenizer({ pieces: strings, scores, unknownId: 0, bosId: 1, eosId: 2 });
    expectSameTokens(compact, old);
    for (const text of ["ab ab", "a\ufffd", "Aab", "ba ab b"]) expect(compact.encode(text)).toEqual(old.encode(text));
  });

  it("a token's bytes replace the space symbol as the string rule does, whatever the symbol", () => {
    const pieces = ["<unk>", "\u2581a\u2581", "xyzx", "\ud800a", "\ud83d\ude00", "abab", "aba", ""];
    for (const spaceSymbol of ["\u2581", " ", "ab", "x", "\ud800", "\ud83d", ""]) {
      const tok = new SpmTokenizer({ pieces, scores: new Float32Array(pieces.length), unknownId: 0, spaceSymbol });
      for (let id = 1; id < pieces.length; id++) expect([...tok.tokenBytes(id)]).toEqual([...encodeUtf8(pieces[id].replaceAll(spaceSymbol, " "))]);
    }
  });

  it("rejects offsets that do not fit the bytes, with a typed error", () => {
    const bad = (bytes: Uint8Array, offsets: Uint32Array): unknown => {
      try {
        new SpmTokenizer({ pieces: { bytes, offsets }, scores: new Float32Array(Math.max(0, offsets.length - 1)) });
      } catch (e) {
        return e;
      }
      return undefined;
    };
    for (const [bytes, offsets] of [
      [Uint8Array.of(1, 2), Uint32Array.of(0, 3)],
      [Uint8Array.of(1, 2), Uint32Array.of(0, 2, 1)],
      [Uint8Array.of(1, 2), Uint32Array.of(1, 2)],
      [Uint8Array.of(1, 2), new Uint32Array(0)],
    ] as const) {
      const e = bad(bytes, offsets);
      expect(e).toBeInstanceOf(TokenizerError);
      expect((e as TokenizerError).code).toBe("TOKENIZER_BAD_ARGUMENT");
    }
    const gguf = { "tokenizer.ggml.model": "llama", "tokenizer.ggml.tokens": { bytes: Uint8Array.of(1, 2), offsets: Uint32Array.of(0, 3) }, "tokenizer.ggml.scores": new Float32Array(1) };
    expect(() => fromGgufMetadata(gguf)).toThrow(expect.objectContaining({ code: "TOKENIZER_BAD_GGUF_METADATA" }));
  });
});
