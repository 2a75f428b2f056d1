import type { Expr, Grammar } from "../../src/constrain/grammar";
import { intersectRanges, normalizeRanges } from "../../src/constrain/charset";

/**
 * An independent, slow recogniser for the grammar IR, used to check masks by brute force. It
 * shares nothing with the compiler: no NFA, no DFA, no byte classes, no UTF-8 range splitting.
 * It interprets expressions directly over code points, llama.cpp-style: a set of stacks of
 * pending expressions, each expanded until its head reads a character. Bytes are decoded to code
 * points as they come; an incomplete UTF-8 character at the end is viable when some code point
 * it could become is readable.
 *
 * Only for productive grammars (every rule can finish): then a non-empty stack set means the
 * input is a prefix of some sentence.
 */
interface Frame {
  readonly expr: Expr;
  /** For literals: code points already read. For repeats: copies already matched. */
  readonly done: number;
  readonly next: Frame | null;
  /** For intersections: the stack set of each item, run side by side. */
  readonly parts?: readonly (readonly (Frame | null)[])[];
}

export class ReferenceMatcher {
  private readonly ids = new Map<Expr, number>();
  private readonly setIds = new Map<string, number>();

  constructor(private readonly grammar: Grammar) {}

  start(): ReferenceState {
    const root = this.grammar.rules.get(this.grammar.root);
    if (root === undefined) throw new Error("no root");
    return { stacks: this.expand([{ expr: root, done: 0, next: null }]), pending: [] };
  }

  /** Reads the bytes; null when the input can no longer be a prefix of a sentence. */
  feed(state: ReferenceState, bytes: ArrayLike<number>): ReferenceState | null {
    let stacks = state.stacks;
    const pending = [...state.pending];
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i];
      if (pending.length === 0) {
        if (b < 0x80) {
          stacks = this.readChar(stacks, b);
        } else if (b >= 0xc2 && b <= 0xf4) {
          pending.push(b);
        } else return null;
      } else {
        if ((b & 0xc0) !== 0x80) return null;
        pending.push(b);
        const need = pending[0] >= 0xf0 ? 4 : pending[0] >= 0xe0 ? 3 : 2;
        if (pending.length === need) {
          const cp = decode(pending);
          if (cp === null) return null;
          pending.length = 0;
          stacks = this.readChar(stacks, cp);
        } else if (possibleCodePoints(pending) === null) return null;
      }
      if (stacks.length === 0) return null;
    }
    if (pending.length > 0) {
      const range = possibleCodePoints(pending);
      if (range === null) return null;
      if (!stacks.some((s) => s !== null && this.headAccepts(s, range[0], range[1]))) return null;
    }
    return { stacks, pending };
  }

  /** The input read so far is a whole sentence. */
  complete(state: ReferenceState): boolean {
    return state.pending.length === 0 && state.stacks.some((s) => s === null);
  }

  private readChar(stacks: readonly (Frame | null)[], cp: number): (Frame | null)[] {
    const out: (Frame | null)[] = [];
    for (const s of stacks) {
      if (s === null) continue;
      const e = s.expr;
      if (e.kind === "chars") {
        if (inRanges(e.ranges, cp, cp)) out.push(s.next);
      } else if (e.kind === "literal") {
        const cps = [...e.text].map((c) => c.codePointAt(0) ?? -1);
        if (cps[s.done] === cp) out.push(s.done + 1 === cps.length ? s.next : { expr: e, done: s.done + 1, next: s.next });
      } else if (e.kind === "intersect" && s.parts !== undefined) {
        const parts = s.parts.map((p) => this.readChar(p, cp));
        if (parts.every((p) => p.length > 0)) out.push({ expr: e, done: 0, next: s.next, parts });
      }
    }
    return this.expand(out);
  }

  /** The code points the head of a stack can read. */
  private headSet(s: Frame): number[] {
    const e = s.expr;
    if (e.kind === "chars") return [...e.ranges];
    if (e.kind === "literal") {
      const cp = [...e.text].map((c) => c.codePointAt(0) ?? -1)[s.done];
      return [cp, cp];
    }
    if (e.kind === "intersect" && s.parts !== undefined) {
      let set: number[] | null = null;
      for (const part of s.parts) {
        const mine = normalizeRanges(part.flatMap((f) => (f === null ? [] : this.headSet(f))));
        set = set === null ? mine : intersectRanges(set, mine);
      }
      return set ?? [];
    }
    return [];
  }

  private headAccepts(s: Frame, lo: number, hi: number): boolean {
    return inRanges(this.headSet(s), lo, hi);
  }

  /** Expands every stack until its head reads a character (or it is empty: null). */
  private expand(seeds: (Frame | null)[]): (Frame | null)[] {
    const out: (Frame | null)[] = [];
    const seen = new Set<string>();
    const todo = [...seeds];
    while (todo.length > 0) {
      const s = todo.pop() ?? null;
      const key = this.key(s);
      if (seen.has(key)) continue;
      seen.add(key);
      if (s === null) {
        out.push(null);
        continue;
      }
      const e = s.expr;
      switch (e.kind) {
        case "empty": todo.push(s.next); break;
        case "chars": out.push(s); break;
        case "literal": out.push(s); break;
        case "seq": {
          let next = s.next;
          for (let i = e.items.length - 1; i >= 0; i--) next = { expr: e.items[i], done: 0, next };
          todo.push(next);
          break;
        }
        case "alt": for (const item of e.items) todo.push({ expr: item, done: 0, next: s.next }); break;
        case "repeat": {
          const n = s.done;
          const again: Frame = { expr: e, done: n + 1, next: s.next };
          if (n < e.min) todo.push({ expr: e.item, done: 0, next: again });
          else {
            todo.push(s.next);
            if (n < e.max) todo.push({ expr: e.item, done: 0, next: e.max === Infinity ? { expr: e, done: e.min, next: s.next } : again });
          }
          break;
        }
        case "intersect": {
          const parts = s.parts ?? e.items.map((item) => this.expand([{ expr: item, done: 0, next: null }]));
          const frame: Frame = { expr: e, done: 0, next: s.next, parts };
          out.push(frame);
          if (parts.every((p) => p.includes(null))) todo.push(s.next);
          break;
        }
        case "ref": {
          const body = this.grammar.rules.get(e.name);
          if (body === undefined) throw new Error(`undefined rule ${e.name}`);
          todo.push({ expr: body, done: 0, next: s.next });
          break;
        }
      }
    }
    return out;
  }

  private setKey(stacks: readonly (Frame | null)[]): number {
    const text = stacks.map((f) => this.key(f)).sort().join("|");
    let id = this.setIds.get(text);
    if (id === undefined) {
      id = this.setIds.size;
      this.setIds.set(text, id);
    }
    return id;
  }

  private key(s: Frame | null): string {
    const parts: number[] = [];
    for (let f = s; f !== null; f = f.next) {
      let id = this.ids.get(f.expr);
      if (id === undefined) {
        id = this.ids.size;
        this.ids.set(f.expr, id);
      }
      parts.push(id, f.done);
      if (f.parts !== undefined) parts.push(-1, ...f.parts.map((p) => this.setKey(p)));
    }
    return parts.join(",");
  }
}

export interface ReferenceState {
  readonly stacks: readonly (Frame | null)[];
  readonly pending: readonly number[];
}

function inRanges(ranges: readonly number[], lo: number, hi: number): boolean {
  for (let i = 0; i < ranges.length; i += 2) if (ranges[i] <= hi && lo <= ranges[i + 1]) return true;
  return false;
}

/** The code point of a complete UTF-8 sequence, or null if overlong, a surrogate or above U+10FFFF. */
function decode(bytes: readonly number[]): number | null {
  const n = bytes.length;
  let cp = bytes[0] & (n === 2 ? 0x1f : n === 3 ? 0x0f : 0x07);
  for (let i = 1; i < n; i++) cp = (cp << 6) | (bytes[i] & 0x3f);
  const min = n === 2 ? 0x80 : n === 3 ? 0x800 : 0x10000;
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return null;
  return cp;
}

/** The scalar values whose UTF-8 form starts with this incomplete sequence, as [lo, hi], or null. */
function possibleCodePoints(prefix: readonly number[]): [number, number] | null {
  const n = prefix[0] >= 0xf0 ? 4 : prefix[0] >= 0xe0 ? 3 : 2;
  const low = [...prefix], high = [...prefix];
  while (low.length < n) {
    low.push(0x80);
    high.push(0xbf);
  }
  let lo = decodeRaw(low), hi = decodeRaw(high);
  lo = Math.max(lo, n === 2 ? 0x80 : n === 3 ? 0x800 : 0x10000);
  hi = Math.min(hi, 0x10ffff);
  if (lo > hi) return null;
  // inside the surrogate block only: nothing valid
  if (lo >= 0xd800 && hi <= 0xdfff) return null;
  return [lo, hi];
}

function decodeRaw(bytes: readonly number[]): number {
  const n = bytes.length;
  let cp = bytes[0] & (n === 2 ? 0x1f : n === 3 ? 0x0f : 0x07);
  for (let i = 1; i < n; i++) cp = (cp << 6) | (bytes[i] & 0x3f);
  return cp;
}
