import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { Constraint, ConstraintError, formatGbnf, jsonSchemaGrammar, parseGbnf, type Grammar } from "../src/constrain";
import { byteVocabulary, checkWalk, fullMatch, sampleText, smallVocabulary } from "./helpers/constrain";

const bytes = byteVocabulary();
const language = (gbnf: string): Constraint => new Constraint(parseGbnf(gbnf), bytes);

const ARITHMETIC = String.raw`
root  ::= (expr "=" ws term "\n")+
expr  ::= term ([-+*/] term)*
term  ::= ident | num | "(" ws expr ")" ws
ident ::= [a-z] [a-z0-9_]* ws
num   ::= [0-9]+ ws
ws    ::= [ \t\n]*
`;

describe("GBNF syntax (llama.cpp's format)", { timeout: 60_000 }, () => {
  const accepts = (gbnf: string, yes: string[], no: string[]): void => {
    const c = language(gbnf);
    for (const s of yes) expect(fullMatch(c, s), `${JSON.stringify(s)} in ${gbnf}`).toBe(true);
    for (const s of no) expect(fullMatch(c, s), `${JSON.stringify(s)} not in ${gbnf}`).toBe(false);
  };
  it("sequences, alternatives, groups", () => {
    accepts(`root ::= "a" ("b" | "cd") "e" | "f"`, ["abe", "acde", "f"], ["ae", "abcde", "af", ""]);
  });
  it("repetition: * + ? {m} {m,} {m,n} {0,n}", () => {
    accepts(`root ::= "a"* "b"+ "c"?`, ["b", "aabbc", "bc"], ["", "ac", "bcc"]);
    accepts(`root ::= "x"{2} "y"{2,} "z"{1,3} "w"{0,1}`, ["xxyyz", "xxyyyzzzw"], ["xyyz", "xxyz", "xxyyzzzz", "xxyyww"]);
    accepts(`root ::= ("ab" | "c"){0,2}`, ["", "ab", "cab", "cc"], ["abcab", "a"]);
  });
  it("character classes: ranges, negation, escapes, any character", () => {
    accepts(String.raw`root ::= [a-cx] [^a-z\n] [\x41-\x43] [\u00e9\U0001F600] [\t\r\n\\\"\[\]] .`, ["aZA\u00e9\\\u00ff", "x5C\u{1F600}\tq"], ["aaAé\\q", "a\nAé\\q", "aZDé\\q", "aZAe\\q"]);
    accepts(`root ::= [-a] [a-]`, ["-a", "a-"], ["b-"]);
    accepts(`root ::= "\\x41\\u00e9\\U0001F600\\t\\"\\\\"`, ["Aé😀\t\"\\"], []);
  });
  it("comments, newlines after |, inside parentheses, CRLF", () => {
    accepts("# a comment\r\nroot ::= ( \"a\" # inline\r\n  | \"b\" ) |\r\n \"c\" # trailing\r\n\r\n", ["a", "b", "c"], ["", "ab"]);
    // like llama.cpp, a rule ends at a newline outside parentheses unless the line ends with "|"
    expect(() => parseGbnf('root ::= "a"\n  | "b"')).toThrow(/expected a rule name/);
  });
  it("rule names with letters, digits and dashes; rules in any order", () => {
    accepts(`root ::= part-1 camelCase\ncamelCase ::= "y"\npart-1 ::= "x"`, ["xy"], ["x"]);
  });
  it("recursion", () => {
    accepts(`root ::= "(" root ")" | ""`, ["", "()", "((()))"], ["(()", ")("]);
    accepts(ARITHMETIC, ["x=1\n", "(a+b)*2 = c\n1=2\n"], ["x=\n", "x=1"]);
  });

  const fails = (gbnf: string, code: string, fragment: string): void => {
    let error: unknown;
    try {
      new Constraint(parseGbnf(gbnf), bytes);
    } catch (e) {
      error = e;
    }
    expect(error, gbnf).toBeInstanceOf(ConstraintError);
    expect((error as ConstraintError).code, gbnf).toBe(code);
    expect((error as ConstraintError).message, gbnf).toContain(fragment);
  };
  it("errors name what is wrong and where", () => {
    fails(`root = "a"`, "CONSTRAINT_GRAMMAR_SYNTAX", 'line 1, column 6: expected "::="');
    fails(`root ::= "a`, "CONSTRAINT_GRAMMAR_SYNTAX", "closing");
    fails(`root ::= "\\q"`, "CONSTRAINT_GRAMMAR_SYNTAX", "unknown escape");
    fails(`root ::= * "a"`, "CONSTRAINT_GRAMMAR_SYNTAX", "expected an item before");
    fails(`root ::= [z-a]`, "CONSTRAINT_GRAMMAR_SYNTAX", "start before its end");
    fails(`root ::= "a"\nroot ::= "b"`, "CONSTRAINT_GRAMMAR_SYNTAX", "defined twice");
    fails(`root ::= "a"{3,2}`, "CONSTRAINT_GRAMMAR_SYNTAX", "min ≤ max");
    fails(`root ::= ("a"`, "CONSTRAINT_GRAMMAR_SYNTAX", 'expected ")"');
    fails(`root ::= missing`, "CONSTRAINT_UNDEFINED_RULE", 'rule "missing"');
    fails(`start ::= "a"`, "CONSTRAINT_UNDEFINED_RULE", 'expected a rule named "root"');
    fails(`root ::= expr\nexpr ::= expr "+" "1" | "1"`, "CONSTRAINT_LEFT_RECURSION", "expr → expr");
    fails(`root ::= x\nx ::= "a" x`, "CONSTRAINT_UNSATISFIABLE", "matches no string");
  });
});

describe("GBNF masks against brute force", { timeout: 60_000 }, () => {
  const cases: [string, string, string[]][] = [
    ["literal and class", `root ::= "a" [0-9]+ "b"`, ["a1", "12", "3b", "b", "a12b"]],
    ["arithmetic (recursion)", ARITHMETIC, ["x", "=", " (", "ab", "12", "+3", ")\n", " = ", "z1"]],
    ["utf-8 classes", `root ::= [ぁ-ゟ]+ ("。" | [^\x00-\x7F]) "!"`, ["ぁあ", "。!", "é", "あ!"]],
    ["ambiguity", `root ::= ("a" | "ab") ("bc" | "c")+ [a-c]*`, ["ab", "bc", "abc", "cc"]],
  ];
  for (const [name, text, pieces] of cases) {
    it(name, () => {
      const grammar = parseGbnf(text);
      const vocab = smallVocabulary(pieces);
      const constraint = new Constraint(grammar, vocab);
      for (let seed = 1; seed <= 8; seed++) checkWalk(grammar, constraint, vocab, seed, 30);
    });
  }
});

/** Same language: strings sampled from each are in the other. */
function expectSameLanguage(a: Grammar, b: Grammar): void {
  const ca = new Constraint(a, bytes), cb = new Constraint(b, bytes);
  for (let seed = 1; seed <= 40; seed++) {
    const s = sampleText(ca, seed, 60, 0.2);
    if (s !== null) expect(fullMatch(cb, s), JSON.stringify(s)).toBe(true);
    const t = sampleText(cb, seed, 60, 0.2);
    if (t !== null) expect(fullMatch(ca, t), JSON.stringify(t)).toBe(true);
  }
}

describe("formatGbnf", { timeout: 60_000 }, () => {
  it("prints a grammar that parses back to the same language", () => {
    for (const text of [ARITHMETIC, String.raw`root ::= [^"\\\x00-\x1F]{2,5} ([-\]] | "\u00e9")? "x"*`]) {
      const g = parseGbnf(text);
      expectSameLanguage(g, parseGbnf(formatGbnf(g)));
    }
  });
});

// llama.cpp's example grammars, read from its source snapshot when present (not copied into the repository)
const LLAMA_CPP = "/work/.mirror/ggerganov+llama.cpp/repo";
function llamaCppGrammars(): Map<string, string> | null {
  try {
    const names = execFileSync("git", ["-C", LLAMA_CPP, "ls-tree", "--name-only", "HEAD", "grammars/"], { encoding: "utf8" }).split("\n").filter((f) => f.endsWith(".gbnf"));
    return new Map(names.map((f) => [f, execFileSync("git", ["-C", LLAMA_CPP, "show", `HEAD:${f}`], { encoding: "utf8" })]));
  } catch {
    return null;
  }
}
const examples = llamaCppGrammars();

describe.skipIf(examples === null)(`llama.cpp's example grammars (${examples === null ? `skipped: no llama.cpp snapshot at ${LLAMA_CPP}` : `${examples.size} files`})`, { timeout: 60_000 }, () => {
  for (const [file, text] of examples ?? []) {
    it(file, () => {
      const grammar = parseGbnf(text);
      const vocab = smallVocabulary(["{", "}", "\"", ", ", "1. ", "e4", "int ", "x = ", "ぁ", "- item\n", "the ", "[\n"]);
      const constraint = new Constraint(grammar, vocab);
      for (let seed = 1; seed <= 3; seed++) checkWalk(grammar, constraint, vocab, seed, 25);
      expectSameLanguage(grammar, parseGbnf(formatGbnf(grammar)));
    });
  }
});

describe("formatGbnf: intersections", { timeout: 60_000 }, () => {
  it("print as right-linear rules with the same language", () => {
    const g = jsonSchemaGrammar({ type: "string", pattern: "^[a-cé😀]+x?$", minLength: 2, maxLength: 4 });
    const text = formatGbnf(g);
    expect(text).toContain("root-and1-0 ::=");
    expectSameLanguage(g, parseGbnf(text));
  });
});
