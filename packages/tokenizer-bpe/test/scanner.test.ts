import { describe, expect, it } from "vitest";
import {
  CL100K_PATTERN, GGUF_PRE_TOKENIZERS, GPT2_PATTERN, LLAMA3_PATTERN, O200K_PATTERN, QWEN2_PATTERN, cl100kScanner, compilePattern, gpt2Scanner, o200kScanner,
  qwen2Scanner, regexScanner, scannerFor, toJsRegExpSource, type Scanner,
} from "../src";
import { hasHandWrittenScanner } from "../src/pre-tokenizers";
import { loadBrownText } from "./helpers/brown";
import { mulberry32, randomText } from "./helpers/fuzz";

/** Each hand-written scanner against the RegExp it replaces: identical pieces. */
function piecesByScanner(scan: Scanner, text: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < text.length; ) {
    const end = scan(text, i);
    out.push(text.slice(i, end));
    i = end;
  }
  return out;
}

function piecesByRegExp(re: RegExp, text: string): string[] {
  return Array.from(text.matchAll(re), (m) => m[0]);
}

describe.each([
  ["gpt2", gpt2Scanner, GPT2_PATTERN],
  ["cl100k", cl100kScanner, CL100K_PATTERN],
  ["cl100k (Llama 3 spelling)", cl100kScanner, LLAMA3_PATTERN],
  ["o200k", o200kScanner, O200K_PATTERN],
  ["qwen2", qwen2Scanner, QWEN2_PATTERN],
] as const)("%s scanner", (_name, scan, pattern) => {
  const re = compilePattern(pattern);
  it("splits generated text exactly like the pattern", () => {
    const rand = mulberry32(42);
    for (let k = 0; k < 2000; k++) {
      const text = randomText(rand, 1 + Math.floor(rand() * 120), { loneSurrogates: k % 3 === 0 });
      expect({ text, pieces: piecesByScanner(scan, text) }).toEqual({ text, pieces: piecesByRegExp(re, text) });
    }
  });
  it("splits the Brown corpus exactly like the pattern", () => {
    const text = loadBrownText().slice(0, 1_000_000);
    expect(piecesByScanner(scan, text)).toEqual(piecesByRegExp(re, text));
  });
});

/**
 * The split steps of the named pre-tokenizers (falcon's punctuation runs, deepseek's classes,
 * single digits, digit triples, trailing space, …), each held to its published pattern's RegExp,
 * with the RegExp's gaps as pieces (a Split step keeps the text between matches).
 */
const STEPS = [...new Set(Object.values(GGUF_PRE_TOKENIZERS).flatMap((p) => p.patterns))];

describe("split steps of the named pre-tokenizers", () => {
  it("every step of every named pre-tokenizer runs on a hand-written scanner", () => {
    for (const pattern of STEPS) expect({ pattern, handWritten: hasHandWrittenScanner(pattern) }).toEqual({ pattern, handWritten: true });
  });

  it.each(STEPS.map((p) => [p.length > 60 ? `${p.slice(0, 57)}...` : p, p]))("%s splits generated text like its RegExp", (_label, pattern) => {
    const scan = scannerFor(pattern);
    const reference = regexScanner(compilePattern(pattern));
    const rand = mulberry32(7);
    for (let k = 0; k < 1500; k++) {
      const text = randomText(rand, 1 + Math.floor(rand() * 100), { loneSurrogates: k % 5 === 0 });
      expect({ text, pieces: piecesByScanner(scan, text) }).toEqual({ text, pieces: piecesByScanner(reference, text) });
    }
  }, 300_000);
});

describe("toJsRegExpSource", () => {
  it("rewrites \\s, possessive quantifiers and (?i:...)", () => {
    expect(toJsRegExpSource(String.raw`'(?i:[sdmt]|ll)|\s++$|[^\s\p{L}]?+x`)).toBe(String.raw`'(?:[sSſdDmMtT]|[lL][lL])|\p{White_Space}+$|[^\p{White_Space}\p{L}]?x`);
  });
});
