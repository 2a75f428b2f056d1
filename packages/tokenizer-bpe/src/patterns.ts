import { TokenizerError } from "./errors";

/**
 * Pre-tokenizer split patterns. The `source` strings are the patterns as published (Rust
 * fancy-regex / Oniguruma syntax); `toJsRegExp` rewrites them into JavaScript RegExp syntax with
 * identical matches:
 *
 * - `\s` / `\S` become `\p{White_Space}` / `\P{White_Space}`: Rust's `\s` is Unicode White_Space,
 *   which includes U+0085 and excludes U+FEFF, while JavaScript's `\s` does the opposite.
 * - Possessive quantifiers (`?+`, `++`, `*+`, `{n,m}+`) become greedy ones. In the published
 *   patterns a possessive quantifier is always followed by something its class cannot match, so
 *   backtracking into it never finds another match; the parity tests check this on real text.
 * - `(?i:...)` around literal text becomes character classes; `s` also matches U+017F (ſ) and `k`
 *   U+212A (Kelvin sign), as Unicode simple case folding requires.
 */

export const GPT2_PATTERN = String.raw`'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`;

export const CL100K_PATTERN = String.raw`'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]++[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+`;

export const O200K_PATTERN = [
  String.raw`[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?`,
  String.raw`[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?`,
  String.raw`\p{N}{1,3}`,
  String.raw` ?[^\s\p{L}\p{N}]+[\r\n/]*`,
  String.raw`\s*[\r\n]+`,
  String.raw`\s+(?!\S)`,
  String.raw`\s+`,
].join("|");

/** Llama 3 (tokenizer.ggml.pre = "llama-bpe" / "llama3"): cl100k with case-insensitive contractions first. */
export const LLAMA3_PATTERN = String.raw`(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`;

/** Qwen 2 / StableLM 2: like Llama 3 but single digits. */
export const QWEN2_PATTERN = String.raw`(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`;

/** Names accepted wherever a pattern is asked for. */
export const BUILTIN_PATTERNS = {
  gpt2: GPT2_PATTERN,
  cl100k: CL100K_PATTERN,
  o200k: O200K_PATTERN,
  llama3: LLAMA3_PATTERN,
  qwen2: QWEN2_PATTERN,
} as const;

export type BuiltinPatternName = keyof typeof BUILTIN_PATTERNS;

/** Resolves a built-in name or returns the custom source unchanged. */
export function patternSource(nameOrSource: string): string {
  return (BUILTIN_PATTERNS as Record<string, string>)[nameOrSource] ?? nameOrSource;
}

const CASE_FOLD_EXTRA: Record<string, string> = { s: "\u017f", k: "\u212a" };

/** Rewrites a published pattern into JavaScript syntax (see the module comment). */
export function toJsRegExpSource(source: string): string {
  let out = "";
  let inClass = false;
  // True right after a quantifier (`?`, `+`, `*`, `{n,m}`): a `+` there makes it possessive.
  let afterQuantifier = false;
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (c === "\\") {
      const next = source[i + 1];
      if (next === "s") out += String.raw`\p{White_Space}`;
      else if (next === "S") {
        if (inClass) throw new TokenizerError("TOKENIZER_BAD_PATTERN", String.raw`pattern: \S inside a character class is not supported (found in ${source})`);
        out += String.raw`\P{White_Space}`;
      } else if ((next === "p" || next === "P") && source[i + 2] === "{") {
        const close = source.indexOf("}", i);
        out += source.slice(i, close + 1);
        i = close - 1;
      } else out += c + (next ?? "");
      i++;
      afterQuantifier = false;
      continue;
    }
    if (inClass) {
      if (c === "]") inClass = false;
      out += c;
      continue;
    }
    if (c === "+" && afterQuantifier) {
      afterQuantifier = false; // possessive -> greedy
      continue;
    }
    if (c === "[") {
      inClass = true;
      out += c;
      if (source[i + 1] === "^") {
        out += "^";
        i++;
      }
      if (source[i + 1] === "]") {
        out += "]";
        i++;
      }
      afterQuantifier = false;
      continue;
    }
    if (c === "(" && source.startsWith("(?i:", i)) {
      const close = findGroupEnd(source, i);
      out += "(?:" + caseInsensitiveLiteral(source.slice(i + 4, close)) + ")";
      i = close;
      afterQuantifier = false;
      continue;
    }
    if (c === "{" && /^\{\d+(,\d*)?\}/.test(source.slice(i))) {
      const close = source.indexOf("}", i);
      out += source.slice(i, close + 1);
      i = close;
      afterQuantifier = true;
      continue;
    }
    out += c;
    // `(?` opens a group, and `?` after a quantifier makes it lazy: neither is a quantifier itself.
    const isQuantifier: boolean = (c === "?" || c === "+" || c === "*") && source[i - 1] !== "(" && !afterQuantifier;
    afterQuantifier = isQuantifier;
  }
  return out;
}

function findGroupEnd(source: string, open: number): number {
  let depth = 0;
  for (let i = open; i < source.length; i++) {
    const c = source[i];
    if (c === "\\") i++;
    else if (c === "(") depth++;
    else if (c === ")" && --depth === 0) return i;
  }
  throw new TokenizerError("TOKENIZER_BAD_PATTERN", `pattern: expected ")" closing "(?i:" at ${open}, found end of pattern`);
}

/** `'s|'t` -> `'[sSſ]|'[tT]`, `[sdmt]` -> `[sSſdDmMtT]`. Only literal text and simple classes. */
function caseInsensitiveLiteral(body: string): string {
  let out = "";
  let inClass = false;
  for (const c of body) {
    if (c === "[") inClass = true;
    else if (c === "]") inClass = false;
    const lower = c.toLowerCase();
    const upper = c.toUpperCase();
    if (lower === upper) {
      out += c;
      continue;
    }
    const variants = lower + upper + (CASE_FOLD_EXTRA[lower] ?? "");
    out += inClass ? variants : `[${variants}]`;
  }
  return out;
}

/** A global, unicode RegExp equivalent to the published pattern. */
export function compilePattern(source: string): RegExp {
  try {
    return new RegExp(toJsRegExpSource(source), "gu");
  } catch (err) {
    throw new TokenizerError("TOKENIZER_BAD_PATTERN", `pattern: expected a valid regular expression, found ${JSON.stringify(source)} (${(err as Error).message})`, { cause: err });
  }
}
