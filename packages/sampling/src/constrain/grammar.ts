import { ANY_CHAR, type CodePointRanges } from "./charset";

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
