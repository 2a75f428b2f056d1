import { readFileSync } from "node:fs";
import { encode as gptTokenizerCl100k } from "gpt-tokenizer/encoding/cl100k_base";
import { encode as gptTokenizerR50k } from "gpt-tokenizer/encoding/r50k_base";
import { getEncoding } from "js-tiktoken";
import { describe, expect, it } from "vitest";
import { BpeTokenizer, SpmTokenizer, fromLlama2cTokenizer, type Tokenizer } from "../src";
import { mergeTablesOf } from "../src/bpe";
import { mergeByHeap, mergeByRankPasses, mergeByScan } from "../src/bpe-merge";
import { LLAMA2C_TOKENIZER, MISSING_FIXTURES, hasFixture } from "./helpers/fixtures";
import { loadEncoding } from "./helpers/encodings";
import { mulberry32, randomText } from "./helpers/fuzz";
import { hasVocab, loadVocab } from "./helpers/vocab-files";

/**
 * Issue 12 #3: a pre-tokenizer piece can be arbitrarily long (a run of one letter, of spaces, of
 * digits; for SentencePiece the whole text is one piece). Long pieces merge in windows
 * (bpe-merge.ts, mergeInWindows); these tests hold them to
 * - the JS peers on runs they can finish: gpt-tokenizer on tens of KB (it is quadratic: over a
 *   minute for 1 MB), js-tiktoken on 2 KB (worse than quadratic here: 75 s for 10 KB of "a");
 * - our own plain loop over the whole piece (no windows) on 1 MB runs;
 * - on 5 and 50 MB runs, where no plain loop fits, a certificate: every token's bytes merge back
 *   to that token and every two neighbours merge back to themselves, which (bpe-merge.ts) makes
 *   the sequence the plain loop's result; and decode gives the text back.
 * 50 MB runs only for cl100k (a letter) to keep CI time reasonable under load; 1 and 5 MB for
 * every vocabulary and character. Speed and memory are in bench/long-input.ts, not here.
 */
const MB = 1_000_000;
const RUNS = [
  ["a letter", "a"],
  ["spaces", " "],
  ["a digit", "7"],
] as const;

/** Does merging `bytes` alone give exactly these tokens? The plain loop decides (scan when short, heap when long). */
function mergesTo(tok: BpeTokenizer, bytes: Uint8Array, ids: readonly number[]): boolean {
  const { tokens, pairs } = mergeTablesOf(tok);
  const got = bytes.length <= 256 ? mergeByScan(bytes, tokens, pairs) : Array.from(mergeByHeap(bytes, tokens, pairs).ids);
  return got.length === ids.length && got.every((id, k) => id === ids[k]);
}

/** SentencePiece's plain loop over a whole escaped text, no windows. */
function spmSymbols(tok: SpmTokenizer, escaped: string): { ids: number[]; lengths: number[] } {
  return tok["mergeSymbols"](escaped, 0, escaped.length);
}

/** The certificate for a run that is one piece: see the module comment. */
function expectValidMerge(tok: Tokenizer, text: string, ids: number[]): void {
  expect(tok.decode(ids)).toBe(text);
  const checked = new Set<string>();
  for (let k = 0; k < ids.length; k++) {
    for (const pair of k + 1 < ids.length ? [[ids[k], ids[k + 1]], [ids[k]]] : [[ids[k]]]) {
      const key = pair.join(",");
      if (checked.has(key)) continue;
      checked.add(key);
      if (tok instanceof BpeTokenizer) {
        const bytes = tok.decodeBytes(pair);
        expect({ pair, merges: mergesTo(tok, bytes, pair) }).toEqual({ pair, merges: true });
      } else if (tok instanceof SpmTokenizer) {
        const escaped = pair.map((id) => tok.piece(id)).join(""); // pieces keep their space symbol
        expect({ pair, merges: spmSymbols(tok, escaped).ids }).toEqual({ pair, merges: pair });
      }
    }
  }
  expect(checked.size).toBeLessThan(100); // a run has few distinct tokens and neighbours
}

const haveGpt2 = hasVocab("gpt-2");
const haveLlama2c = hasFixture(LLAMA2C_TOKENIZER);
const vocabularies: { name: string; present: boolean; load: () => Promise<Tokenizer> }[] = [
  { name: "cl100k_base", present: true, load: () => loadEncoding("cl100k_base") },
  { name: "GPT-2 (ggml-vocab-gpt-2.gguf)", present: haveGpt2, load: async () => loadVocab("gpt-2") },
  { name: "llama2.c tokenizer.bin", present: haveLlama2c, load: async () => fromLlama2cTokenizer(readFileSync(LLAMA2C_TOKENIZER)) },
];

describe("long runs against the peers, on runs they can finish", () => {
  it.each([...RUNS, ["a two-letter pattern", "ab"], ["a word", "hello"]] as const)("cl100k: 30 KB of %s (gpt-tokenizer), 2 KB (js-tiktoken)", async (_label, unit) => {
    const tok = await loadEncoding("cl100k_base");
    const text = unit.repeat(30_000 / unit.length);
    expect(tok.encode(text)).toEqual(gptTokenizerCl100k(text));
    const short = text.slice(0, 2000);
    expect(tok.encode(short)).toEqual(getEncoding("cl100k_base").encode(short));
  }, 300_000);

  it("cl100k and r50k: random 20 KB pieces of letters, one piece each (gpt-tokenizer)", async () => {
    const rand = mulberry32(9);
    for (const [name, peer] of [["cl100k_base", gptTokenizerCl100k], ["r50k_base", gptTokenizerR50k]] as const) {
      const tok = await loadEncoding(name);
      for (const alphabet of ["acgt", "abcdefghijklmnopqrstuvwxyz", "éàü"]) {
        let text = "";
        for (let i = 0; i < 20_000; i++) text += alphabet[Math.floor(rand() * alphabet.length)];
        expect(tok.encode(text)).toEqual(peer(text));
      }
    }
  }, 300_000);
});

/** `n` random letters a..z (one pre-tokenizer piece under every pattern), from a fixed seed. */
function randomLetters(n: number, seed: number): string {
  const rand = mulberry32(seed);
  const bytes = new Uint8Array(n);
  for (let i = 0; i < n; i++) bytes[i] = 97 + Math.floor(rand() * 26);
  return new TextDecoder().decode(bytes);
}

describe("cl100k: random letters in one piece (the most tokens a run makes, each pair looked up)", () => {
  it.each([1, 5])("%i MB: the windows give the plain loop's ids", async (megabytes) => {
    const tok = await loadEncoding("cl100k_base");
    const text = randomLetters(megabytes * MB, megabytes);
    const ids = tok.encode(text);
    // The plain loop: one heap over the whole piece, pairs found through the concatenation hash
    // (the windows use rank buckets and, from 1 MB, the complete pair table).
    const { tokens, pairs } = mergeTablesOf(tok);
    const plain = mergeByHeap(new TextEncoder().encode(text), tokens, pairs).ids;
    expect(ids.length).toBe(plain.length);
    let firstDifference = -1;
    for (let k = 0; k < ids.length && firstDifference < 0; k++) if (ids[k] !== plain[k]) firstDifference = k;
    expect(firstDifference).toBe(-1);
    expect(ids.length).toBeGreaterThan(megabytes * 500_000); // about 1.85 bytes a token
  }, 600_000);
});

describe("the merge loop variants agree", () => {
  it("scan, heap and rank passes give the same tokens on generated pieces (cl100k, GPT-2 merges)", async () => {
    const toks: BpeTokenizer[] = [await loadEncoding("cl100k_base"), ...(haveGpt2 ? [loadVocab("gpt-2") as BpeTokenizer] : [])];
    const rand = mulberry32(8);
    for (const tok of toks) {
      const { tokens, pairs } = mergeTablesOf(tok);
      for (let k = 0; k < 300; k++) {
        const bytes = new TextEncoder().encode(randomText(rand, 1 + Math.floor(rand() * 80))).subarray(0, 256);
        const scan = mergeByScan(bytes, tokens, pairs);
        expect(Array.from(mergeByHeap(bytes, tokens, pairs).ids)).toEqual(scan);
        expect(Array.from(mergeByRankPasses(bytes, tokens, pairs).ids)).toEqual(scan);
      }
    }
  });
});

describe.each(vocabularies)("$name: 1, 5 and 50 MB runs", ({ name, present, load }) => {
  const skipped = present ? "" : ` (skipped: ${MISSING_FIXTURES})`;

  it.skipIf(!present).each(RUNS)(`1 MB of %s: the windows give the plain loop's ids${skipped}`, async (_label, unit) => {
    const tok = await load();
    const text = unit.repeat(MB);
    const ids = tok.encode(text);
    if (tok instanceof BpeTokenizer) {
      // Runs are one piece, except digits under cl100k's \p{N}{1,3} (then pieces of three).
      const pieceOfThree = name === "cl100k_base" && unit === "7";
      const plain = pieceOfThree ? ids : Array.from(mergeByHeap(new TextEncoder().encode(text), mergeTablesOf(tok).tokens, mergeTablesOf(tok).pairs).ids);
      expect(ids).toEqual(plain);
      if (pieceOfThree) expect(ids).toEqual(Array(Math.floor(MB / 3)).fill(tok.encode("777")[0]).concat(tok.encode("7")));
    } else if (tok instanceof SpmTokenizer) {
      const plain = spmSymbols(tok, tok.spaceSymbol + text.replaceAll(" ", tok.spaceSymbol));
      expect(plain.ids.every((id) => id >= 0)).toBe(true);
      expect(ids).toEqual(plain.ids);
    }
  }, 300_000);

  it.skipIf(!present).each(RUNS)(`5 MB of %s: every token and every two neighbours merge back to themselves${skipped}`, async (_label, unit) => {
    const tok = await load();
    const text = unit.repeat(5 * MB);
    const ids = tok.encode(text);
    if (name === "cl100k_base" && unit === "7") {
      // Not one piece: \p{N}{1,3} cuts the run into threes, each its own token.
      expect(ids).toEqual(Array(Math.floor((5 * MB) / 3)).fill(tok.encode("777")[0]).concat(tok.encode("77")));
      return;
    }
    expectValidMerge(tok, text, ids);
  }, 300_000);

  it.skipIf(!present || name !== "cl100k_base")(`50 MB of a letter: the same certificate${present && name === "cl100k_base" ? "" : " (50 MB for cl100k only: CI time)"}`, async () => {
    const tok = await load();
    const text = "a".repeat(50 * MB);
    const ids = tok.encode(text);
    expect(ids.length).toBe((50 * MB) / 8); // cl100k's longest run token is eight a's
    expectValidMerge(tok, text, ids);
  }, 600_000);
});
