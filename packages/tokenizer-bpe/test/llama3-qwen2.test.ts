import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { BpeTokenizer, GGUF_PRE_TOKENIZERS, parseJsTiktokenRanks, scannerFor } from "../src";
import { MISSING_FIXTURES, readVocabTest } from "./helpers/fixtures";
import { hasVocab, vocabPath } from "./helpers/vocab-files";

/**
 * The "llama-bpe" (Llama 3) and "qwen2" pre-tokenizers against llama.cpp's vectors for them
 * (test/fixtures/llama-cpp-vectors.json, written by scripts/llama-cpp-vectors.mjs; the strings
 * are the shared .inp), with vocabularies constructed for the test, since the real ones are too
 * large to ship:
 *
 * - Llama 3's first 100,256 tokens are cl100k_base's, same ids and ranks;
 * - Qwen 2's first 99,156 are cl100k_base's without its 1,100 tokens of two or more ASCII digits
 *   (Qwen splits digits one by one, so it dropped them), in the same order.
 *
 * Both add tokens after those, which we do not have. Where llama.cpp's ids hold no added token
 * (40 of the 46 strings: the digit, whitespace, contraction and punctuation cases where
 * pre-tokenizers differ), ours must be exactly the same; where they do, the test checks split
 * points: each place our pre-tokenizer cuts the text must be a place where llama.cpp's tokens
 * meet.
 */
const here = path.dirname(fileURLToPath(import.meta.url));
const vectors = (JSON.parse(readFileSync(path.join(here, "fixtures/llama-cpp-vectors.json"), "utf8")) as { vectors: Record<string, number[][]> }).vectors;
const present = hasVocab("gpt-2");

async function cl100kTokens(): Promise<Uint8Array[]> {
  const ranks = ((await import("js-tiktoken/ranks/cl100k_base"))).default;
  return parseJsTiktokenRanks(ranks.bpe_ranks);
}

const isMultiDigit = (t: Uint8Array): boolean => t.length >= 2 && t.every((b) => b >= 0x30 && b <= 0x39);

function constructed(base: readonly Uint8Array[], pre: string): BpeTokenizer {
  const rules = GGUF_PRE_TOKENIZERS[pre];
  // tiktoken-style ranks (rank = id): both vocabularies were made that way, so the order matches their merges.
  return new BpeTokenizer({ tokens: base, pattern: rules.patterns, ignoreMerges: rules.ignoreMerges });
}

/** Byte offsets where our pre-tokenizer cuts the text. */
function pieceBoundaries(text: string, patterns: readonly string[]): number[] {
  const scan = scannerFor(patterns[0]);
  expect(patterns).toHaveLength(1);
  const cuts: number[] = [];
  for (let i = 0; i < text.length; ) {
    i = scan(text, i);
    cuts.push(new TextEncoder().encode(text.slice(0, i)).length);
  }
  return cuts;
}

/**
 * Byte offsets between llama.cpp's tokens. Runs of tokens we have no bytes for are placed before
 * the next known tokens (the first place their bytes occur); inside a run of two or more unknown
 * tokens the cuts are not known, and `checkable` says so.
 */
function tokenBoundaries(text: string, ids: number[], bytesOf: (id: number) => Uint8Array | undefined): { boundaries: Set<number>; checkable: (cut: number) => boolean } {
  const bytes = Buffer.from(text, "utf8");
  const boundaries = new Set<number>([0]);
  const blind: [number, number][] = [];
  let pos = 0;
  for (let k = 0; k < ids.length; ) {
    const b = bytesOf(ids[k]);
    if (b !== undefined) {
      pos += b.length;
      boundaries.add(pos);
      k++;
      continue;
    }
    let run = k;
    while (run < ids.length && bytesOf(ids[run]) === undefined) run++;
    const next: Buffer[] = [];
    for (let j = run; j < ids.length && bytesOf(ids[j]) !== undefined; j++) next.push(Buffer.from(bytesOf(ids[j])!));
    const end = next.length === 0 ? bytes.length : bytes.indexOf(Buffer.concat(next), pos + 1);
    if (run - k > 1) blind.push([pos, end]);
    pos = end;
    boundaries.add(pos);
    k = run;
  }
  return { boundaries, checkable: (cut) => !blind.some(([a, b]) => cut > a && cut < b) };
}

describe.skipIf(!present)(`llama.cpp's vectors for vocabularies too large to ship${present ? "" : ` (skipped: ${MISSING_FIXTURES})`}`, () => {
  const strings = present ? readVocabTest(vocabPath("gpt-2")).map((c) => c.text) : [];

  it.each([
    ["llama-bpe", (t: Uint8Array[]) => t],
    ["qwen2", (t: Uint8Array[]) => t.filter((b) => !isMultiDigit(b))],
  ] as const)("%s, with a constructed vocabulary: llama.cpp's ids where they hold no added token, its split points elsewhere", async (pre, baseOf) => {
    const expected = vectors[pre];
    expect(expected.length).toBe(strings.length);
    const cases = strings.map((text, k) => ({ text, ids: expected[k] }));
    const base = baseOf(await cl100kTokens());
    const tok = constructed(base, pre);
    let exact = 0;
    for (const { text, ids } of cases) {
      if (ids.every((id) => id < base.length)) {
        expect({ text, ids: tok.encode(text) }).toEqual({ text, ids });
        exact++;
      } else {
        // Added tokens: their own merges are unknown here, so check the split points only.
        const known = tokenBoundaries(text, ids, (id) => (id < base.length ? base[id] : undefined));
        for (const cut of pieceBoundaries(text, GGUF_PRE_TOKENIZERS[pre].patterns)) if (known.checkable(cut)) expect({ text, cut, isTokenBoundary: known.boundaries.has(cut) }).toEqual({ text, cut, isTokenBoundary: true });
      }
    }
    expect(exact).toBeGreaterThanOrEqual(40);
    expect(tok.patterns).toEqual(GGUF_PRE_TOKENIZERS[pre].patterns);
  }, 300_000);

  it("the two differ where their rules differ: digits, three at a time or one at a time", async () => {
    const tokens = await cl100kTokens();
    const llama3 = new BpeTokenizer({ tokens, pattern: GGUF_PRE_TOKENIZERS["llama-bpe"].patterns, ignoreMerges: true });
    const qwen2 = new BpeTokenizer({ tokens, pattern: GGUF_PRE_TOKENIZERS["qwen2"].patterns, ignoreMerges: false });
    expect(llama3.encode("1234567").map((id) => llama3.decode([id]))).toEqual(["123", "456", "7"]);
    expect(qwen2.encode("1234567").map((id) => qwen2.decode([id]))).toEqual(["1", "2", "3", "4", "5", "6", "7"]);
  });
});
