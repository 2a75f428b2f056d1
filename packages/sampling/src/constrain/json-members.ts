/** Object members as JSON Schema asks for them, and names for extra members. */
import { normalizeRanges, subtractRanges } from "./charset";
import { EMPTY, NOTHING, alt, chars, literal, optional, seq, star, type Expr } from "./grammar";

/** A member: required once, optional at most once, or "any" number of times (extra properties). */
export type Slot = { readonly expr: Expr; readonly kind: "one" | "optional" | "any" };

/** Characters of extra property names: no escapes, so a name cannot spell a declared one differently. */
const PLAIN_KEY_CHAR = subtractRanges([0x20, 0x10ffff], [0x22, 0x22, 0x5c, 0x5c]);

/**
 * `open ws (members ws)? close`, members in slot order separated by commas: required slots
 * once, optional ones at most once, "any" ones any number of times.
 */
export function members(open: string, close: string, slots: readonly Slot[], ws: Expr, sep: Expr): Expr {
  const tail = (i: number): Expr => seq(...slots.slice(i).map((s) => {
    const item = seq(sep, s.expr);
    return s.kind === "one" ? item : s.kind === "optional" ? optional(item) : star(item);
  }));
  const firsts: Expr[] = [];
  let nullable = true;
  for (let k = 0; k < slots.length; k++) {
    const s = slots[k];
    firsts.push(seq(s.expr, s.kind === "any" ? star(seq(sep, s.expr)) : EMPTY, tail(k + 1)));
    if (s.kind === "one") {
      nullable = false;
      break;
    }
  }
  const some = firsts.length === 0 ? NOTHING : seq(alt(...firsts), ws);
  return seq(literal(open), ws, firsts.length === 0 ? EMPTY : nullable ? optional(some) : some, literal(close));
}

/**
 * A JSON key (quotes included) that is none of `names`: walk the names' trie; at each node either
 * stop (unless a name ends there), follow a child, or leave the trie with any other character.
 */
export function keyNotIn(names: readonly string[]): Expr {
  interface Node { end: boolean; children: Map<number, Node> }
  const rootNode: Node = { end: false, children: new Map() };
  for (const name of names) {
    let node = rootNode;
    for (const ch of name) {
      const cp = ch.codePointAt(0) ?? 0;
      let child = node.children.get(cp);
      if (child === undefined) {
        child = { end: false, children: new Map() };
        node.children.set(cp, child);
      }
      node = child;
    }
    node.end = true;
  }
  const anyRest = star(chars(PLAIN_KEY_CHAR));
  const walk = (node: Node): Expr => {
    const options: Expr[] = [];
    if (!node.end) options.push(EMPTY);
    const taken: number[] = [];
    for (const [cp, child] of node.children) {
      taken.push(cp, cp);
      // a name may contain characters that need escaping: such a child cannot be spelled plainly anyway
      if (cp >= 0x20 && cp !== 0x22 && cp !== 0x5c) options.push(seq(literal(String.fromCodePoint(cp)), walk(child)));
    }
    options.push(seq(chars(subtractRanges(PLAIN_KEY_CHAR, normalizeRanges(taken))), anyRest));
    return alt(...options);
  };
  return seq(literal('"'), walk(rootNode), literal('"'));
}
