import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { BpeTokenizer, SpmTokenizer, TokenizerError, WordPieceTokenizer, fromLlama2cTokenizer, type Tokenizer } from "../src";
import { mergeInWindows } from "../src/merge-windows";
import { mergeTablesOf } from "../src/bpe";
import { mergeByHeap, mergeByRankPasses, MergeScratch } from "../src/bpe-merge";
import { LLAMA2C_TOKENIZER, MISSING_FIXTURES, hasFixture } from "./helpers/fixtures";
import { loadEncoding } from "./helpers/encodings";
import { mulberry32, randomText } from "./helpers/fuzz";
import { hasVocab, loadVocab } from "./helpers/vocab-files";

/**
 * `encodeChunks` (issue 12 #3: `zllm tokenize` on 50 MB of one-token-per-byte text held 52 M
 * ids, 2 GB). Two things are held here: the chunks are `encode`'s ids exactly, for every kind of
 * tokenizer and input (special tokens, long pieces, multi-step pre-tokenizers), and the memory is
 * bounded by construction: at every point where the encoder pauses it holds at most a chunk
 * plus a fixed amount, however long the input (a structural check, not a timing).
 */
const MB = 1_000_000;

function concat(chunks: Iterable<Uint32Array>): number[] {
  const ids: number[] = [];
  for (const chunk of chunks) for (const id of chunk) ids.push(id);
  return ids;
}

/** Chunk sizes as promised: each at most `chunkSize`, none empty, all but the last full. */
function expectChunkSizes(chunks: Uint32Array[], chunkSize: number): void {
  chunks.forEach((chunk, k) => {
    expect(chunk.length).toBeGreaterThan(0);
    if (k < chunks.length - 1) expect(chunk.length).toBe(chunkSize);
    else expect(chunk.length).toBeLessThanOrEqual(chunkSize);
  });
}

interface Case {
  name: string;
  present: boolean;
  load: () => Promise<Tokenizer>;
  specials: string[];
}

const cases: Case[] = [
  { name: "cl100k_base", present: true, load: () => loadEncoding("cl100k_base"), specials: ["<|endoftext|>", "<|fim_prefix|>"] },
  { name: "o200k_base", present: true, load: () => loadEncoding("o200k_base"), specials: ["<|endoftext|>"] },
  ...(["gpt-2", "deepseek-llm", "gpt-neox", "falcon", "llama-spm", "bert-bge"] as const).map((name) => ({
    name: `${name} (GGUF)`,
    present: hasVocab(name),
    load: async () => loadVocab(name),
    specials: [] as string[],
  })),
  { name: "llama2.c tokenizer.bin", present: hasFixture(LLAMA2C_TOKENIZER), load: async () => fromLlama2cTokenizer(readFileSync(LLAMA2C_TOKENIZER)), specials: [] },
];

describe.each(cases)("$name: encodeChunks gives encode's ids", ({ name, present, load, specials }) => {
  const skipped = present ? "" : ` (skipped: ${MISSING_FIXTURES})`;

  it.skipIf(!present)(`generated texts, with and without special tokens, chunks of 1, 7, 4096 and the default${skipped}`, async () => {
    const tok = await load();
    const known = specials.length > 0 ? specials : [...tok.specialTokens.keys()].slice(0, 3);
    const rand = mulberry32(31);
    for (let k = 0; k < 40; k++) {
      const text = randomText(rand, 1 + Math.floor(rand() * 600), { specials: known, loneSurrogates: k % 5 === 0 });
      for (const options of [undefined, { allowedSpecial: "all" as const }]) {
        const ids = tok.encode(text, options);
        for (const chunkSize of [1, 7, 4096, undefined]) {
          const chunks = [...tok.encodeChunks(text, { ...options, chunkSize })];
          expectChunkSizes(chunks, chunkSize ?? 65_536);
          expect({ name, k, chunkSize, ids: concat(chunks) }).toEqual({ name, k, chunkSize, ids });
        }
      }
    }
    expect([...tok.encodeChunks("")]).toEqual([]);
  }, 120_000);

  it.skipIf(!present)(`long pieces between special tokens and prose: 200 KB runs of a letter, spaces and random letters${skipped}`, async () => {
    const tok = await load();
    const rand = mulberry32(5);
    let letters = "";
    for (let i = 0; i < 200_000; i++) letters += String.fromCharCode(97 + Math.floor(rand() * 26));
    const special = specials[0] ?? [...tok.specialTokens.keys()][0] ?? "";
    const text = `Some prose first. ${"a".repeat(200_000)}${special}${" ".repeat(200_000)}x${letters} and the end.${"1a".repeat(20_000)}`;
    for (const options of [undefined, { allowedSpecial: "all" as const }]) {
      const ids = tok.encode(text, options);
      const chunks = [...tok.encodeChunks(text, { ...options, chunkSize: 10_000 })];
      expectChunkSizes(chunks, 10_000);
      const got = concat(chunks);
      expect(got.length).toBe(ids.length);
      expect(got.findIndex((id, k) => id !== ids[k])).toBe(-1);
    }
  }, 300_000);
});

describe("encodeChunks: arguments and API", () => {
  it("chunkSize must be a positive integer: TOKENIZER_BAD_ARGUMENT at the call", async () => {
    const tok = await loadEncoding("cl100k_base");
    for (const chunkSize of [0, -1, 1.5, Number.NaN]) {
      expect(() => tok.encodeChunks("hello", { chunkSize })).toThrow(TokenizerError);
      expect(() => tok.encodeChunks("hello", { chunkSize })).toThrow(`chunkSize: expected a positive integer number of ids, found ${chunkSize}`);
    }
  });

  it("chunks are the caller's to keep; another encode while a generator is paused changes neither", async () => {
    const tok = await loadEncoding("cl100k_base");
    const text = "hello <|endoftext|> world ".repeat(2000);
    const ids = tok.encode(text, { allowedSpecial: "all" });
    const kept: Uint32Array[] = [];
    for (const chunk of tok.encodeChunks(text, { allowedSpecial: "all", chunkSize: 100 })) {
      kept.push(chunk);
      // the special-token regex and the merge arrays are shared by the tokenizer's calls
      tok.encode("<|endoftext|> other text", { allowedSpecial: "all" });
    }
    expect(concat(kept)).toEqual(ids);
  });

  it("countTokens counts without the ids (the same number as encode gives)", async () => {
    const tok = await loadEncoding("cl100k_base");
    const text = "1a".repeat(200_000) + " and prose <|endoftext|>";
    expect(tok.countTokens(text)).toBe(tok.encode(text).length);
    expect(tok.countTokens(text, { allowedSpecial: "all" })).toBe(tok.encode(text, { allowedSpecial: "all" }).length);
  });
});

/**
 * Runs an encoder's core (the generator `encodeChunks` drives) with `pauseAt`, emptying its
 * output at every pause as a consumer would, and returns the ids and the most it ever held.
 */
function drive(core: Iterator<void, void, undefined>, out: number[]): { ids: number[]; most: number } {
  const ids: number[] = [];
  let most = 0;
  const take = (): void => {
    most = Math.max(most, out.length);
    for (const id of out) ids.push(id);
    out.length = 0;
  };
  while (core.next().done !== true) take();
  take();
  return { ids, most };
}

describe("bounded memory, by construction: what the encoder holds at each pause", () => {
  const PAUSE = 4096;
  // A pause comes after each piece (BPE: at most one piece's ids on top of PAUSE - 1; a cached
  // piece is at most 256 units, a merged one at most 64 KB), or after each window of a long
  // piece; then, at most the held-back windows (16 of 8 KB) come at once.
  const BOUND = PAUSE + (1 << 16) + 17 * 8192;

  it("BPE (cl100k): 2 MB of `1a` (2 M one-token pieces) and 2 MB of random letters (one piece, 1.1 M tokens)", async () => {
    const tok = await loadEncoding("cl100k_base");
    const rand = mulberry32(77);
    const bytes = new Uint8Array(2 * MB);
    for (let i = 0; i < bytes.length; i++) bytes[i] = 97 + Math.floor(rand() * 26);
    for (const text of ["1a".repeat(MB), new TextDecoder().decode(bytes)]) {
      const out: number[] = [];
      const core = (tok as unknown as { encodeInto: (t: string, o: undefined, out: number[], ends: undefined, pauseAt: number) => Iterator<void, void, undefined> }).encodeInto(text, undefined, out, undefined, PAUSE);
      const { ids, most } = drive(core, out);
      expect(ids.length).toBeGreaterThan(MB);
      expect(most).toBeLessThanOrEqual(BOUND); // all at once would be ids.length
      const plain = tok.encode(text);
      expect(ids.length).toBe(plain.length);
      expect(ids.findIndex((id, k) => id !== plain[k])).toBe(-1);
    }
  }, 300_000);

  it.skipIf(!hasFixture(LLAMA2C_TOKENIZER))(`SentencePiece (llama2.c tokenizer.bin): 1 MB of \`1a\`, one fragment${hasFixture(LLAMA2C_TOKENIZER) ? "" : ` (skipped: ${MISSING_FIXTURES})`}`, () => {
    const tok = fromLlama2cTokenizer(readFileSync(LLAMA2C_TOKENIZER));
    const text = "1a".repeat(MB / 2);
    const out: number[] = [];
    const core = (tok as unknown as { encodeSpans: (t: string, o: undefined, emit: (id: number) => void) => Iterator<void, void, undefined> }).encodeSpans(text, undefined, (id) => out.push(id));
    const { ids, most } = drive(core, out);
    expect(ids.length).toBeGreaterThan(MB / 4);
    expect(most).toBeLessThanOrEqual(BOUND);
    expect(ids).toEqual(tok.encode(text));
  }, 300_000);

  it.skipIf(!hasVocab("bert-bge"))(`WordPiece (bert-bge): 1 MB of words${hasVocab("bert-bge") ? "" : ` (skipped: ${MISSING_FIXTURES})`}`, () => {
    const tok = loadVocab("bert-bge") as WordPieceTokenizer;
    const text = "1a hello, world ".repeat(MB / 16);
    const out: number[] = [];
    const core = (tok as unknown as { encodeSpans: (t: string, o: undefined, emit: (id: number) => void) => Iterator<void, void, undefined> }).encodeSpans(text, undefined, (id) => out.push(id));
    const { ids, most } = drive(core, out);
    expect(ids.length).toBeGreaterThan(200_000);
    expect(most).toBeLessThanOrEqual(256 * 100); // a pause every 256 words, at most 100 pieces a word
    expect(ids).toEqual(tok.encode(text));
  }, 300_000);

  it("mergeInWindows holds a few windows: tokens reach `emit` while the run is merged, not at its end", async () => {
    const tok = await loadEncoding("cl100k_base");
    const { tokens, pairs } = mergeTablesOf(tok);
    const bytes = new TextEncoder().encode("ab ".repeat(MB / 6) + "a".repeat(MB / 4));
    const scratch = new MergeScratch();
    const emitted: number[] = [];
    const atPause: number[] = [];
    const windows = mergeInWindows(bytes.length, (from, to) => mergeByRankPasses(bytes.subarray(from, to), tokens, pairs, scratch), { window: 8192 }, (id) => emitted.push(id));
    let merged = 0;
    for (let step = windows.next(); step.done !== true; step = windows.next()) {
      merged++;
      atPause.push(emitted.length);
    }
    expect(merged).toBeGreaterThan(50); // 583 KB in windows of 8 KB
    // Halfway through the windows, about half of the tokens are out already.
    const half = atPause[Math.floor(atPause.length / 2)];
    expect(half).toBeGreaterThan(emitted.length / 3);
    expect(emitted).toEqual(Array.from(mergeByHeap(bytes, tokens, pairs).ids));
  }, 300_000);

  it("windows small enough to fail their seams still give the plain loop's ids, streamed (spaces, digits, letters; cl100k and GPT-2)", async () => {
    const toks: BpeTokenizer[] = [await loadEncoding("cl100k_base"), ...(hasVocab("gpt-2") ? [loadVocab("gpt-2") as BpeTokenizer] : [])];
    const rand = mulberry32(12);
    for (const tok of toks) {
      const { tokens, pairs } = mergeTablesOf(tok);
      for (const unit of [" ", "7", "a", "ab", "  a"]) {
        for (const window of [16, 64, 256]) {
          const text = unit.repeat(Math.floor(20_000 / unit.length) + Math.floor(rand() * 50));
          const bytes = new TextEncoder().encode(text);
          const emitted: number[] = [];
          const scratch = new MergeScratch();
          const windows = mergeInWindows(bytes.length, (from, to) => mergeByRankPasses(bytes.subarray(from, to), tokens, pairs, scratch), { window }, (id) => emitted.push(id));
          while (windows.next().done !== true);
          expect({ unit, window, ids: emitted }).toEqual({ unit, window, ids: Array.from(mergeByHeap(bytes, tokens, pairs).ids) });
        }
      }
    }
  }, 300_000);
});

describe("a merge that reaches back past the final tokens", () => {
  it("is TOKENIZER_LONG_MERGE, never ids the plain loop would not give", () => {
    // A made-up merge whose every token depends on where the text ends (no vocabulary does
    // this): no window short of the end agrees with the last one, so the steps back run out.
    const n = 1 << 20;
    const encodeSpan = (start: number, end: number): { ids: number[]; lengths: number[] } => {
      const ids = Array<number>(end - start).fill(end === n ? 1 : 0);
      return { ids, lengths: ids.map(() => 1) };
    };
    const emitted: number[] = [];
    const windows = mergeInWindows(n, encodeSpan, { window: 64 }, (id) => emitted.push(id));
    let error: unknown;
    try {
      while (windows.next().done !== true);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(TokenizerError);
    expect((error as TokenizerError).code).toBe("TOKENIZER_LONG_MERGE");
    expect((error as TokenizerError).message).toMatch(/^long piece: expected merges to reach less than 16 windows \(\d+ units\) back, found one that reaches before unit \d+, whose tokens were already final$/);
    expect(emitted.every((id) => id === 0)).toBe(true);
  });
});

describe("types", () => {
  it("every tokenizer class implements encodeChunks", () => {
    for (const cls of [BpeTokenizer, SpmTokenizer, WordPieceTokenizer]) expect(typeof cls.prototype.encodeChunks).toBe("function");
  });
});
