import { ANY_CHAR, MAX_CODE_POINT, complementRanges, normalizeRanges } from "./charset";
import { ConstraintError } from "./errors";
import { NOTHING, alt, chars, literal, ref, repeat, seq, type Expr, type Grammar } from "./grammar";

/**
 * GBNF, llama.cpp's grammar format (grammars/README.md there), read into a {@link Grammar}:
 *
 *   rule      ::= name "::=" alternates (newline | end)
 *   alternates::= sequence ("|" sequence)*          newlines may follow "|" and fill parentheses
 *   sequence  ::= (item repetition*)*
 *   item      ::= "literal" | [class] | [^class] | . | name | "(" alternates ")"
 *   repetition::= * | + | ? | {m} | {m,} | {m,n}
 *
 * Names are letters, digits and `-`. Literals and classes take the escapes \xHH, \uHHHH,
 * \UHHHHHHHH, \t, \r, \n, \\, \", \[, \] (and, in classes, \- and \^). `#` starts a comment.
 * Differences from llama.cpp, all refusals of text it would accept silently: a rule defined
 * twice, a range whose start is after its end, and a character outside Unicode are errors.
 */
export function parseGbnf(text: string, options: { root?: string } = {}): Grammar {
  const parser = new GbnfParser(text);
  const rules = parser.parseRules();
  const root = options.root ?? "root";
  if (!rules.has(root)) {
    throw new ConstraintError("CONSTRAINT_UNDEFINED_RULE", `grammar: expected a rule named "${root}" to start from, found ${rules.size === 0 ? "no rules" : `only ${[...rules.keys()].slice(0, 8).join(", ")}`}`, { keyword: root });
  }
  for (const [name, pos] of parser.references) {
    if (!rules.has(name)) {
      throw new ConstraintError("CONSTRAINT_UNDEFINED_RULE", `grammar ${parser.where(pos)}: rule "${name}" is used but never defined`, { keyword: name });
    }
  }
  return { rules, root };
}

const MAX_REPETITION = 100_000;

class GbnfParser {
  private pos = 0;
  /** Every rule reference and where it was first seen, checked once all rules are read. */
  readonly references = new Map<string, number>();

  constructor(private readonly src: string) {}

  parseRules(): Map<string, Expr> {
    const rules = new Map<string, Expr>();
    const definedAt = new Map<string, number>();
    this.skipSpace(true);
    while (this.pos < this.src.length) {
      const start = this.pos;
      const name = this.parseName();
      this.skipSpace(false);
      if (!this.src.startsWith("::=", this.pos)) this.fail(`expected "::=" after rule name "${name}"`);
      this.pos += 3;
      this.skipSpace(true);
      const body = this.parseAlternates(false);
      const previous = definedAt.get(name);
      if (previous !== undefined) this.fail(`rule "${name}" is defined twice (first ${this.where(previous)})`, start);
      definedAt.set(name, start);
      rules.set(name, body);
      const c = this.src[this.pos];
      if (c === "\r") this.pos += this.src[this.pos + 1] === "\n" ? 2 : 1;
      else if (c === "\n") this.pos++;
      else if (c !== undefined) this.fail(`expected a newline or the end after rule "${name}", found ${describe(c)}`);
      this.skipSpace(true);
    }
    return rules;
  }

  private parseAlternates(nested: boolean): Expr {
    const options = [this.parseSequence(nested)];
    while (this.src[this.pos] === "|") {
      this.pos++;
      this.skipSpace(true);
      options.push(this.parseSequence(nested));
    }
    return alt(...options);
  }

  private parseSequence(nested: boolean): Expr {
    const items: Expr[] = [];
    while (this.pos < this.src.length) {
      const c = this.src[this.pos];
      if (c === '"') {
        this.pos++;
        items.push(this.parseLiteral());
      } else if (c === "[") {
        this.pos++;
        items.push(this.parseClass());
      } else if (isWordChar(c)) {
        const at = this.pos;
        const name = this.parseName();
        if (!this.references.has(name)) this.references.set(name, at);
        items.push(ref(name));
      } else if (c === "(") {
        this.pos++;
        this.skipSpace(true);
        const inner = this.parseAlternates(true);
        if (this.src[this.pos] !== ")") this.fail(`expected ")" to close the group, found ${describe(this.src[this.pos])}`);
        this.pos++;
        items.push(inner);
      } else if (c === ".") {
        this.pos++;
        items.push(chars(ANY_CHAR));
      } else if (c === "*" || c === "+" || c === "?" || c === "{") {
        const last = items.pop();
        if (last === undefined) this.fail(`expected an item before "${c}"`);
        this.pos++;
        items.push(this.parseRepetition(c, last, nested));
      } else {
        break;
      }
      this.skipSpace(nested);
    }
    return seq(...items);
  }

  private parseRepetition(op: string, item: Expr, nested: boolean): Expr {
    if (op === "*") return repeat(item, 0, Infinity);
    if (op === "+") return repeat(item, 1, Infinity);
    if (op === "?") return repeat(item, 0, 1);
    this.skipSpace(nested);
    const min = this.parseInt();
    this.skipSpace(nested);
    let max = min;
    if (this.src[this.pos] === ",") {
      this.pos++;
      this.skipSpace(nested);
      max = isDigit(this.src[this.pos]) ? this.parseInt() : Infinity;
      this.skipSpace(nested);
    }
    if (this.src[this.pos] !== "}") this.fail(`expected "}" to close the repetition, found ${describe(this.src[this.pos])}`);
    this.pos++;
    if (max < min) this.fail(`repetition {${min},${max}}: expected min ≤ max`);
    return repeat(item, min, max);
  }

  private parseInt(): number {
    const start = this.pos;
    while (isDigit(this.src[this.pos])) this.pos++;
    if (this.pos === start) this.fail(`expected a number, found ${describe(this.src[this.pos])}`);
    const n = Number(this.src.slice(start, this.pos));
    if (n > MAX_REPETITION) this.fail(`repetition count ${n}: expected at most ${MAX_REPETITION}`, start);
    return n;
  }

  private parseLiteral(): Expr {
    let text = "";
    while (this.src[this.pos] !== '"') {
      if (this.pos >= this.src.length) this.fail("expected a closing '\"', found the end of the grammar");
      text += String.fromCodePoint(this.parseChar(false));
    }
    this.pos++;
    return literal(text);
  }

  private parseClass(): Expr {
    const negated = this.src[this.pos] === "^";
    if (negated) this.pos++;
    const ranges: number[] = [];
    while (this.src[this.pos] !== "]") {
      if (this.pos >= this.src.length) this.fail('expected "]" to close the character class, found the end of the grammar');
      const at = this.pos;
      const lo = this.parseChar(true);
      let hi = lo;
      if (this.src[this.pos] === "-" && this.src[this.pos + 1] !== "]" && this.pos + 1 < this.src.length) {
        this.pos++;
        hi = this.parseChar(true);
        if (hi < lo) this.fail(`character range ${this.src.slice(at, this.pos)}: expected its start before its end`, at);
      }
      ranges.push(lo, hi);
    }
    this.pos++;
    const set = normalizeRanges(ranges);
    return negated ? chars(complementRanges(set)) : set.length === 0 ? NOTHING : chars(set);
  }

  /** One character of a literal or class: an escape or one code point of the text. */
  private parseChar(inClass: boolean): number {
    const at = this.pos;
    const c = this.src[this.pos];
    if (c !== "\\") {
      const cp = this.src.codePointAt(this.pos) ?? 0;
      if (cp >= 0xd800 && cp <= 0xdfff) this.fail("expected valid Unicode text, found a lone surrogate");
      this.pos += cp > 0xffff ? 2 : 1;
      return cp;
    }
    const e = this.src[this.pos + 1];
    this.pos += 2;
    switch (e) {
      case "x": return this.parseHex(2, at);
      case "u": return this.parseHex(4, at);
      case "U": return this.parseHex(8, at);
      case "t": return 0x09;
      case "r": return 0x0d;
      case "n": return 0x0a;
      case "\\": case '"': case "[": case "]":
        return e.charCodeAt(0);
      case "-": case "^":
        if (inClass) return e.charCodeAt(0);
    }
    return this.fail(`unknown escape "\\${e ?? ""}"`, at);
  }

  private parseHex(digits: number, at: number): number {
    const hex = this.src.slice(this.pos, this.pos + digits);
    if (!new RegExp(`^[0-9a-fA-F]{${digits}}$`).test(hex)) this.fail(`expected ${digits} hex digits after "${this.src.slice(at, at + 2)}", found ${JSON.stringify(hex)}`, at);
    this.pos += digits;
    const cp = parseInt(hex, 16);
    if (cp > MAX_CODE_POINT || (cp >= 0xd800 && cp <= 0xdfff)) this.fail(`escape ${this.src.slice(at, this.pos)}: expected a Unicode scalar value (not a surrogate, at most U+10FFFF)`, at);
    return cp;
  }

  private parseName(): string {
    const start = this.pos;
    while (isWordChar(this.src[this.pos])) this.pos++;
    if (this.pos === start) this.fail(`expected a rule name, found ${describe(this.src[this.pos])}`);
    return this.src.slice(start, this.pos);
  }

  private skipSpace(newlines: boolean): void {
    while (this.pos < this.src.length) {
      const c = this.src[this.pos];
      if (c === " " || c === "\t" || (newlines && (c === "\n" || c === "\r"))) this.pos++;
      else if (c === "#") while (this.pos < this.src.length && this.src[this.pos] !== "\n" && this.src[this.pos] !== "\r") this.pos++;
      else break;
    }
  }

  where(pos: number): string {
    let line = 1, col = 1;
    for (let i = 0; i < pos && i < this.src.length; i++) {
      if (this.src[i] === "\n") {
        line++;
        col = 1;
      } else col++;
    }
    return `line ${line}, column ${col}`;
  }

  private fail(message: string, at = this.pos): never {
    throw new ConstraintError("CONSTRAINT_GRAMMAR_SYNTAX", `grammar ${this.where(at)}: ${message}`);
  }
}

function isWordChar(c: string | undefined): boolean {
  return c !== undefined && ((c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || (c >= "0" && c <= "9") || c === "-");
}

function isDigit(c: string | undefined): boolean {
  return c !== undefined && c >= "0" && c <= "9";
}

function describe(c: string | undefined): string {
  return c === undefined ? "the end of the grammar" : JSON.stringify(c);
}
