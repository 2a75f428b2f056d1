import { compileGrammar, type Automaton } from "./automaton";
import { MAX_CODE_POINT, normalizeRanges, type CodePointRanges } from "./charset";
import { ConstraintError } from "./errors";
import { NOTHING, type Expr, type Grammar } from "./grammar";

/**
 * The grammar as GBNF text that llama.cpp (and `parseGbnf`) read back to the same language.
 * Rules print as they are; an intersection, which GBNF cannot say, prints as the right-linear
 * rules of its automaton (one rule per state, `s ::= [chars] t | …`), read back character by
 * character from its byte automaton.
 */
export function formatGbnf(grammar: Grammar): string {
  const printer = new GbnfPrinter(grammar);
  const names = [...grammar.rules.keys()];
  names.sort((a, b) => (a === grammar.root ? -1 : b === grammar.root ? 1 : a < b ? -1 : a > b ? 1 : 0));
  const lines: string[] = [];
  for (const name of names) {
    printer.rule = name;
    lines.push(`${name} ::= ${printer.expr(grammar.rules.get(name) ?? NOTHING, 0)}`);
  }
  return [...lines, ...printer.extra].join("\n") + "\n";
}

class GbnfPrinter {
  rule = "";
  readonly extra: string[] = [];
  private intersections = 0;

  constructor(private readonly grammar: Grammar) {}

  // precedence: 0 = alternatives allowed, 1 = inside a sequence, 2 = operand of a repetition
  expr(e: Expr, prec: number): string {
    switch (e.kind) {
      case "empty":
        return '""';
      case "chars":
        return formatClass(e.ranges);
      case "literal":
        return `"${[...e.text].map((ch) => escapeChar(ch.codePointAt(0) ?? 0, '"')).join("")}"`;
      case "ref":
        return e.name;
      case "seq": {
        const body = e.items.map((x) => this.expr(x, 1)).join(" ");
        return prec >= 2 ? `(${body})` : body;
      }
      case "alt": {
        if (e.items.length === 0) return formatClass([]);
        const body = e.items.map((x) => this.expr(x, 1)).join(" | ");
        return prec >= 1 ? `(${body})` : body;
      }
      case "repeat": {
        const inner = this.expr(e.item, 2);
        const { min, max } = e;
        if (min === 0 && max === 1) return `${inner}?`;
        if (min === 0 && max === Infinity) return `${inner}*`;
        if (min === 1 && max === Infinity) return `${inner}+`;
        if (max === Infinity) return `${inner}{${min},}`;
        return min === max ? `${inner}{${min}}` : `${inner}{${min},${max}}`;
      }
      case "intersect":
        return this.intersection(e);
    }
  }

  private intersection(e: Expr): string {
    const name = `${this.rule}-and${++this.intersections}`;
    const key = "\u0000intersection";
    const automaton = compileGrammar({ rules: new Map([...this.grammar.rules, [key, e]]), root: key });
    if (automaton.callRule.some((_, j) => automaton.ruleOf[automaton.callReturn[j]] === 0)) {
      throw new ConstraintError("CONSTRAINT_UNSUPPORTED", `formatGbnf: the intersection in rule "${this.rule}" uses a recursive or large rule and cannot be written out`, { keyword: this.rule });
    }
    const states = boundaryRules(automaton);
    const ruleName = (s: number): string => `${name}-${states.get(s)?.index ?? 0}`;
    for (const [s, { index, edges }] of states) {
      const options = edges.map(({ ranges, target }) => `${formatClass(ranges)} ${ruleName(target)}`);
      if (automaton.accepting[s]) options.push('""');
      this.extra.push(`${name}-${index} ::= ${options.length === 0 ? formatClass([]) : options.join(" | ")}`);
    }
    return ruleName(automaton.ruleStart[0]);
  }
}

/**
 * From the start state, the states reached after whole UTF-8 characters, each with its outgoing
 * characters grouped by target: the byte automaton read back as a character automaton.
 */
function boundaryRules(a: Automaton): Map<number, { index: number; edges: { ranges: CodePointRanges; target: number }[] }> {
  const { nClasses, next, classOf } = a;
  const step = (s: number, b: number): number => next[s * nClasses + classOf[b]];
  // byte ranges of the classes within 0x80..0xBF (a class never straddles 0x80 or 0xC0 when used)
  const continuationClasses: [number, number][] = [];
  for (let b = 0x80; b <= 0xbf;) {
    let e = b;
    while (e + 1 <= 0xbf && classOf[e + 1] === classOf[b]) e++;
    continuationClasses.push([b, e]);
    b = e + 1;
  }
  const out = new Map<number, { index: number; edges: { ranges: CodePointRanges; target: number }[] }>();
  const todo = [a.ruleStart[0]];
  out.set(todo[0], { index: 0, edges: [] });
  while (todo.length > 0) {
    const s = todo.pop() ?? 0;
    const byTarget = new Map<number, number[]>();
    const add = (lo: number, hi: number, t: number): void => {
      const list = byTarget.get(t);
      if (list === undefined) byTarget.set(t, [lo, hi]);
      else list.push(lo, hi);
    };
    // walk every UTF-8 sequence: lead byte, then continuation bytes (0x80..0xBF); the last one
    // by byte class (a range of code points per class), the others byte by byte
    const walk = (state: number, value: number, remaining: number): void => {
      if (remaining === 1) {
        for (const [lo, hi] of continuationClasses) {
          const t = step(state, lo);
          if (t >= 0) add((value << 6) | (lo & 0x3f), (value << 6) | (hi & 0x3f), t);
        }
        return;
      }
      for (let b = 0x80; b <= 0xbf; b++) {
        const t = step(state, b);
        if (t >= 0) walk(t, (value << 6) | (b & 0x3f), remaining - 1);
      }
    };
    for (let b = 0; b < 0xf5; b++) {
      const t = step(s, b);
      if (t < 0) continue;
      if (b < 0x80) add(b, b, t);
      else if (b >= 0xc2 && b < 0xe0) walk(t, b & 0x1f, 1);
      else if (b >= 0xe0 && b < 0xf0) walk(t, b & 0x0f, 2);
      else if (b >= 0xf0) walk(t, b & 0x07, 3);
    }
    const edges: { ranges: CodePointRanges; target: number }[] = [];
    for (const [t, ranges] of byTarget) {
      edges.push({ ranges: normalizeRanges(ranges), target: t });
      if (!out.has(t)) {
        out.set(t, { index: out.size, edges: [] });
        todo.push(t);
      }
    }
    const entry = out.get(s);
    if (entry !== undefined) entry.edges = edges;
  }
  return out;
}

function formatClass(ranges: CodePointRanges): string {
  if (ranges.length === 0) return `[^\\x00-\\U${hex(MAX_CODE_POINT, 8)}]`;
  let body = "";
  for (let i = 0; i < ranges.length; i += 2) {
    const lo = ranges[i], hi = ranges[i + 1];
    body += escapeChar(lo, "]");
    if (hi > lo) body += (hi > lo + 1 ? "-" : "") + escapeChar(hi, "]");
  }
  return `[${body}]`;
}

function escapeChar(cp: number, quote: '"' | "]"): string {
  switch (cp) {
    case 0x0a: return "\\n";
    case 0x0d: return "\\r";
    case 0x09: return "\\t";
    case 0x5c: return "\\\\";
  }
  if (quote === '"' && cp === 0x22) return '\\"';
  if (quote === "]" && (cp === 0x5d || cp === 0x5b || cp === 0x2d || cp === 0x5e)) return `\\x${hex(cp, 2)}`;
  if (cp < 0x20 || cp === 0x7f) return `\\x${hex(cp, 2)}`;
  // controls, the edges of the surrogate gap, private use and astral characters: escaped, to stay readable
  if ((cp >= 0x80 && cp <= 0x9f) || (cp >= 0xd7ff && cp <= 0xf8ff) || cp > 0xffff) return cp > 0xffff ? `\\U${hex(cp, 8)}` : `\\u${hex(cp, 4)}`;
  return String.fromCodePoint(cp);
}

function hex(n: number, width: number): string {
  return n.toString(16).toUpperCase().padStart(width, "0");
}
