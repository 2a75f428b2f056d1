import { ANY_CHAR, MAX_CODE_POINT, type CodePointRanges } from "./charset";

/**
 * The one intermediate form every constraint compiles through: a context-free grammar over
 * Unicode code points, as llama.cpp's GBNF describes it. GBNF text parses into it, JSON Schema,
 * regular expressions and choice lists are translated into it, and `formatGbnf` prints it back.
 */
export type Expr =
  /** The empty string. */
  | { readonly kind: "empty" }
  /** One code point from a set (`[a-z]`, `[^"\\]`, `.`). An empty set matches nothing. */
  | { readonly kind: "chars"; readonly ranges: CodePointRanges }
  /** Exactly this text. */
  | { readonly kind: "literal"; readonly text: string }
  | { readonly kind: "seq"; readonly items: readonly Expr[] }
  /** One of the alternatives; with none it matches nothing. */
  | { readonly kind: "alt"; readonly items: readonly Expr[] }
  /** `item` repeated min..max times (max may be Infinity). */
  | { readonly kind: "repeat"; readonly item: Expr; readonly min: number; readonly max: number }
  /** Another rule of the grammar, by name. */
  | { readonly kind: "ref"; readonly name: string }
  /**
   * Strings matched by every item (a pattern that must also respect a length, say). Items must
   * be regular: no references to recursive rules. Not expressible in GBNF: `formatGbnf` spells
   * it out as rules of the intersection's automaton.
   */
  | { readonly kind: "intersect"; readonly items: readonly Expr[] };

/** Named rules; `root` is where matching starts. Names follow GBNF: letters, digits and `-`. */
export interface Grammar {
  readonly rules: ReadonlyMap<string, Expr>;
  readonly root: string;
}

export const EMPTY: Expr = { kind: "empty" };
/** Matches nothing: the grammar of an unsatisfiable constraint. */
export const NOTHING: Expr = { kind: "alt", items: [] };

export function literal(text: string): Expr {
  return text === "" ? EMPTY : { kind: "literal", text };
}

export function chars(ranges: CodePointRanges): Expr {
  return { kind: "chars", ranges };
}

export const anyChar: Expr = chars(ANY_CHAR);

export function ref(name: string): Expr {
  return { kind: "ref", name };
}

/** A sequence, flattening nested sequences and dropping empties. */
export function seq(...items: Expr[]): Expr {
  const flat: Expr[] = [];
  for (const item of items) {
    if (item.kind === "empty") continue;
    if (item.kind === "seq") flat.push(...item.items);
    else flat.push(item);
  }
  if (flat.some((e) => e.kind === "alt" && e.items.length === 0)) return NOTHING;
  return flat.length === 0 ? EMPTY : flat.length === 1 ? flat[0] : { kind: "seq", items: flat };
}

/** Alternatives, flattening nested alternatives. */
export function alt(...items: Expr[]): Expr {
  const flat: Expr[] = [];
  for (const item of items) {
    if (item.kind === "alt") flat.push(...item.items);
    else flat.push(item);
  }
  return flat.length === 1 ? flat[0] : { kind: "alt", items: flat };
}

/** Strings matched by all of the items. */
export function intersect(...items: Expr[]): Expr {
  return items.length === 1 ? items[0] : { kind: "intersect", items };
}

export function repeat(item: Expr, min: number, max: number): Expr {
  if (max === 0) return EMPTY;
  if (min === 1 && max === 1) return item;
  return { kind: "repeat", item, min, max };
}

export const optional = (item: Expr): Expr => repeat(item, 0, 1);
export const star = (item: Expr): Expr => repeat(item, 0, Infinity);
export const plus = (item: Expr): Expr => repeat(item, 1, Infinity);

/** `item (separator item)*` with min..max items; llama.cpp's `build_repetition` shape. */
export function separated(item: Expr, separator: Expr, min: number, max: number): Expr {
  if (max === 0) return EMPTY;
  const rest = repeat(seq(separator, item), Math.max(0, min - 1), max - 1);
  const some = seq(item, rest);
  return min === 0 ? optional(some) : some;
}

// ---------------------------------------------------------------------------------------------
// Printing back to GBNF
// ---------------------------------------------------------------------------------------------

/** The grammar as GBNF text that llama.cpp (and `parseGbnf`) read back to the same language. */
export function formatGbnf(grammar: Grammar): string {
  const lines: string[] = [];
  const names = [...grammar.rules.keys()];
  names.sort((a, b) => (a === grammar.root ? -1 : b === grammar.root ? 1 : a < b ? -1 : a > b ? 1 : 0));
  for (const name of names) lines.push(`${name} ::= ${formatExpr(grammar.rules.get(name) ?? NOTHING, 0)}`);
  return lines.join("\n") + "\n";
}

// precedence: 0 = alternatives allowed, 1 = inside a sequence, 2 = operand of a repetition
function formatExpr(e: Expr, prec: number): string {
  switch (e.kind) {
    case "empty":
      return prec === 0 ? '""' : '""';
    case "chars":
      return formatClass(e.ranges);
    case "literal":
      return `"${[...e.text].map((ch) => escapeChar(ch.codePointAt(0) ?? 0, '"')).join("")}"`;
    case "ref":
      return e.name;
    case "seq": {
      const body = e.items.map((x) => formatExpr(x, 1)).join(" ");
      return prec >= 2 ? `(${body})` : body;
    }
    case "alt": {
      if (e.items.length === 0) return formatClass([]);
      const body = e.items.map((x) => formatExpr(x, 1)).join(" | ");
      return prec >= 1 ? `(${body})` : body;
    }
    case "intersect":
      return `(${e.items.map((x) => formatExpr(x, 0)).join(" & ")})`;
    case "repeat": {
      const inner = formatExpr(e.item, 2);
      const { min, max } = e;
      if (min === 0 && max === 1) return `${inner}?`;
      if (min === 0 && max === Infinity) return `${inner}*`;
      if (min === 1 && max === Infinity) return `${inner}+`;
      if (max === Infinity) return `${inner}{${min},}`;
      return min === max ? `${inner}{${min}}` : `${inner}{${min},${max}}`;
    }
  }
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
  if (cp >= 0x80 && cp <= 0x9f) return `\\u${hex(cp, 4)}`;
  return String.fromCodePoint(cp);
}

function hex(n: number, width: number): string {
  return n.toString(16).toUpperCase().padStart(width, "0");
}

/**
 * Rules that can match at least one string (a fixpoint over the rules). Intersections count as
 * productive: whoever builds one checks it is not empty.
 */
export function productiveRules(rules: ReadonlyMap<string, Expr>): Set<string> {
  const productive = new Set<string>();
  const check = (e: Expr): boolean => {
    switch (e.kind) {
      case "empty": case "literal": case "intersect": return true;
      case "chars": return e.ranges.length > 0;
      case "seq": return e.items.every(check);
      case "alt": return e.items.some(check);
      case "repeat": return e.min === 0 || check(e.item);
      case "ref": return productive.has(e.name);
    }
  };
  for (let changed = true; changed;) {
    changed = false;
    for (const [name, body] of rules) {
      if (!productive.has(name) && check(body)) {
        productive.add(name);
        changed = true;
      }
    }
  }
  return productive;
}

/** Whether an expression matches nothing, judged locally (references are assumed productive). */
export function isNothing(e: Expr): boolean {
  return !matchesSomething(e);
}

function matchesSomething(e: Expr): boolean {
  switch (e.kind) {
    case "empty": case "literal": case "intersect": case "ref": return true;
    case "chars": return e.ranges.length > 0;
    case "seq": return e.items.every(matchesSomething);
    case "alt": return e.items.some(matchesSomething);
    case "repeat": return e.min === 0 || matchesSomething(e.item);
  }
}
