import type { Automaton } from "./automaton";

/**
 * The run-time side of the pushdown automaton: parse stacks and sets of them.
 *
 * A stack is a linked list of nodes (state, parent), hash-consed so that equal stacks are one id
 * and sharing a tail costs nothing. The top node's state is where the next byte is read; the
 * nodes below hold return states. Because rules may be ambiguous (a JSON key that is also a
 * prefix of another), the parser is in a *set* of stacks at once: a configuration, also
 * hash-consed. Configurations hold only "parked" stacks, whose top state reads a byte, plus
 * markers:
 *
 *   END         the root rule is complete (EOS may follow)
 *   ESCAPE(r)   (mask precomputation) rule r, started with an unknown caller, just completed;
 *               the next byte must be one that can follow r
 *   UNCERTAIN   (mask precomputation) the caller took over: what is allowed now depends on the
 *               stack below, which the precomputation does not know
 *
 * step(config, byteClass) → config is memoised per configuration, so walking the same bytes
 * again (the next token's mask, another token with the same prefix) is a table lookup.
 *
 * The tables grow with every new stack: outputs share one Parser until it is big, then new outputs
 * start another (constraint.ts), so old tables go away with their outputs. The mask cache's
 * precomputations have a Parser of their own, whose stacks all start at an unknown caller and so
 * stay few.
 */
/** Configuration id of the empty set of stacks: nothing can follow. */
export const DEAD_CONFIG = 0;
/** Marker node ids. */
export const END = 0;
export const UNCERTAIN = 1;
/** Parent of the root rule's node: popping it completes the constraint. */
const BOTTOM = -1;
/** Parent of a mask-precomputation start node: the caller is not known. */
export const UNKNOWN = -2;

/** Kind of a configuration, for mask walks. */
export const KIND_DEAD = 0;
/** Has a stack, END or ESCAPE: a token that ends here is allowed. */
export const KIND_LIVE = 1;
/** Only UNCERTAIN: decided at run time with the real stack. */
export const KIND_UNCERTAIN = 2;

export class Parser {
  readonly automaton: Automaton;
  /** Node ids below this are markers (END, UNCERTAIN, ESCAPE(r) = 2 + r). */
  readonly firstNode: number;
  private nodeState: Int32Array;
  private nodeParent: Int32Array;
  private nodeCount: number;
  private readonly nodeIds = new Map<number, number>();

  /** Configuration id → sorted node ids. Configuration 0 is the empty (dead) one. */
  readonly configNodes: Int32Array[] = [];
  /** Configuration id → next configuration per byte class (-1: not computed yet). */
  readonly configNext: (Int32Array | undefined)[] = [];
  configKind: Uint8Array = new Uint8Array(1024);
  private readonly configIds = new Map<string, number>();
  /** Configuration made of one parked node, by node id. */
  private singletons: Int32Array = new Int32Array(1024).fill(-1);

  // scratch for closures
  private visited: Int32Array = new Int32Array(1024);
  private emitted: Int32Array = new Int32Array(1024);
  private stamp = 0;
  private readonly out: number[] = [];
  private readonly todo: number[] = [];

  constructor(automaton: Automaton) {
    this.automaton = automaton;
    this.firstNode = 2 + automaton.ruleNames.length;
    this.nodeCount = this.firstNode;
    const size = Math.max(1024, this.firstNode * 2);
    this.nodeState = new Int32Array(size).fill(-1);
    this.nodeParent = new Int32Array(size).fill(-1);
    this.visited = new Int32Array(size);
    this.emitted = new Int32Array(size);
    this.internConfig([]); // DEAD_CONFIG
  }

  /** The configuration at the start of the output. */
  initial(): number {
    return this.closureOf(this.node(this.automaton.ruleStart[0], BOTTOM));
  }

  /** A configuration holding the one parked node `node`, not closed (its top state reads the next byte). */
  singleton(node: number): number {
    if (node >= this.singletons.length) this.singletons = grow(this.singletons, node + 1, -1);
    let c = this.singletons[node];
    if (c < 0) {
      c = this.internConfig([node]);
      this.singletons[node] = c;
    }
    return c;
  }

  /** The node of state `state` with an unknown caller: where a mask precomputation starts. */
  precomputeNode(state: number): number {
    return this.node(state, UNKNOWN);
  }

  stateOf(node: number): number {
    return this.nodeState[node];
  }

  get nodes(): number {
    return this.nodeCount;
  }

  get configs(): number {
    return this.configNodes.length;
  }

  /** The configuration after reading one byte of class `cls` from configuration `config`. */
  step(config: number, cls: number): number {
    let row = this.configNext[config];
    if (row === undefined) {
      row = new Int32Array(this.automaton.nClasses).fill(-1);
      this.configNext[config] = row;
    }
    const known = row[cls];
    if (known >= 0) return known;
    const result = this.computeStep(config, cls);
    row[cls] = result;
    return result;
  }

  /** Whether `config` contains END (the constraint may stop here). */
  canEnd(config: number): boolean {
    const nodes = this.configNodes[config];
    return nodes.length > 0 && nodes[0] === END;
  }

  private computeStep(config: number, cls: number): number {
    const { next, nClasses, follow } = this.automaton;
    const nodes = this.configNodes[config];
    if (nodes.length === 1 && nodes[0] >= this.firstNode) {
      // one stack moving inside its rule: no closure to compute
      const id = nodes[0];
      const t = next[this.nodeState[id] * nClasses + cls];
      if (t < 0) return DEAD_CONFIG;
      if (this.automaton.plain[t]) return this.singleton(this.node(t, this.nodeParent[id]));
    }
    this.begin();
    for (const id of this.configNodes[config]) {
      if (id === END) continue;
      if (id === UNCERTAIN) {
        this.emit(UNCERTAIN);
      } else if (id < this.firstNode) {
        if (follow[(id - 2) * nClasses + cls]) this.emit(UNCERTAIN);
      } else {
        const t = next[this.nodeState[id] * nClasses + cls];
        if (t >= 0) this.close(this.node(t, this.nodeParent[id]));
      }
    }
    return this.finish();
  }

  private closureOf(node: number): number {
    this.begin();
    this.close(node);
    return this.finish();
  }

  private begin(): void {
    this.stamp++;
    this.out.length = 0;
  }

  private finish(): number {
    const ids = this.out.slice().sort((a, b) => a - b);
    return this.internConfig(ids);
  }

  private emit(id: number): void {
    if (this.emitted[id] !== this.stamp) {
      this.emitted[id] = this.stamp;
      this.out.push(id);
    }
  }

  /**
   * Adds to the output every parked stack reachable from stack `node` without reading a byte:
   * the node itself if its state reads bytes, the stacks pushed by its calls, and, when its
   * state completes the rule, the caller's stack (popped) or a marker.
   */
  private close(start: number): void {
    const { hasBytes, accepting, callStart, callRule, callReturn, ruleStart, ruleOf, tailEnd } = this.automaton;
    const todo = this.todo;
    todo.length = 0;
    todo.push(start);
    while (todo.length > 0) {
      const node = todo.pop() ?? 0;
      if (this.visited[node] === this.stamp) continue;
      this.visited[node] = this.stamp;
      const s = this.nodeState[node], parent = this.nodeParent[node];
      if (hasBytes[s]) this.emit(node);
      for (let j = callStart[s]; j < callStart[s + 1]; j++) {
        // a tail call (the return state only completes the rule) needs no return frame: the callee
        // returns straight to our caller, so right recursion (s ::= [a-z] s | "") keeps a flat stack
        const ret = callReturn[j];
        todo.push(this.node(ruleStart[callRule[j]], tailEnd[ret] ? parent : this.node(ret, parent)));
      }
      if (accepting[s]) {
        if (parent === BOTTOM) this.emit(END);
        else if (parent === UNKNOWN) this.emit(2 + ruleOf[s]);
        else todo.push(parent);
      }
    }
  }

  private node(state: number, parent: number): number {
    const key = state + this.automaton.nStates * (parent + 2);
    let id = this.nodeIds.get(key);
    if (id === undefined) {
      id = this.nodeCount++;
      if (id >= this.nodeState.length) {
        this.nodeState = grow(this.nodeState, id + 1, -1);
        this.nodeParent = grow(this.nodeParent, id + 1, -1);
        this.visited = grow(this.visited, id + 1, 0);
        this.emitted = grow(this.emitted, id + 1, 0);
      }
      this.nodeState[id] = state;
      this.nodeParent[id] = parent;
      this.nodeIds.set(key, id);
    }
    return id;
  }

  private internConfig(ids: number[]): number {
    const key = ids.join(",");
    let id = this.configIds.get(key);
    if (id === undefined) {
      id = this.configNodes.length;
      this.configIds.set(key, id);
      this.configNodes.push(Int32Array.from(ids));
      this.configNext.push(undefined);
      if (id >= this.configKind.length) this.configKind = grow(this.configKind, id + 1, 0);
      let kind = KIND_DEAD;
      for (const n of ids) {
        if (n === UNCERTAIN) kind = kind === KIND_LIVE ? KIND_LIVE : KIND_UNCERTAIN;
        else kind = KIND_LIVE;
      }
      this.configKind[id] = kind;
    }
    return id;
  }
}

function grow<T extends Int32Array | Uint8Array>(a: T, min: number, fill: number): T {
  let size = a.length;
  while (size < min) size *= 2;
  const b = new (a.constructor as new (n: number) => T)(size);
  b.set(a);
  b.fill(fill, a.length);
  return b;
}
