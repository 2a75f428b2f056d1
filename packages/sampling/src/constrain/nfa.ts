import { utf8Sequences, encodeText } from "./charset";
import { byteDfa, intersectDfas, type ByteDfa } from "./dfa";
import { ConstraintError } from "./errors";
import type { Expr, Grammar } from "./grammar";

/**
 * Step 1 of compiling a grammar: one byte-level NFA per *called* rule.
 *
 * Rules that cannot recurse are copied into the rules that use them (inlined) while they are
 * small, so most of a JSON Schema becomes one automaton and a token crossing from a key into its
 * value needs no stack. Recursive rules (JSON's `value` inside `array`), big rules and the items
 * of long counted repetitions stay separate and are entered through call edges; the parser keeps
 * their return points on a stack.
 *
 * Edges: ε (no byte), a byte range [lo, hi], or a call of rule R. Characters become UTF-8 byte
 * sequences here, so everything downstream (determinisation, masks) works on bytes, and a token
 * that ends halfway through a character simply stops in the middle of a sequence.
 */
export interface Nfa {
  /** ε edges: targets per state. */
  readonly eps: number[][];
  /** Byte edges, flattened triples (lo, hi, target) per state. */
  readonly bytes: number[][];
  /** Call edges, flattened pairs (rule, return target) per state. */
  readonly calls: number[][];
  readonly start: number;
  readonly final: number;
}

export interface RuleNfas {
  /** Names of the called rules, index = rule id; 0 is the root. Synthetic rules are named `<rule>-item-<n>`. */
  readonly names: string[];
  readonly nfas: Nfa[];
}

export interface NfaLimits {
  /** Largest NFA (summed over rules) before CONSTRAINT_TOO_LARGE. */
  maxNfaStates: number;
  /** A non-recursive rule up to this many NFA states is copied into its callers. */
  inlineStates: number;
  /** A counted repetition whose copies would exceed this many states calls its item as a rule instead. */
  repeatStates: number;
}

export const DEFAULT_NFA_LIMITS: NfaLimits = { maxNfaStates: 2_000_000, inlineStates: 2_000, repeatStates: 4_000 };

/**
 * Product automata by intersection node. Expressions are immutable, so one product serves
 * every copy of the node and every compilation of it (a schema checks it is not empty first);
 * only intersections that name no rules are kept, since rule names mean what a grammar says.
 */
const products = new WeakMap<Expr, ByteDfa>();

export function buildRuleNfas(grammar: Grammar, limits: NfaLimits = DEFAULT_NFA_LIMITS): RuleNfas {
  return new NfaBuilder(grammar, limits).build();
}

class NfaBuilder {
  private readonly exprs: Expr[] = [];
  private readonly index = new Map<string, number>();
  private readonly recursive: boolean[] = [];
  private readonly sizes: number[] = [];
  /** Called rules: grammar rule (or synthetic item) → called-rule id. */
  private readonly calledId = new Map<string | Expr, number>();
  private readonly names: string[] = [];
  private readonly bodies: Expr[] = [];
  private readonly nfas: Nfa[] = [];
  private totalStates = 0;
  private nfa: { eps: number[][]; bytes: number[][]; calls: number[][] } = { eps: [], bytes: [], calls: [] };
  /** Depth of intersections being built (their items are compiled without calls). */
  private intersecting = 0;
  private currentRule = "";

  constructor(private readonly grammar: Grammar, private readonly limits: NfaLimits) {
    for (const [name, body] of grammar.rules) {
      this.index.set(name, this.exprs.length);
      this.exprs.push(body);
    }
  }

  build(): RuleNfas {
    if (!this.index.has(this.grammar.root)) {
      throw new ConstraintError("CONSTRAINT_UNDEFINED_RULE", `grammar: expected a root rule "${this.grammar.root}", found none`, { keyword: this.grammar.root });
    }
    this.findRecursion();
    this.measure();
    this.called(this.grammar.root);
    for (let r = 0; r < this.bodies.length; r++) {
      this.currentRule = this.names[r];
      this.nfa = { eps: [], bytes: [], calls: [] };
      const start = this.state();
      const final = this.emit(this.bodies[r], start);
      this.nfas.push({ ...this.nfa, start, final });
    }
    return { names: this.names, nfas: this.nfas };
  }

  /** The called-rule id of a grammar rule or synthetic item, queued for building on first use. */
  private called(key: string | Expr, name = typeof key === "string" ? key : ""): number {
    let id = this.calledId.get(key);
    if (id === undefined) {
      id = this.names.length;
      this.calledId.set(key, id);
      this.names.push(name);
      this.bodies.push(typeof key === "string" ? this.exprs[this.ruleIndex(key)] : key);
    }
    return id;
  }

  private ruleIndex(name: string): number {
    const i = this.index.get(name);
    if (i === undefined) {
      throw new ConstraintError("CONSTRAINT_UNDEFINED_RULE", `grammar: rule "${name}" is used${this.currentRule === "" ? "" : ` in "${this.currentRule}"`} but never defined`, { keyword: name });
    }
    return i;
  }

  /** Marks rules that can reach themselves through references (Tarjan's strongly connected components). */
  private findRecursion(): void {
    const n = this.exprs.length;
    const refs = this.exprs.map((e) => {
      const out = new Set<number>();
      forEachRef(e, (name) => out.add(this.ruleIndex(name)));
      return [...out];
    });
    const order = new Int32Array(n).fill(-1), low = new Int32Array(n), onStack = new Uint8Array(n);
    const stack: number[] = [];
    let counter = 0;
    for (let root = 0; root < n; root++) {
      if (order[root] >= 0) continue;
      // iterative Tarjan: frames of (rule, next reference to look at)
      const frames: [number, number][] = [[root, 0]];
      order[root] = low[root] = counter++;
      stack.push(root);
      onStack[root] = 1;
      while (frames.length > 0) {
        const frame = frames[frames.length - 1];
        const [v, k] = frame;
        if (k < refs[v].length) {
          frame[1]++;
          const w = refs[v][k];
          if (order[w] < 0) {
            order[w] = low[w] = counter++;
            stack.push(w);
            onStack[w] = 1;
            frames.push([w, 0]);
          } else if (onStack[w]) low[v] = Math.min(low[v], order[w]);
          continue;
        }
        frames.pop();
        if (frames.length > 0) {
          const parent = frames[frames.length - 1][0];
          low[parent] = Math.min(low[parent], low[v]);
        }
        if (low[v] === order[v]) {
          const component: number[] = [];
          let w: number;
          do {
            w = stack.pop() ?? v;
            onStack[w] = 0;
            component.push(w);
          } while (w !== v);
          for (const c of component) this.recursive[c] = component.length > 1 || refs[c].includes(c);
        }
      }
    }
  }

  /** NFA size of each rule if inlined everywhere it can be, callees first. */
  private measure(): void {
    const visiting = new Uint8Array(this.exprs.length);
    const sizeOf = (r: number): number => {
      if (this.sizes[r] !== undefined) return this.sizes[r];
      if (this.recursive[r] || visiting[r]) return 2;
      visiting[r] = 1;
      const s = this.exprSize(this.exprs[r], sizeOf);
      visiting[r] = 0;
      this.sizes[r] = s;
      return s;
    };
    for (let r = 0; r < this.exprs.length; r++) sizeOf(r);
  }

  private exprSize(e: Expr, sizeOf: (r: number) => number): number {
    switch (e.kind) {
      case "empty": return 1;
      case "literal": return encodeText(e.text).length + 1;
      case "chars": return utf8Sequences(e.ranges).reduce((n, s) => n + s.length / 2, 1);
      case "seq": return e.items.reduce((n, x) => n + this.exprSize(x, sizeOf), 1);
      case "alt": return e.items.reduce((n, x) => n + this.exprSize(x, sizeOf) + 1, 2);
      case "repeat": {
        const item = this.exprSize(e.item, sizeOf);
        const copies = e.max === Infinity ? Math.max(e.min, 1) : e.max;
        return Math.min(item * copies, this.repeatCopies(item, e) ? 2 * copies : Infinity) + 2;
      }
      case "ref": {
        const r = this.ruleIndex(e.name);
        return this.inlined(r) ? sizeOf(r) : 2;
      }
      case "intersect":
        return e.items.reduce((n, x) => n * this.exprSize(x, sizeOf), 1);
    }
  }

  private inlined(r: number): boolean {
    // inside an intersection everything must be copied in: the product is built from call-free automata
    return !this.recursive[r] && (this.intersecting > 0 || (this.sizes[r] ?? Infinity) <= this.limits.inlineStates);
  }

  /** Whether a repetition calls its item as a rule rather than copying it. */
  private repeatCopies(itemSize: number, e: { min: number; max: number }): boolean {
    if (this.intersecting > 0) return false;
    const copies = e.max === Infinity ? Math.max(e.min, 1) : e.max;
    return itemSize > 16 && itemSize * copies > this.limits.repeatStates;
  }

  private state(): number {
    if (++this.totalStates > this.limits.maxNfaStates) {
      throw new ConstraintError("CONSTRAINT_TOO_LARGE", `grammar: expected at most ${this.limits.maxNfaStates} automaton states, found more while building rule "${this.currentRule}" (lower the repetition counts or string lengths)`, { keyword: this.currentRule });
    }
    this.nfa.eps.push([]);
    this.nfa.bytes.push([]);
    this.nfa.calls.push([]);
    return this.nfa.eps.length - 1;
  }

  /**
   * Appends `e` starting at state `from`; returns the state where it ends. Alternatives and loops
   * enter through fresh states so that no loop ever leads back into a shared entry.
   */
  private emit(e: Expr, from: number): number {
    const { eps, bytes, calls } = this.nfa;
    switch (e.kind) {
      case "empty":
        return from;
      case "literal": {
        let at = from;
        for (const b of encodeText(e.text)) {
          const to = this.state();
          bytes[at].push(b, b, to);
          at = to;
        }
        return at;
      }
      case "chars": {
        const end = this.state();
        for (const sequence of utf8Sequences(e.ranges)) {
          let at = from;
          for (let k = 0; k < sequence.length; k += 2) {
            const to = k + 2 === sequence.length ? end : this.state();
            bytes[at].push(sequence[k], sequence[k + 1], to);
            at = to;
          }
        }
        return end;
      }
      case "seq": {
        let at = from;
        for (const item of e.items) at = this.emit(item, at);
        return at;
      }
      case "alt": {
        const end = this.state();
        for (const item of e.items) {
          const entry = this.state();
          eps[from].push(entry);
          eps[this.emit(item, entry)].push(end);
        }
        return end;
      }
      case "repeat":
        return this.emitRepeat(e, from);
      case "intersect":
        return this.emitIntersection(e, from);
      case "ref": {
        const r = this.ruleIndex(e.name);
        if (this.inlined(r)) return this.emit(this.exprs[r], from);
        const to = this.state();
        calls[from].push(this.called(e.name), to);
        return to;
      }
    }
  }

  /** The product automaton of the items, copied in as NFA states. */
  private emitIntersection(e: Expr & { kind: "intersect" }, from: number): number {
    let product = products.get(e);
    if (product === undefined) {
      const budget = Math.max(1, this.limits.maxNfaStates - this.totalStates);
      product = intersectDfas(e.items.map((item) => this.standaloneDfa(item)), budget, this.currentRule);
      if (!usesRules(e)) products.set(e, product);
    }
    const { eps, bytes } = this.nfa;
    const end = this.state();
    const n = product.accepting.length;
    if (n === 0) return end; // empty intersection: nothing leads to end
    const states: number[] = [];
    for (let p = 0; p < n; p++) states.push(this.state());
    eps[from].push(states[0]);
    for (let p = 0; p < n; p++) {
      if (product.accepting[p]) eps[states[p]].push(end);
      for (let b = 0; b < 256;) {
        const t = product.next[p * 256 + b];
        let last = b;
        while (last + 1 < 256 && product.next[p * 256 + last + 1] === t) last++;
        if (t >= 0) bytes[states[p]].push(b, last, states[t]);
        b = last + 1;
      }
    }
    return end;
  }

  /** A call-free expression on its own, determinised over bytes. */
  private standaloneDfa(item: Expr): ByteDfa {
    const saved = this.nfa;
    this.nfa = { eps: [], bytes: [], calls: [] };
    this.intersecting++;
    let sub: Nfa;
    try {
      const start = this.state();
      const final = this.emit(item, start);
      sub = { ...this.nfa, start, final };
    } finally {
      this.intersecting--;
      this.nfa = saved;
    }
    if (sub.calls.some((c) => c.length > 0)) {
      throw new ConstraintError("CONSTRAINT_UNSUPPORTED", `grammar: rule "${this.currentRule}" intersects an expression that uses a recursive rule; intersections must be regular`, { keyword: this.currentRule });
    }
    return byteDfa(sub, Math.max(1, this.limits.maxNfaStates - this.totalStates), this.currentRule, this.limits.maxNfaStates);
  }

  private emitRepeat(e: { item: Expr; min: number; max: number }, from: number): number {
    const { eps, calls } = this.nfa;
    const itemSize = this.exprSize(e.item, (r) => this.sizes[r] ?? 2);
    let emitItem = (at: number): number => this.emit(e.item, at);
    if (this.repeatCopies(itemSize, e)) {
      const rule = this.called(e.item, `${this.currentRule}-item-${this.names.length}`);
      emitItem = (at: number): number => {
        const to = this.state();
        calls[at].push(rule, to);
        return to;
      };
    }
    let at = from;
    for (let i = 0; i < e.min; i++) at = emitItem(at);
    if (e.max === Infinity) {
      // loop: at → entry → item → back to loop
      const loop = this.state();
      eps[at].push(loop);
      const entry = this.state();
      eps[loop].push(entry);
      eps[emitItem(entry)].push(loop);
      return loop;
    }
    if (e.max === e.min) return at;
    const end = this.state();
    for (let i = e.min; i < e.max; i++) {
      eps[at].push(end);
      const entry = this.state();
      eps[at].push(entry);
      at = emitItem(entry);
    }
    eps[at].push(end);
    return end;
  }
}

function usesRules(e: Expr): boolean {
  let found = false;
  forEachRef(e, () => (found = true));
  return found;
}

function forEachRef(e: Expr, visit: (name: string) => void): void {
  switch (e.kind) {
    case "ref": visit(e.name); return;
    case "seq": case "alt": for (const x of e.items) forEachRef(x, visit); return;
    case "repeat": forEachRef(e.item, visit); return;
    case "intersect": for (const x of e.items) forEachRef(x, visit); return;
    default: return;
  }
}
