import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { SpmTokenizer, encodeUtf8, fromLlama2cTokenizer } from "../src";
import { scoreRanks } from "../src/spm-merge";
import { loadBrownText } from "./helpers/brown";
import { LLAMA2C_TOKENIZER, MISSING_FIXTURES, hasFixture } from "./helpers/fixtures";
import { mulberry32, randomText } from "./helpers/fuzz";
import { hasVocab, loadVocab } from "./helpers/vocab-files";

/**
 * The encoder's typed-array merge (spm-merge.ts: score ranks, a scan for short segments, rank
 * passes for long ones, segments and windows around them) against the plain queue of spm.ts
 * (`mergeSymbols`, llama.cpp's `llm_tokenizer_spm` step for step, held to llama.cpp's vectors in
 * spm.test.ts) run over the whole text at once: no segments, no windows. Random letters are
 * the input the fast path was built for (issue 12 #3); vocabularies with many equal scores make
 * a wrong tie-break (the rightmost pair first, or ties ranked by id) give other ids.
 */

/** The plain queue over the whole text, with byte fallback: what `encode` must give. */
function plainEncode(tok: SpmTokenizer, text: string): number[] {
  const escaped = (tok.addSpacePrefix ? tok.spaceSymbol : "") + text.replaceAll(" ", tok.spaceSymbol);
  const symbols: { ids: number[]; lengths: number[] } = tok["mergeSymbols"](escaped, 0, escaped.length);
  const byteIds: Int32Array = tok["byteIds"];
  const ids: number[] = [];
  let k = 0;
  for (let i = 0; i < symbols.ids.length; i++) {
    const id = symbols.ids[i];
    if (id >= 0) ids.push(id);
    else for (const byte of encodeUtf8(escaped.slice(k, k + symbols.lengths[i]))) ids.push(byteIds[byte] >= 0 ? byteIds[byte] : tok.unknownId!);
    k += symbols.lengths[i];
  }
  return ids;
}

function randomLetters(seed: number, length: number, alphabet = "abcdefghijklmnopqrstuvwxyz"): string {
  const rand = mulberry32(seed);
  let s = "";
  for (let k = 0; k < length; k++) s += alphabet[Math.floor(rand() * alphabet.length)];
  return s;
}

/** Ids must match; on a mismatch, say where, rather than print two arrays of 100,000 ids. */
function expectSameIds(got: number[], want: number[]): void {
  let k = 0;
  while (k < got.length && k < want.length && got[k] === want[k]) k++;
  expect({ firstDifference: k, got: got.slice(k, k + 8), length: got.length }).toEqual({ firstDifference: want.length, got: [], length: want.length });
}

describe("scoreRanks", () => {
  it("ranks the highest score 0, shares a rank among equal scores, and puts NaN last", () => {
    expect(Array.from(scoreRanks([-1, 0, -1, -3, NaN, Infinity, -Infinity, 0])!)).toEqual([2, 1, 2, 3, 5, 0, 4, 1]);
  });
});

/**
 * A vocabulary where order is everything: the characters a-d, every string of 2 to 4 of them as
 * a piece with a score from a set of three (so most pairs tie, and a merged piece often outscores
 * the pairs that made it: the rank-pass loop's heap), and "|", a piece that joins nothing (it
 * cuts the text into segments of every length).
 */
function tiedVocabulary(seed: number): SpmTokenizer {
  const rand = mulberry32(seed);
  const pieces = ["<unk>", "a", "b", "c", "d", "|"];
  const scores = [0, -10, -10, -10, -10, -10];
  const grow = (prefix: string): void => {
    for (const c of "abcd") {
      const piece = prefix + c;
      if (piece.length >= 2) {
        pieces.push(piece);
        scores.push(-1 - Math.floor(rand() * 3));
      }
      if (piece.length < 4) grow(piece);
    }
  };
  grow("");
  return new SpmTokenizer({ pieces, scores, unknownId: 0, addSpacePrefix: false, spaceSymbol: " " });
}

describe("typed-array merge = plain queue, ties in score", () => {
  it("takes the leftmost of two pairs with equal scores", () => {
    // "bc" has the lower id: ranks that broke ties by id, or a scan that kept the last best pair, take it first.
    const tok = new SpmTokenizer({ pieces: ["<unk>", "a", "b", "c", "bc", "ab"], scores: [0, -9, -9, -9, -1, -1], unknownId: 0, addSpacePrefix: false });
    const text = "abc|".repeat(100); // past 256 characters: segments and the typed-array loop
    const ids = tok.encode(text);
    expect(ids.slice(0, 3)).toEqual([5, 3, 0]); // "ab" "c" "|" (no piece: <unk>, no byte tokens)
    expectSameIds(ids, plainEncode(tok, text));
  });

  it.each([1, 2, 3, 4])("random a-d with separators, seed %i: segments of every length", (seed) => {
    const tok = tiedVocabulary(seed);
    const rand = mulberry32(100 + seed);
    let text = "";
    // Segments of 1 to ~200 characters: the scan (up to 48) and the rank passes beyond.
    while (text.length < 100_000) text += randomLetters(Math.floor(rand() * 1e9), 1 + Math.floor(rand() * rand() * 200), "abcd") + "|";
    expectSameIds(tok.encode(text), plainEncode(tok, text));
  });

  it.each([5, 6])("one 200 KB segment of a-d, seed %i: windows of rank passes", (seed) => {
    const tok = tiedVocabulary(seed);
    const text = randomLetters(seed, 200_000, "abcd");
    expectSameIds(tok.encode(text), plainEncode(tok, text));
  });
});

const haveLlama2c = hasFixture(LLAMA2C_TOKENIZER);

describe.skipIf(!haveLlama2c)(`typed-array merge = plain queue, llama2.c tokenizer.bin (${haveLlama2c ? "Llama 2's 32,000 pieces" : MISSING_FIXTURES})`, () => {
  const tok = haveLlama2c ? fromLlama2cTokenizer(readFileSync(LLAMA2C_TOKENIZER)) : undefined;

  it.each([
    [1, 1_000],
    [2, 20_000],
    [3, 300_000],
    [4, 300_000],
  ])("random letters, seed %i, %i characters", (seed, length) => {
    const text = randomLetters(seed, length);
    expectSameIds(tok!.encode(text), plainEncode(tok!, text));
  });

  it("random letters, digits, punctuation and spaces (segments of every length)", () => {
    const text = randomLetters(7, 200_000, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,;'-\n");
    expectSameIds(tok!.encode(text), plainEncode(tok!, text));
  });

  it("a 150 KB run of three letters: one segment, windows", () => {
    const text = randomLetters(8, 150_000, "eta");
    expectSameIds(tok!.encode(text), plainEncode(tok!, text));
  });

  it("prose: the first 100 KB of the Brown corpus", () => {
    const text = loadBrownText().slice(0, 100_000);
    expectSameIds(tok!.encode(text), plainEncode(tok!, text));
  });

  it("random text of every script, emoji and lone surrogates (byte fallback, surrogate pairs)", () => {
    const text = randomText(mulberry32(9), 50_000, { loneSurrogates: true });
    expectSameIds(tok!.encode(text), plainEncode(tok!, text));
  });
});

const haveSpmGguf = hasVocab("llama-spm");

describe.skipIf(!haveSpmGguf)(`typed-array merge = plain queue, llama-spm GGUF ("▁" spaces) (${haveSpmGguf ? "present" : MISSING_FIXTURES})`, () => {
  it("prose and random text of every script", () => {
    const tok = loadVocab("llama-spm") as SpmTokenizer;
    for (const text of [loadBrownText().slice(0, 100_000), randomText(mulberry32(10), 50_000), randomLetters(11, 100_000)]) {
      expectSameIds(tok.encode(text), plainEncode(tok, text));
    }
  });
});
