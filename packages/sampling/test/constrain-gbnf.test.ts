import { describe, expect, it } from "vitest";
import { Constraint, ConstraintError, parseGbnf } from "../src/constrain";
import { checkWalk, smallVocabulary } from "./helpers/constrain";

const ARITHMETIC = String.raw`
root  ::= (expr "=" ws term "\n")+
expr  ::= term ([-+*/] term)*
term  ::= ident | num | "(" ws expr ")" ws
ident ::= [a-z] [a-z0-9_]* ws
num   ::= [0-9]+ ws
ws    ::= [ \t\n]*
`;

describe("GBNF masks against brute force", () => {
  const cases: [string, string, string[]][] = [
    ["literal and class", `root ::= "a" [0-9]+ "b"`, ["a1", "12", "3b", "b", "a12b"]],
    ["arithmetic (recursion)", ARITHMETIC, ["x", "=", " (", "ab", "12", "+3", ")\n", " = ", "z1"]],
    ["utf-8 classes", `root ::= [ぁ-ゟ]+ ("。" | [^\x00-\x7F]) "!"`, ["ぁあ", "。!", "é", "あ!"]],
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

describe("GBNF errors", () => {
  it("undefined rule", () => {
    expect(() => parseGbnf(`root ::= foo`)).toThrow(ConstraintError);
  });
  it("left recursion", () => {
    const g = parseGbnf(`root ::= expr\nexpr ::= expr "+" "1" | "1"`);
    try {
      new Constraint(g, smallVocabulary([]));
      throw new Error("no error");
    } catch (e) {
      expect((e as ConstraintError).code).toBe("CONSTRAINT_LEFT_RECURSION");
    }
  });
});
