import { ANY_CHAR, complementRanges, normalizeRanges, unionRanges, type CodePointRanges } from "./charset";
import { ConstraintError } from "./errors";
import { EMPTY, alt, chars, literal, repeat, seq, type Expr } from "./grammar";

/**
 * Regular expressions (ECMAScript syntax, `u` mode: what JSON Schema's `pattern` and
 * JavaScript use) translated into the grammar IR, over code points.
 *
 * Supported: literals and escapes (\n \r \t \f \v \0 \xHH \uHHHH \u{H…} \cX, escaped syntax
 * characters), `.` (any character but a line terminator), classes `[…]` `[^…]` with ranges,
 * \d \D \w \W \s \S, groups `(…)` `(?:…)` `(?<name>…)`, alternation, quantifiers `* + ? {m}
 * {m,} {m,n}` (lazy `?` suffixes accepted: laziness does not change which strings match), and
 * `^` / `$` at the ends of the pattern. Refused with CONSTRAINT_UNSUPPORTED: lookahead and
 * lookbehind, backreferences, word boundaries, Unicode property escapes, anchors elsewhere.
 *
 * `fullMatch` (the default, for `--regex`): the whole output must match. `search`: the pattern
 * may match anywhere inside (JSON Schema's `pattern`), so an unanchored side gets `[\s\S]*`.
 */
export function regexToExpr(pattern: string, options: { mode?: "fullMatch" | "search"; keyword?: string } = {}): Expr {
  const keyword = options.keyword ?? "regex";
  try {
    new RegExp(pattern, "u");
  } catch (e) {
    throw new ConstraintError("CONSTRAINT_REGEX_SYNTAX", `${keyword} ${JSON.stringify(pattern)}: expected an ECMAScript regular expression, found a syntax error (${(e as Error).message})`, { keyword, cause: e });
  }
  const parser = new RegexParser(pattern, keyword);
  const alternatives = parser.parseTop();
  const search = options.mode === "search";
  return alt(...alternatives.map(({ body, start, end }) => seq(search && !start ? ANYTHING : EMPTY, body, search && !end ? ANYTHING : EMPTY)));
}

const ANYTHING = repeat(chars(ANY_CHAR), 0, Infinity);
const LINE_TERMINATORS = normalizeRanges([0x0a, 0x0a, 0x0d, 0x0d, 0x2028, 0x2029]);
const DOT = complementRanges(LINE_TERMINATORS);
const DIGIT = [0x30, 0x39];
const WORD = normalizeRanges([0x30, 0x39, 0x41, 0x5a, 0x5f, 0x5f, 0x61, 0x7a]);
const SPACE = normalizeRanges([
  0x09, 0x0d, 0x20, 0x20, 0xa0, 0xa0, 0x1680, 0x1680, 0x2000, 0x200a, 0x2028, 0x2029, 0x202f, 0x202f, 0x205f, 0x205f, 0x3000, 0x3000, 0xfeff, 0xfeff,
]);
const MAX_COUNT = 100_000;

interface Alternative {
  body: Expr;
  /** Anchored with ^ at its start / $ at its end. */
  start: boolean;
  end: boolean;
}

class RegexParser {
  private pos = 0;
  private depth = 0;

  constructor(private readonly src: string, private readonly keyword: string) {}

  parseTop(): Alternative[] {
    const out: Alternative[] = [];
    for (;;) {
      let start = false, end = false;
      if (this.peek() === "^") {
        this.pos++;
        start = true;
      }
      const body = this.parseSequence(true);
      if (this.peek() === "$") {
        this.pos++;
        end = true;
      }
      out.push({ body, start, end });
      if (this.peek() === "|") {
        this.pos++;
        continue;
      }
      if (this.pos < this.src.length) this.unsupported(this.peek() === "$" || this.peek() === "^" ? "an anchor (^ or $) inside the pattern" : `"${this.peek()}"`);
      return out;
    }
  }

  private parseAlternation(): Expr {
    const options = [this.parseSequence(false)];
    while (this.peek() === "|") {
      this.pos++;
      options.push(this.parseSequence(false));
    }
    return alt(...options);
  }

  private parseSequence(top: boolean): Expr {
    const items: Expr[] = [];
    let text = "";
    const flush = (): void => {
      if (text !== "") items.push(literal(text));
      text = "";
    };
    while (this.pos < this.src.length) {
      const c = this.peek();
      if (c === "|" || c === ")") break;
      if (c === "$" && top) {
        // an anchor is only fine as the last thing of a top-level alternative
        const after = this.src[this.pos + 1];
        if (after === undefined || after === "|") break;
      }
      let atom: Expr | string;
      if (c === "(") atom = this.parseGroup();
      else if (c === "[") atom = chars(this.parseClass());
      else if (c === ".") {
        this.pos++;
        atom = chars(DOT);
      } else if (c === "\\") atom = this.parseEscape();
      else if (c === "^" || c === "$") return this.unsupported("an anchor (^ or $) inside the pattern");
      else {
        const cp = this.src.codePointAt(this.pos) ?? 0;
        this.pos += cp > 0xffff ? 2 : 1;
        atom = String.fromCodePoint(cp);
      }
      const quantified = this.parseQuantifier(typeof atom === "string" ? literal(atom) : atom);
      if (quantified === null) {
        if (typeof atom === "string") text += atom;
        else {
          flush();
          items.push(atom);
        }
      } else {
        flush();
        items.push(quantified);
      }
    }
    flush();
    return seq(...items);
  }

  private parseGroup(): Expr {
    this.pos++; // (
    if (this.src.startsWith("?=", this.pos) || this.src.startsWith("?!", this.pos)) this.unsupported("lookahead (?= / ?!)");
    if (this.src.startsWith("?<=", this.pos) || this.src.startsWith("?<!", this.pos)) this.unsupported("lookbehind (?<= / ?<!)");
    if (this.src.startsWith("?:", this.pos)) this.pos += 2;
    else if (this.src.startsWith("?<", this.pos)) this.pos = this.src.indexOf(">", this.pos) + 1;
    else if (this.peek() === "?") this.unsupported(`group modifier "(${this.src.slice(this.pos, this.pos + 2)}"`);
    if (++this.depth > 500) this.unsupported("groups nested more than 500 deep");
    const inner = this.parseAlternation();
    this.depth--;
    this.pos++; // ) — the syntax was checked by RegExp
    return inner;
  }

  /** Returns the repeated atom, or null when no quantifier follows. */
  private parseQuantifier(atom: Expr): Expr | null {
    const c = this.peek();
    let min: number, max: number;
    if (c === "*") [min, max] = [0, Infinity];
    else if (c === "+") [min, max] = [1, Infinity];
    else if (c === "?") [min, max] = [0, 1];
    else if (c === "{") {
      const m = /^\{(\d+)(,(\d*))?\}/.exec(this.src.slice(this.pos));
      if (m === null) return null;
      min = Number(m[1]);
      max = m[2] === undefined ? min : m[3] === "" ? Infinity : Number(m[3]);
      if (min > MAX_COUNT || (max !== Infinity && max > MAX_COUNT)) {
        throw new ConstraintError("CONSTRAINT_TOO_LARGE", `${this.keyword} ${JSON.stringify(this.src)}: repetition ${m[0]}: expected counts up to ${MAX_COUNT}`, { keyword: this.keyword });
      }
      this.pos += m[0].length - 1;
    } else return null;
    this.pos++;
    if (this.peek() === "?") this.pos++; // lazy: same language
    return repeat(atom, min, max);
  }

  /** An escape outside a class: a character (as a string) or a set. */
  private parseEscape(): Expr | string {
    const set = this.classEscape();
    if (set !== null) return chars(set);
    const e = this.src[this.pos + 1];
    if (e === "b" || e === "B") this.unsupported(`word boundary \\${e}`);
    if (e >= "1" && e <= "9") this.unsupported(`backreference \\${e}`);
    if (e === "k") this.unsupported("named backreference \\k<…>");
    return String.fromCodePoint(this.characterEscape(false));
  }

  /** \d \D \w \W \s \S at pos, consumed; null if the escape is something else. */
  private classEscape(): CodePointRanges | null {
    const e = this.src[this.pos + 1];
    let set: CodePointRanges | null = null;
    switch (e) {
      case "d": set = DIGIT; break;
      case "D": set = complementRanges(DIGIT); break;
      case "w": set = WORD; break;
      case "W": set = complementRanges(WORD); break;
      case "s": set = SPACE; break;
      case "S": set = complementRanges(SPACE); break;
      case "p": case "P": this.unsupported(`Unicode property escape \\${e}{…}`);
    }
    if (set !== null) this.pos += 2;
    return set;
  }

  /** One escaped character at pos (after checking it is not a class escape), consumed. */
  private characterEscape(inClass: boolean): number {
    const e = this.src[this.pos + 1];
    this.pos += 2;
    switch (e) {
      case "n": return 0x0a;
      case "r": return 0x0d;
      case "t": return 0x09;
      case "f": return 0x0c;
      case "v": return 0x0b;
      case "0": return 0;
      case "b": if (inClass) return 0x08; break;
      case "-": return 0x2d;
      case "c": {
        const letter = this.src.charCodeAt(this.pos);
        this.pos++;
        return letter % 32;
      }
      case "x": {
        const v = parseInt(this.src.slice(this.pos, this.pos + 2), 16);
        this.pos += 2;
        return v;
      }
      case "u": {
        if (this.peek() === "{") {
          const close = this.src.indexOf("}", this.pos);
          const v = parseInt(this.src.slice(this.pos + 1, close), 16);
          this.pos = close + 1;
          return this.scalar(v);
        }
        const hi = parseInt(this.src.slice(this.pos, this.pos + 4), 16);
        this.pos += 4;
        if (hi >= 0xd800 && hi <= 0xdbff && this.src.startsWith("\\u", this.pos)) {
          const lo = parseInt(this.src.slice(this.pos + 2, this.pos + 6), 16);
          if (lo >= 0xdc00 && lo <= 0xdfff) {
            this.pos += 6;
            return 0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00);
          }
        }
        return this.scalar(hi);
      }
    }
    // an escaped syntax character (u mode allows only those): itself
    return (e ?? "").codePointAt(0) ?? 0;
  }

  private scalar(cp: number): number {
    if (cp >= 0xd800 && cp <= 0xdfff) this.unsupported("a lone surrogate escape");
    return cp;
  }

  private parseClass(): CodePointRanges {
    this.pos++; // [
    const negated = this.peek() === "^";
    if (negated) this.pos++;
    let set: number[] = [];
    while (this.peek() !== "]") {
      const lo = this.classAtom();
      if (this.peek() === "-" && this.src[this.pos + 1] !== "]" && typeof lo === "number") {
        this.pos++;
        const hi = this.classAtom();
        if (typeof hi !== "number") this.unsupported("a class escape as a range end"); // RegExp already refused this
        set.push(lo, hi);
      } else if (typeof lo === "number") set.push(lo, lo);
      else set = unionRanges(set, lo);
    }
    this.pos++; // ]
    const normal = normalizeRanges(set);
    return negated ? complementRanges(normal) : normal;
  }

  private classAtom(): number | CodePointRanges {
    if (this.peek() === "\\") {
      const set = this.classEscape();
      if (set !== null) return set;
      return this.characterEscape(true);
    }
    const cp = this.src.codePointAt(this.pos) ?? 0;
    this.pos += cp > 0xffff ? 2 : 1;
    return cp;
  }

  private peek(): string {
    return this.src[this.pos] ?? "";
  }

  private unsupported(what: string): never {
    throw new ConstraintError("CONSTRAINT_UNSUPPORTED", `${this.keyword} ${JSON.stringify(this.src)}: ${what} is not supported (constraints compile to finite automata; supported: literals, classes, groups, alternation, quantifiers, ^ and $ at the ends)`, { keyword: this.keyword });
  }
}
