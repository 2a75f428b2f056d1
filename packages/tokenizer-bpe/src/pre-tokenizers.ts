import { CL100K_PATTERN, GPT2_PATTERN, LLAMA3_PATTERN, O200K_PATTERN, QWEN2_PATTERN, compilePattern } from "./patterns";
import { cl100kScanner, gpt2Scanner, o200kScanner, qwen2Scanner, regexScanner, type Scanner } from "./scanner";
import {
  classSource, digitTriples, eachOf, inRanges, isLetter, isLineBreak, isNumber, isPunctuation, punctuationOr, runsOf, spacedRunsOf, trailingSpace,
  type CodePointRange,
} from "./split-steps";

/**
 * Pre-tokenizers: the split patterns a byte-level BPE vocabulary applies before merging, as a
 * sequence. The first pattern splits the text; each next one splits every piece the one before
 * made (Hugging Face's `Sequence` of `Split` steps with "Isolated" behaviour; llama.cpp's
 * `regex_exprs`). A single pattern is the tiktoken / GPT-2 case.
 *
 * Patterns are kept in their published (Rust / Oniguruma) syntax, so they can be written back
 * to tokenizer.json and compared by name. Each known pattern runs on a hand-written scanner;
 * any other runs on its compiled RegExp (`scannerFor`).
 */

// Punctuation runs. `\p{P}` misses the ASCII symbols that Hugging Face's Punctuation step counts
// (Rust's is_ascii_punctuation), so the models' rules list them; llama.cpp's "default" omits "`".
export const PUNCTUATION_RUNS = String.raw`[\p{P}\$\+<=>\^~\|]+`;
export const FALCON_PUNCTUATION_RUNS = String.raw`[\p{P}\$\+<=>\^~\|` + "`]+";
/** Hugging Face's Punctuation step, "Isolated": each `\p{P}` or ASCII punctuation character alone ("Contiguous" is FALCON_PUNCTUATION_RUNS). */
export const PUNCTUATION_EACH = String.raw`[\p{P}\$\+<=>\^~\|` + "`]";
export const NUMBER_RUNS = String.raw`\p{N}+`;
export const SINGLE_DIGITS = String.raw`\p{N}`;
export const DIGIT_TRIPLES = "[0-9][0-9][0-9]";
export const LINE_BREAKS = String.raw`[\r\n]`;
export const SPACED_LETTERS = String.raw`\s?\p{L}+`;
export const SPACED_PUNCTUATION = String.raw`\s?\p{P}+`;
export const TRAILING_SPACE = String.raw`\s+$`;

/** deepseek-llm's letters: the cased letters of Latin, Greek, Cyrillic, Armenian, Georgian, Cherokee, … as listed in its tokenizer.json. */
const DEEPSEEK_LETTERS: readonly CodePointRange[] = [
  [0x41, 0x5a], [0x61, 0x7a], [0xb5, 0xb5], [0xc0, 0xd6], [0xd8, 0xf6], [0xf8, 0x1ba], [0x1bc, 0x1bf], [0x1c4, 0x293], [0x295, 0x2af],
  [0x370, 0x373], [0x376, 0x376], [0x377, 0x377], [0x37b, 0x37d], [0x37f, 0x37f], [0x386, 0x386], [0x388, 0x38a], [0x38c, 0x38c],
  [0x38e, 0x3a1], [0x3a3, 0x3f5], [0x3f7, 0x481], [0x48a, 0x52f], [0x531, 0x556], [0x10a0, 0x10c5], [0x13a0, 0x13f5], [0x13f8, 0x13fd],
  [0x1c90, 0x1cba], [0x1cbd, 0x1cbf], [0x1d00, 0x1d2b], [0x1d6b, 0x1d77], [0x1d79, 0x1d9a], [0x1e00, 0x1f15], [0x1f18, 0x1f1d],
  [0x1f20, 0x1f45], [0x1f48, 0x1f4d], [0x1f50, 0x1f57], [0x1f59, 0x1f59], [0x1f5b, 0x1f5b], [0x1f5d, 0x1f5d], [0x1f5f, 0x1f7d],
  [0x1f80, 0x1fb4], [0x1fb6, 0x1fbc], [0x1fbe, 0x1fbe], [0x1fc2, 0x1fc4], [0x1fc6, 0x1fcc], [0x1fd0, 0x1fd3], [0x1fd6, 0x1fdb],
  [0x1fe0, 0x1fec], [0x1ff2, 0x1ff4], [0x1ff6, 0x1ffc], [0x2102, 0x2102], [0x2107, 0x2107], [0x210a, 0x2113], [0x2115, 0x2115],
  [0x2119, 0x211d], [0x2124, 0x2124], [0x2126, 0x2126], [0x2128, 0x2128], [0x212a, 0x212d], [0x212f, 0x2134], [0x2139, 0x2139],
  [0x213c, 0x213f], [0x2145, 0x2149], [0x214e, 0x214e], [0x2183, 0x2183], [0x2184, 0x2184], [0x2c00, 0x2c7b], [0x2c7e, 0x2ce4],
  [0x2ceb, 0x2cee], [0x2cf2, 0x2cf2], [0x2cf3, 0x2cf3], [0xa640, 0xa66d], [0xa680, 0xa69b], [0xa722, 0xa76f], [0xa771, 0xa787],
  [0xa78b, 0xa78e], [0xab70, 0xabbf], [0xfb00, 0xfb06], [0xfb13, 0xfb17], [0xff21, 0xff3a], [0xff41, 0xff5a], [0x10400, 0x1044f],
  [0x104b0, 0x104d3], [0x104d8, 0x104fb], [0x10c80, 0x10cb2], [0x10cc0, 0x10cf2], [0x118a0, 0x118df], [0x1e900, 0x1e943],
];
/** deepseek-llm's punctuation: printable ASCII other than digits, their fullwidth forms, curly quotes, CJK space and stops. */
const DEEPSEEK_PUNCTUATION: readonly CodePointRange[] = [[0x21, 0x2f], [0x3a, 0x7e], [0xff01, 0xff0f], [0xff1a, 0xff5e], [0x2018, 0x201f], [0x3000, 0x3002]];
/** CJK ideographs (to U+9FA5), everything from U+0800 before them, and Hangul syllables, as deepseek lists them. */
const DEEPSEEK_CJK: readonly CodePointRange[] = [[0x4e00, 0x9fa5], [0x800, 0x4e00], [0xac00, 0xd7ff]];

export const DEEPSEEK_SPACED_LETTERS = String.raw`\s?[` + classSource(DEEPSEEK_LETTERS) + "]+";
export const DEEPSEEK_SPACED_PUNCTUATION = String.raw`\s?[` + classSource(DEEPSEEK_PUNCTUATION) + "]+";
export const DEEPSEEK_CJK_RUNS = "[" + classSource(DEEPSEEK_CJK) + "]+";

/** Published pattern -> hand-written scanner. The scanner tests hold each to its RegExp. */
const SCANNERS: ReadonlyMap<string, Scanner> = new Map<string, Scanner>([
  [GPT2_PATTERN, gpt2Scanner],
  [CL100K_PATTERN, cl100kScanner],
  [LLAMA3_PATTERN, cl100kScanner], // the same splits: see patterns.ts
  [QWEN2_PATTERN, qwen2Scanner],
  [O200K_PATTERN, o200kScanner],
  [PUNCTUATION_RUNS, runsOf(punctuationOr("$+<=>^~|"))],
  [FALCON_PUNCTUATION_RUNS, runsOf(punctuationOr("$+<=>^~|`"))],
  [PUNCTUATION_EACH, eachOf(punctuationOr("$+<=>^~|`"))],
  [NUMBER_RUNS, runsOf(isNumber)],
  [SINGLE_DIGITS, eachOf(isNumber)],
  [DIGIT_TRIPLES, digitTriples],
  [LINE_BREAKS, eachOf(isLineBreak)],
  [SPACED_LETTERS, spacedRunsOf(isLetter)],
  [SPACED_PUNCTUATION, spacedRunsOf(isPunctuation)],
  [TRAILING_SPACE, trailingSpace],
  [DEEPSEEK_SPACED_LETTERS, spacedRunsOf(inRanges(DEEPSEEK_LETTERS))],
  [DEEPSEEK_SPACED_PUNCTUATION, spacedRunsOf(inRanges(DEEPSEEK_PUNCTUATION))],
  [DEEPSEEK_CJK_RUNS, runsOf(inRanges(DEEPSEEK_CJK))],
]);

/** The scanner for a published pattern: hand-written when we have one, else its RegExp. */
export function scannerFor(pattern: string): Scanner {
  return SCANNERS.get(pattern) ?? regexScanner(compilePattern(pattern));
}

/** True when `pattern` runs on a hand-written scanner. */
export function hasHandWrittenScanner(pattern: string): boolean {
  return SCANNERS.has(pattern);
}

/** A named rule set: the patterns in order, and whether a whole piece is looked up as one token before merging. */
export interface PreTokenizer {
  readonly patterns: readonly string[];
  readonly ignoreMerges: boolean;
}

const gpt2: PreTokenizer = { patterns: [GPT2_PATTERN], ignoreMerges: false };
const llama3: PreTokenizer = { patterns: [LLAMA3_PATTERN], ignoreMerges: true };
const llama3Merging: PreTokenizer = { patterns: [LLAMA3_PATTERN], ignoreMerges: false };
const qwen2: PreTokenizer = { patterns: [QWEN2_PATTERN], ignoreMerges: false };
const starcoder: PreTokenizer = { patterns: [SINGLE_DIGITS, GPT2_PATTERN], ignoreMerges: false };

/**
 * `tokenizer.ggml.pre` names, with the rules llama.cpp's `llama-vocab.cpp` applies for each (the
 * models' tokenizer.json steps, written as regexes). Names that llama.cpp treats alike share an
 * entry. A gpt2 vocabulary without the key gets "default", as in llama.cpp (which warns that
 * quality may suffer): GPT-NeoX's file is one, and its apostrophes are split off by the
 * punctuation step, unlike Hugging Face's GPT-NeoX tokenizer.
 */
export const GGUF_PRE_TOKENIZERS: Readonly<Record<string, PreTokenizer>> = {
  default: { patterns: [PUNCTUATION_RUNS, GPT2_PATTERN, NUMBER_RUNS, DIGIT_TRIPLES], ignoreMerges: false },
  "gpt-2": gpt2,
  "phi-2": gpt2,
  "roberta-bpe": gpt2,
  mpt: gpt2,
  olmo: gpt2,
  jais: gpt2,
  "llama-bpe": llama3,
  llama3,
  "llama-v3": llama3,
  falcon3: llama3,
  dbrx: llama3Merging,
  "smaug-bpe": llama3Merging,
  "chatglm-bpe": llama3Merging,
  qwen2,
  "deepseek-r1-qwen": qwen2,
  stablelm2: qwen2,
  megrez: qwen2,
  falcon: { patterns: [FALCON_PUNCTUATION_RUNS, GPT2_PATTERN, DIGIT_TRIPLES], ignoreMerges: false },
  "deepseek-llm": {
    patterns: [LINE_BREAKS, DEEPSEEK_SPACED_LETTERS, DEEPSEEK_SPACED_PUNCTUATION, TRAILING_SPACE, DEEPSEEK_CJK_RUNS, NUMBER_RUNS],
    ignoreMerges: false,
  },
  "deepseek-coder": { patterns: [LINE_BREAKS, SPACED_LETTERS, SPACED_PUNCTUATION, DEEPSEEK_CJK_RUNS, SINGLE_DIGITS], ignoreMerges: false },
  starcoder,
  refact: starcoder,
  "command-r": starcoder,
  smollm: starcoder,
  codeshell: starcoder,
  exaone: starcoder,
  "minerva-7b": starcoder,
};

/** The names, for messages and `--help`. */
export const GGUF_PRE_TOKENIZER_NAMES: readonly string[] = Object.keys(GGUF_PRE_TOKENIZERS);

/** llama.cpp's name for a rule set (the first name listed for it), or undefined when it has none. */
export function ggufPreTokenizerName(patterns: readonly string[], ignoreMerges: boolean): string | undefined {
  for (const [name, pre] of Object.entries(GGUF_PRE_TOKENIZERS)) {
    if (pre.ignoreMerges === ignoreMerges && pre.patterns.length === patterns.length && pre.patterns.every((p, k) => p === patterns[k])) return name;
  }
  return undefined;
}
