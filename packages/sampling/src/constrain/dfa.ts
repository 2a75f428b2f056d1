import { ConstraintError } from "./errors";
import type { Nfa } from "./nfa";

/** Subset construction, shared by rule compilation (automaton.ts) and intersections (nfa.ts). */

// ---------------------------------------------------------------------------------------------
// Byte classes: the coarsest partition of 0..255 that no edge range cuts.
// ---------------------------------------------------------------------------------------------

export function byteClasses(nfas: readonly Nfa[]): { classOf: Uint8Array; nClasses: number } {
  const boundary = new Uint8Array(257);
  boundary[0] = 1;
  for (const nfa of nfas) {
    for (const edges of nfa.bytes) {
      for (let j = 0; j < edges.length; j += 3) {
        boundary[edges[j]] = 1;
        boundary[edges[j + 1] + 1] = 1;
      }
    }
  }
  const classOf = new Uint8Array(256);
  let cls = -1;
  for (let b = 0; b < 256; b++) {
    if (boundary[b]) cls++;
    classOf[b] = cls;
  }
  return { classOf, nClasses: cls + 1 };
}

// ---------------------------------------------------------------------------------------------
// Subset construction, one rule at a time. Call edges are letters like bytes: a call of R from
// several NFA states of one subset goes to the union of their return targets.
// ---------------------------------------------------------------------------------------------

export interface RuleDfa {
  /** [local state * nClasses + class] → local state or -1. */
  trans: Int32Array;
  accepting: Uint8Array;
  /** Per local state: flattened pairs (rule, local return state). */
  calls: number[][];
}

export function determinize(nfa: Nfa, classOf: Uint8Array, nClasses: number, budget: number, rule: string, limit: number): RuleDfa {
  const n = nfa.eps.length;
  // Only states with outgoing bytes or calls, and the final state, tell subsets apart.
  const important = new Uint8Array(n);
  for (let s = 0; s < n; s++) important[s] = nfa.bytes[s].length > 0 || nfa.calls[s].length > 0 || s === nfa.final ? 1 : 0;
  const mark = new Int32Array(n);
  let stamp = 0;
  const closure = (seeds: readonly number[]): number[] => {
    stamp++;
    const todo: number[] = [];
    const out: number[] = [];
    for (const s of seeds) if (mark[s] !== stamp) { mark[s] = stamp; todo.push(s); }
    while (todo.length > 0) {
      const u = todo.pop() ?? 0;
      if (important[u]) out.push(u);
      for (const v of nfa.eps[u]) if (mark[v] !== stamp) { mark[v] = stamp; todo.push(v); }
    }
    return out.sort((a, b) => a - b);
  };

  const subsets: number[][] = [];
  const ids = new Map<string, number>();
  const intern = (set: number[]): number => {
    const key = set.join(",");
    let id = ids.get(key);
    if (id === undefined) {
      if (subsets.length >= budget) {
        throw new ConstraintError("CONSTRAINT_TOO_LARGE", `grammar: rule "${rule}" needs more than the ${budget} automaton states left (limit ${limit} in all); simplify it or lower its repetition counts`, { keyword: rule });
      }
      id = subsets.length;
      ids.set(key, id);
      subsets.push(set);
    }
    return id;
  };

  intern(closure([nfa.start]));
  let trans = new Int32Array(64 * nClasses);
  const accepting: number[] = [];
  const calls: number[][] = [];
  // sweep over byte classes: edges start and stop covering targets at class boundaries, and
  // between two boundaries every class goes to the same subset
  const active = new Int32Array(n);
  const activeList: number[] = [];
  const events: number[] = []; // triples (class, +1 / -1, target)
  const eventStart = new Int32Array(nClasses + 2);
  const eventFill = new Int32Array(nClasses + 2);
  let eventOrder = new Int32Array(64);
  const memo = new Map<string, number>();
  for (let d = 0; d < subsets.length; d++) {
    const set = subsets[d];
    if ((d + 1) * nClasses > trans.length) {
      const bigger = new Int32Array(Math.max(trans.length * 2, (d + 1) * nClasses));
      bigger.set(trans);
      trans = bigger;
    }
    const row = d * nClasses;
    const byRule = new Map<number, number[]>();
    events.length = 0;
    for (const u of set) {
      const edges = nfa.bytes[u];
      for (let j = 0; j < edges.length; j += 3) {
        events.push(classOf[edges[j]], 1, edges[j + 2], classOf[edges[j + 1]] + 1, -1, edges[j + 2]);
      }
      const c = nfa.calls[u];
      for (let j = 0; j < c.length; j += 2) {
        const targets = byRule.get(c[j]);
        if (targets === undefined) byRule.set(c[j], [c[j + 1]]);
        else targets.push(c[j + 1]);
      }
    }
    // counting sort of the events by class
    const count = eventStart.fill(0);
    for (let i = 0; i < events.length; i += 3) count[events[i] + 1]++;
    for (let k = 0; k < nClasses + 1; k++) count[k + 1] += count[k];
    const order = eventOrder.length >= events.length / 3 ? eventOrder : (eventOrder = new Int32Array(events.length));
    const fill = eventFill;
    fill.set(count.subarray(0, nClasses + 1));
    for (let i = 0; i < events.length; i += 3) order[fill[events[i]]++] = i;
    let current = -1;
    memo.clear();
    for (let k = 0; k < nClasses; k++) {
      let changed = false;
      for (let e = count[k], last = count[k + 1]; e < last; e++) {
        const at = order[e];
        const target = events[at + 2];
        if (events[at + 1] > 0) {
          if (active[target]++ === 0) activeList.push(target);
        } else active[target]--;
        changed = true;
      }
      if (changed) {
        // drop targets no edge covers any more, then look the subset up
        let w = 0;
        for (let i = 0; i < activeList.length; i++) if (active[activeList[i]] > 0) activeList[w++] = activeList[i];
        activeList.length = w;
        if (w === 0) current = -1;
        else {
          const key = activeList.slice().sort((a, b) => a - b).join(",");
          let to = memo.get(key);
          if (to === undefined) {
            to = intern(closure(activeList));
            memo.set(key, to);
          }
          current = to;
        }
      }
      trans[row + k] = current;
    }
    for (const t of activeList) active[t] = 0;
    activeList.length = 0;
    const rowCalls: number[] = [];
    for (const [callee, targets] of byRule) rowCalls.push(callee, intern(closure(targets)));
    calls.push(rowCalls);
    accepting.push(set.includes(nfa.final) ? 1 : 0);
  }
  return { trans: trans.slice(0, subsets.length * nClasses), accepting: Uint8Array.from(accepting), calls };
}


/** A DFA over raw bytes: next[s * 256 + b] (−1: none); state 0 starts. */
export interface ByteDfa {
  readonly next: Int32Array;
  readonly accepting: Uint8Array;
}

/** The byte DFA of a call-free NFA. */
export function byteDfa(nfa: Nfa, budget: number, rule: string, limit: number): ByteDfa {
  const { classOf, nClasses } = byteClasses([nfa]);
  const dfa = determinize(nfa, classOf, nClasses, budget, rule, limit);
  const n = dfa.accepting.length;
  const next = new Int32Array(n * 256);
  for (let s = 0; s < n; s++) for (let b = 0; b < 256; b++) next[s * 256 + b] = dfa.trans[s * nClasses + classOf[b]];
  return { next, accepting: dfa.accepting };
}

/**
 * The product automaton: strings every DFA accepts. Only live states are kept (those that can
 * still reach acceptance); an empty language comes back with no states. Bytes that every DFA
 * treats alike are handled once (joint byte classes).
 */
export function intersectDfas(dfas: readonly ByteDfa[], budget: number, rule: string): ByteDfa {
  // joint classes: bytes with the same column in every DFA (hashed, then compared in full)
  const jointOf = new Int32Array(256);
  const representative: number[] = [];
  {
    const hash = new Int32Array(256).fill(0x811c9dc5);
    for (const d of dfas) {
      for (let i = 0; i < d.next.length; i++) hash[i & 255] = Math.imul(hash[i & 255] ^ d.next[i], 0x01000193);
    }
    const buckets = new Map<number, number[]>();
    for (let b = 0; b < 256; b++) {
      let bucket = buckets.get(hash[b]);
      if (bucket === undefined) buckets.set(hash[b], (bucket = []));
      let id = -1;
      for (const c of bucket) if (sameColumn(dfas, representative[c], b)) { id = c; break; }
      if (id < 0) {
        id = representative.length;
        representative.push(b);
        bucket.push(id);
      }
      jointOf[b] = id;
    }
  }
  const nJoint = representative.length;
  const tuples: number[][] = [];
  const ids = new Map<string, number>();
  const intern = (tuple: number[]): number => {
    const key = tuple.length === 2 ? String(tuple[0] * 1048576 + tuple[1]) : tuple.join(",");
    let id = ids.get(key);
    if (id === undefined) {
      if (tuples.length >= budget) {
        throw new ConstraintError("CONSTRAINT_TOO_LARGE", `grammar: the intersection in rule "${rule}" needs more than ${budget} automaton states`, { keyword: rule });
      }
      id = tuples.length;
      ids.set(key, id);
      tuples.push(tuple);
    }
    return id;
  };
  intern(dfas.map(() => 0));
  const edges: number[] = []; // per product state, per joint class
  const target: number[] = [];
  for (let p = 0; p < tuples.length; p++) {
    const tuple = tuples[p];
    for (let c = 0; c < nJoint; c++) {
      const b = representative[c];
      target.length = 0;
      let ok = true;
      for (let i = 0; i < dfas.length && ok; i++) {
        const t = dfas[i].next[tuple[i] * 256 + b];
        if (t < 0) ok = false;
        else target.push(t);
      }
      edges.push(ok ? intern(target.slice()) : -1);
    }
  }
  const n = tuples.length;
  const accepting = new Uint8Array(n);
  tuples.forEach((tuple, p) => (accepting[p] = tuple.every((s, i) => dfas[i].accepting[s] === 1) ? 1 : 0));
  // live = can reach an accepting state (backwards from the accepting states)
  const incoming: number[][] = Array.from({ length: n }, () => []);
  for (let p = 0; p < n; p++) for (let c = 0; c < nJoint; c++) if (edges[p * nJoint + c] >= 0) incoming[edges[p * nJoint + c]].push(p);
  const live = Uint8Array.from(accepting);
  const todo: number[] = [];
  for (let p = 0; p < n; p++) if (live[p]) todo.push(p);
  while (todo.length > 0) {
    const t = todo.pop() ?? 0;
    for (const p of incoming[t]) if (!live[p]) { live[p] = 1; todo.push(p); }
  }
  if (!live[0]) return { next: new Int32Array(0), accepting: new Uint8Array(0) };
  // renumber live states (0 stays the start)
  const renumber = new Int32Array(n).fill(-1);
  let m = 0;
  for (let p = 0; p < n; p++) if (live[p]) renumber[p] = m++;
  const next = new Int32Array(m * 256).fill(-1);
  const acc = new Uint8Array(m);
  for (let p = 0; p < n; p++) {
    if (!live[p]) continue;
    acc[renumber[p]] = accepting[p];
    for (let b = 0; b < 256; b++) {
      const t = edges[p * nJoint + jointOf[b]];
      if (t >= 0 && live[t]) next[renumber[p] * 256 + b] = renumber[t];
    }
  }
  return { next, accepting: acc };
}

/** Whether bytes a and b go to the same states from every state of every DFA. */
function sameColumn(dfas: readonly ByteDfa[], a: number, b: number): boolean {
  for (const d of dfas) for (let i = 0; i < d.next.length; i += 256) if (d.next[i + a] !== d.next[i + b]) return false;
  return true;
}
