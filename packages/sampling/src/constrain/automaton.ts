import { ConstraintError } from "./errors";
import type { Grammar } from "./grammar";
import { byteClasses, determinize, type RuleDfa } from "./dfa";
import { DEFAULT_NFA_LIMITS, buildRuleNfas, type NfaLimits } from "./nfa";

/**
 * A grammar compiled to a byte-level pushdown automaton: one DFA per called rule (see nfa.ts for
 * which rules are called), all states numbered in one space.
 *
 *   state s ─ byte b ─────────────▶ next[s * nClasses + classOf[b]]         (-1: no edge)
 *   state s ─ call R, return t ───▶ push t, continue at ruleStart[R]        (callStart..)
 *   state s accepting ────────────▶ the rule is complete: pop, continue at the caller's t
 *
 * Bytes are grouped into classes that every edge treats alike (all of 0x80..0xBF often form
 * one), so tables are indexed by class: 30–60 columns instead of 256.
 *
 * Every state left in the tables is live: it can still reach the end of its rule. Rules that can
 * never complete are gone, and with them the edges that called them; an unsatisfiable root is
 * an error here. So a parser that stays on edges never paints itself into a corner.
 */
export interface Automaton {
  readonly ruleNames: readonly string[];
  readonly nStates: number;
  readonly nClasses: number;
  /** Byte → byte class. */
  readonly classOf: Uint8Array;
  /** [state * nClasses + class] → next state, or -1. */
  readonly next: Int32Array;
  readonly accepting: Uint8Array;
  /** 1 when the state has at least one byte edge. */
  readonly hasBytes: Uint8Array;
  /** 1 when the state reads bytes, calls nothing and does not complete its rule: its closure is itself. */
  readonly plain: Uint8Array;
  /** 1 when the state only completes its rule (no bytes, no calls): returning there is returning further. */
  readonly tailEnd: Uint8Array;
  /** Call edges of state s: indices callStart[s] ..< callStart[s + 1] of callRule / callReturn. */
  readonly callStart: Int32Array;
  readonly callRule: Int32Array;
  readonly callReturn: Int32Array;
  readonly ruleOf: Int32Array;
  readonly ruleStart: Int32Array;
  /** Shortest string each rule matches (bytes). */
  readonly minLength: Float64Array;
  /** [rule * nClasses + class] = 1 when a byte of that class can come right after the rule completes. */
  readonly follow: Uint8Array;
}

/** The automaton while it is being built and analysed (prune replaces the call arrays). */
type Building = { -readonly [K in keyof Automaton]: Automaton[K] };

export interface AutomatonLimits extends NfaLimits {
  /** Most DFA states over all rules. */
  maxDfaStates: number;
}

export const DEFAULT_AUTOMATON_LIMITS: AutomatonLimits = { ...DEFAULT_NFA_LIMITS, maxDfaStates: 200_000 };

export function compileGrammar(grammar: Grammar, limits: AutomatonLimits = DEFAULT_AUTOMATON_LIMITS): Automaton {
  const { names, nfas } = buildRuleNfas(grammar, limits);
  const { classOf, nClasses } = byteClasses(nfas);
  const dfas: RuleDfa[] = [];
  let total = 0;
  for (let r = 0; r < nfas.length; r++) {
    const dfa = determinize(nfas[r], classOf, nClasses, limits.maxDfaStates - total, names[r], limits.maxDfaStates);
    total += dfa.accepting.length;
    dfas.push(dfa);
  }
  return analyse(assemble(names, dfas, classOf, nClasses));
}

function assemble(names: string[], dfas: RuleDfa[], classOf: Uint8Array, nClasses: number): Building {
  const offsets: number[] = [];
  let nStates = 0;
  for (const dfa of dfas) {
    offsets.push(nStates);
    nStates += dfa.accepting.length;
  }
  const next = new Int32Array(nStates * nClasses);
  const accepting = new Uint8Array(nStates);
  const ruleOf = new Int32Array(nStates);
  const callStart = new Int32Array(nStates + 1);
  const callRule: number[] = [];
  const callReturn: number[] = [];
  dfas.forEach((dfa, r) => {
    const base = offsets[r];
    for (let i = 0; i < dfa.trans.length; i++) next[base * nClasses + i] = dfa.trans[i] < 0 ? -1 : dfa.trans[i] + base;
    accepting.set(dfa.accepting, base);
    for (let d = 0; d < dfa.accepting.length; d++) {
      ruleOf[base + d] = r;
      callStart[base + d] = callRule.length;
      const c = dfa.calls[d];
      for (let j = 0; j < c.length; j += 2) {
        callRule.push(c[j]);
        callReturn.push(c[j + 1] + base);
      }
    }
  });
  callStart[nStates] = callRule.length;
  return {
    ruleNames: names, nStates, nClasses, classOf, next, accepting,
    hasBytes: new Uint8Array(nStates), plain: new Uint8Array(nStates), tailEnd: new Uint8Array(nStates),
    callStart, callRule: Int32Array.from(callRule), callReturn: Int32Array.from(callReturn),
    ruleOf, ruleStart: Int32Array.from(offsets),
    minLength: new Float64Array(names.length), follow: new Uint8Array(names.length * nClasses),
  };
}

// ---------------------------------------------------------------------------------------------
// Analyses: shortest completions (and with them dead states and useless rules), left recursion,
// and what may follow each rule.
// ---------------------------------------------------------------------------------------------

function analyse(a: Building): Automaton {
  const distance = shortestCompletions(a);
  prune(a, distance);
  if (a.minLength[0] === Infinity) {
    throw new ConstraintError("CONSTRAINT_UNSATISFIABLE", `grammar: rule "${a.ruleNames[0]}" matches no string at all (every alternative needs a rule that can never complete)`, { keyword: a.ruleNames[0] });
  }
  checkLeftRecursion(a, distance);
  computeFollow(a, distance);
  for (let s = 0; s < a.nStates; s++) {
    for (let k = 0; k < a.nClasses; k++) {
      if (a.next[s * a.nClasses + k] >= 0) {
        a.hasBytes[s] = 1;
        break;
      }
    }
    const calls = a.callStart[s] !== a.callStart[s + 1];
    a.plain[s] = a.hasBytes[s] && !a.accepting[s] && !calls ? 1 : 0;
    a.tailEnd[s] = a.accepting[s] && !a.hasBytes[s] && !calls ? 1 : 0;
  }
  return a;
}

/**
 * distance[s] = length of the shortest byte string that takes state s to the end of its rule;
 * minLength[R] = distance[ruleStart[R]]. A Dijkstra run backwards from the accepting states;
 * a call edge p -R-> t costs minLength[R] + distance[t] and is relaxed once both are final
 * (Knuth's generalisation of Dijkstra to grammars).
 */
function shortestCompletions(a: Building): Float64Array {
  const { nStates, nClasses, next, callStart, callRule, callReturn, ruleStart, minLength } = a;
  minLength.fill(Infinity);
  const distance = new Float64Array(nStates).fill(Infinity);
  const done = new Uint8Array(nStates);
  // reverse edges
  const byteIn: number[][] = Array.from({ length: nStates }, () => []);
  const callIn: number[][] = Array.from({ length: nStates }, () => []); // pairs (caller state, rule) per return state
  const callers: number[][] = a.ruleNames.map(() => []); // pairs (caller state, return state) per rule
  for (let s = 0; s < nStates; s++) {
    let last = -1;
    for (let k = 0; k < nClasses; k++) {
      const t = next[s * nClasses + k];
      if (t >= 0 && t !== last) {
        byteIn[t].push(s);
        last = t;
      }
    }
    for (let j = callStart[s]; j < callStart[s + 1]; j++) {
      callIn[callReturn[j]].push(s, callRule[j]);
      callers[callRule[j]].push(s, callReturn[j]);
    }
  }
  const startOf = new Int32Array(nStates).fill(-1);
  ruleStart.forEach((s, r) => (startOf[s] = r));
  const heap = new MinHeap();
  const relax = (s: number, d: number): void => {
    if (d < distance[s]) {
      distance[s] = d;
      heap.push(d, s);
    }
  };
  for (let s = 0; s < nStates; s++) if (a.accepting[s]) relax(s, 0);
  while (heap.size > 0) {
    const s = heap.pop();
    if (done[s]) continue;
    done[s] = 1;
    const d = distance[s];
    for (const p of byteIn[s]) relax(p, d + 1);
    const cin = callIn[s];
    for (let j = 0; j < cin.length; j += 2) if (minLength[cin[j + 1]] < Infinity) relax(cin[j], minLength[cin[j + 1]] + d);
    const r = startOf[s];
    if (r >= 0) {
      minLength[r] = d;
      const c = callers[r];
      for (let j = 0; j < c.length; j += 2) if (done[c[j + 1]]) relax(c[j], d + distance[c[j + 1]]);
    }
  }
  return distance;
}

/** Drops edges into dead states and calls of rules that never complete. */
function prune(a: Building, distance: Float64Array): void {
  const { nStates, nClasses, callStart, callRule, callReturn, next } = a;
  for (let i = 0; i < next.length; i++) if (next[i] >= 0 && distance[next[i]] === Infinity) next[i] = -1;
  for (let s = 0; s < nStates; s++) {
    if (distance[s] === Infinity) next.fill(-1, s * nClasses, (s + 1) * nClasses);
    for (let j = callStart[s]; j < callStart[s + 1]; j++) {
      if (distance[s] === Infinity || a.minLength[callRule[j]] === Infinity || distance[callReturn[j]] === Infinity) callRule[j] = -1;
    }
  }
  // compact the call lists
  const keepStart = new Int32Array(nStates + 1);
  let w = 0;
  for (let s = 0; s < nStates; s++) {
    keepStart[s] = w;
    for (let j = callStart[s]; j < callStart[s + 1]; j++) {
      if (callRule[j] < 0) continue;
      callRule[w] = callRule[j];
      callReturn[w] = callReturn[j];
      w++;
    }
  }
  keepStart[nStates] = w;
  callStart.set(keepStart);
  a.callRule = callRule.slice(0, w);
  a.callReturn = callReturn.slice(0, w);
}

/**
 * A rule that can call itself before consuming a byte would make the parser push forever.
 * Left calls: from the states a rule reaches through calls of rules that may match nothing.
 */
function checkLeftRecursion(a: Automaton, distance: Float64Array): void {
  const nRules = a.ruleNames.length;
  const leftCalls: Set<number>[] = [];
  for (let r = 0; r < nRules; r++) {
    const out = new Set<number>();
    const seen = new Set<number>([a.ruleStart[r]]);
    const todo = [a.ruleStart[r]];
    while (todo.length > 0) {
      const s = todo.pop() ?? 0;
      if (distance[s] === Infinity) continue;
      for (let j = a.callStart[s]; j < a.callStart[s + 1]; j++) {
        out.add(a.callRule[j]);
        if (a.minLength[a.callRule[j]] === 0 && !seen.has(a.callReturn[j])) {
          seen.add(a.callReturn[j]);
          todo.push(a.callReturn[j]);
        }
      }
    }
    leftCalls.push(out);
  }
  const color = new Uint8Array(nRules); // 0 new, 1 on the path, 2 done
  const path: number[] = [];
  const visit = (r: number): void => {
    color[r] = 1;
    path.push(r);
    for (const c of leftCalls[r]) {
      if (color[c] === 1) {
        const cycle = [...path.slice(path.indexOf(c)), c].map((x) => a.ruleNames[x]);
        throw new ConstraintError("CONSTRAINT_LEFT_RECURSION", `grammar: rule "${a.ruleNames[c]}" can reach itself before reading any character (${cycle.join(" → ")}); rewrite it with repetition, e.g. expr ::= term ("+" term)*`, { keyword: a.ruleNames[c] });
      }
      if (color[c] === 0) visit(c);
    }
    path.pop();
    color[r] = 2;
  };
  for (let r = 0; r < nRules; r++) if (color[r] === 0) visit(r);
}

/**
 * follow[R] ⊇ the byte classes that can come right after R completes, whoever called it. The
 * mask cache uses it to reject, without knowing the stack, tokens that leave a rule and then
 * continue with a byte no caller accepts.
 */
function computeFollow(a: Building, distance: Float64Array): void {
  const { nClasses, next, callStart, callRule, callReturn, ruleStart, ruleOf } = a;
  const nRules = a.ruleNames.length;
  const first = new Uint8Array(nRules * nClasses);
  const follow = a.follow;
  /** Classes that can be read first from state s (through calls of rules that may match nothing), into out[base..]. */
  const firstOfState = (s0: number, out: Uint8Array, base: number): boolean => {
    let changed = false;
    const seen = new Set<number>([s0]);
    const todo = [s0];
    while (todo.length > 0) {
      const s = todo.pop() ?? 0;
      for (let k = 0; k < nClasses; k++) {
        if (next[s * nClasses + k] >= 0 && !out[base + k]) { out[base + k] = 1; changed = true; }
      }
      for (let j = callStart[s]; j < callStart[s + 1]; j++) {
        const callee = callRule[j];
        for (let k = 0; k < nClasses; k++) {
          if (first[callee * nClasses + k] && !out[base + k]) { out[base + k] = 1; changed = true; }
        }
        if (a.minLength[callee] === 0 && !seen.has(callReturn[j])) {
          seen.add(callReturn[j]);
          todo.push(callReturn[j]);
        }
      }
    }
    return changed;
  };
  for (let changed = true; changed;) {
    changed = false;
    for (let r = 0; r < nRules; r++) if (firstOfState(ruleStart[r], first, r * nClasses)) changed = true;
  }
  for (let changed = true; changed;) {
    changed = false;
    for (let s = 0; s < a.nStates; s++) {
      for (let j = callStart[s]; j < callStart[s + 1]; j++) {
        const callee = callRule[j], ret = callReturn[j];
        if (firstOfState(ret, follow, callee * nClasses)) changed = true;
        if (distance[ret] === 0) {
          // the caller can complete right after this call returns: what follows the caller follows the callee
          const caller = ruleOf[s];
          for (let k = 0; k < nClasses; k++) {
            if (follow[caller * nClasses + k] && !follow[callee * nClasses + k]) { follow[callee * nClasses + k] = 1; changed = true; }
          }
        }
      }
    }
  }
}

/** A binary min-heap of (priority, value) pairs. */
class MinHeap {
  private keys: number[] = [];
  private values: number[] = [];
  get size(): number {
    return this.keys.length;
  }
  push(key: number, value: number): void {
    const { keys, values } = this;
    let i = keys.length;
    keys.push(key);
    values.push(value);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (keys[p] <= key) break;
      keys[i] = keys[p];
      values[i] = values[p];
      i = p;
    }
    keys[i] = key;
    values[i] = value;
  }
  pop(): number {
    const { keys, values } = this;
    const top = values[0];
    const key = keys.pop() ?? 0;
    const value = values.pop() ?? 0;
    const n = keys.length;
    if (n > 0) {
      let i = 0;
      while (true) {
        let c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && keys[c + 1] < keys[c]) c++;
        if (keys[c] >= key) break;
        keys[i] = keys[c];
        values[i] = values[c];
        i = c;
      }
      keys[i] = key;
      values[i] = value;
    }
    return top;
  }
}
