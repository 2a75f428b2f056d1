import { describe, expect, it } from "vitest";
import { Constraint, ConstraintError, compileConstraint, regexToExpr } from "../src/constrain";
import { byteVocabulary, checkWalk, fullMatch, sampleText, smallVocabulary, testRandom } from "./helpers/constrain";

const bytes = byteVocabulary();

/** Random strings over an alphabet, biased short. */
function randomStrings(alphabet: string[], count: number, seed: number, maxLength = 8): string[] {
  const random = testRandom(seed);
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const n = Math.floor(random() * (maxLength + 1));
    let s = "";
    for (let k = 0; k < n; k++) s += alphabet[Math.floor(random() * alphabet.length)];
    out.push(s);
  }
  return out;
}

describe("regex: full-match membership equals JavaScript's RegExp (u mode)", { timeout: 60_000 }, () => {
  const cases: [string, string[]][] = [
    ["[a-c]+x?", ["a", "b", "c", "x", "d"]],
    ["(ab|a)(c|bcd)(d*)", ["a", "b", "c", "d"]],
    ["\\d{2,3}-\\w\\s?\\.", ["1", "2", "-", "a", "_", " ", ".", "\t", "é"]],
    ["[^a-c\\n]{1,2}z", ["a", "d", "\n", "z", "é", "😀"]],
    ["(?:x|y){3}|(?<n>zz)+", ["x", "y", "z"]],
    ["^h.llo$", ["h", "e", "l", "o", "\n", "\u2028", "ü"]],
    ["[\\u00e0-\\u00ff\\u{1F600}]*!", ["à", "ÿ", "😀", "!", "a"]],
    ["a{0}b{1,}c{2,}?", ["a", "b", "c"]],
    ["\\x41\\u0042[\\-\\]]\\cJ", ["A", "B", "-", "]", "\n"]],
    ["", ["a"]],
  ];
  for (const [pattern, alphabet] of cases) {
    it(JSON.stringify(pattern), () => {
      const constraint = compileConstraint({ type: "regex", pattern }, bytes);
      const reference = new RegExp(`^(?:${pattern.replace(/^\^/, "").replace(/\$$/, "")})$`, "u");
      // random strings: accepted exactly when RegExp matches
      for (const s of randomStrings(alphabet, 400, pattern.length + 1)) {
        expect(fullMatch(constraint, s), JSON.stringify(s)).toBe(reference.test(s));
      }
      // strings drawn from the constraint: RegExp matches every one
      let sampled = 0;
      for (let seed = 1; seed <= 60; seed++) {
        const s = sampleText(constraint, seed);
        if (s === null) continue;
        sampled++;
        expect(reference.test(s), JSON.stringify(s)).toBe(true);
      }
      expect(sampled).toBeGreaterThan(20);
    });
  }

  it("search mode (JSON Schema pattern): the pattern may match anywhere", () => {
    const grammar = { rules: new Map([["root", regexToExpr("b+c", { mode: "search" })]]), root: "root" };
    const constraint = new Constraint(grammar, bytes);
    for (const s of randomStrings(["a", "b", "c"], 300, 7)) expect(fullMatch(constraint, s), s).toBe(/b+c/u.test(s));
  });

  it("masks agree with brute force on tokens that split characters", () => {
    const grammar = { rules: new Map([["root", regexToExpr("(é|ü|[😀-😂])+(, [a-z]+)?")]]), root: "root" };
    const vocab = smallVocabulary(["éü", "😀", ", ab", "ü, ", "😁😂"]);
    const constraint = new Constraint(grammar, vocab);
    for (let seed = 1; seed <= 6; seed++) checkWalk(grammar, constraint, vocab, seed, 25);
  });
});

describe("regex errors", { timeout: 60_000 }, () => {
  const error = (pattern: string): ConstraintError => {
    try {
      regexToExpr(pattern);
    } catch (e) {
      if (e instanceof ConstraintError) return e;
      throw e;
    }
    throw new Error(`no error for ${pattern}`);
  };
  it("syntax errors are CONSTRAINT_REGEX_SYNTAX with the engine's message", () => {
    expect(error("(ab").code).toBe("CONSTRAINT_REGEX_SYNTAX");
    expect(error("a{2,1}").code).toBe("CONSTRAINT_REGEX_SYNTAX");
  });
  it("non-regular features are refused by name", () => {
    for (const [pattern, what] of [["a(?=b)", "lookahead"], ["(?<!a)b", "lookbehind"], ["(a)\\1", "backreference"], ["\\bword", "word boundary"], ["\\p{L}", "Unicode property"], ["a^b", "anchor"]]) {
      const e = error(pattern);
      expect(e.code, pattern).toBe("CONSTRAINT_UNSUPPORTED");
      expect(e.message, pattern).toContain(what);
    }
  });
});

/** A random regular expression over a small alphabet, from the supported syntax. */
function randomRegex(random: () => number, depth: number): string {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)];
  const atom = (): string => {
    const r = random();
    if (depth > 0 && r < 0.2) return `(${random() < 0.5 ? "?:" : ""}${randomRegex(random, depth - 1)})`;
    if (r < 0.45) return pick(["a", "b", "é", "\\.", "-", " ", "😀"]);
    if (r < 0.65) return pick(["[ab]", "[^a]", "[a-cé]", "[\\d\\s]", "[^\\w]", "[-a]"]);
    if (r < 0.8) return pick(["\\d", "\\w", "\\s", "\\D", "."]);
    return pick(["\\x61", "\\u00e9", "\\u{1F600}", "\\n"]);
  };
  const quantified = (): string => atom() + (random() < 0.35 ? pick(["*", "+", "?", "{2}", "{1,3}", "{0,2}", "{2,}", "*?", "+?"]) : "");
  const sequence = (): string => Array.from({ length: 1 + Math.floor(random() * 3) }, quantified).join("");
  return Array.from({ length: random() < 0.25 ? 2 : 1 }, sequence).join("|");
}

describe("regex: random patterns against RegExp", { timeout: 120_000 }, () => {
  it("150 random patterns, random and drawn strings", () => {
    const random = testRandom(77);
    const alphabet = ["a", "b", "c", "é", ".", "-", " ", "1", "\n", "😀", "_", "\t"];
    for (let i = 0; i < 150; i++) {
      const pattern = randomRegex(random, 2);
      const constraint = compileConstraint({ type: "regex", pattern }, bytes);
      const reference = new RegExp(`^(?:${pattern})$`, "u");
      for (const s of randomStrings(alphabet, 60, i + 1, 6)) expect(fullMatch(constraint, s), `${pattern} on ${JSON.stringify(s)}`).toBe(reference.test(s));
      for (let seed = 1; seed <= 8; seed++) {
        const s = sampleText(constraint, i * 10 + seed, 30, 0.3);
        if (s !== null) expect(reference.test(s), `${pattern} drew ${JSON.stringify(s)}`).toBe(true);
      }
    }
  });
});
