import { AutogradError, describe } from "../errors";

/**
 * The scalar engine. Every number in a network is a `Value`: its `data`, the gradient `grad` of
 * the final output with respect to it, the `children` it was computed from, and the op's local
 * backward rule. Each op below creates its output and, right beside it, the rule that sends
 * `out.grad` back to its inputs (chain rule: child.grad += d(out)/d(child) · out.grad).
 *
 * Semantics (tested in test/semantics.test.ts):
 * - Leaves (values with no children: `new Value(x)` and plain numbers wrapped by an op) must be
 *   finite numbers, else AutogradError AUTOGRAD_NON_FINITE / AUTOGRAD_NOT_A_NUMBER.
 * - Op results follow IEEE-754 like PyTorch: log(0) = -Infinity, 0/0 = NaN, exp(1000) = Infinity,
 *   and those values propagate through forward and backward without an error.
 * - `backward()` treats its receiver as the output L. It resets the grads of the interior nodes
 *   below L, seeds dL/dL = 1 and runs every local rule once in reverse topological order.
 *   Leaf grads accumulate with `+=` across calls until `zeroGrad()`, as in PyTorch with
 *   `retain_graph=True`.
 */

export type Operand = Value | number;

/** The op that produced a Value; "leaf" for inputs and parameters. */
export type ScalarOp =
  | "leaf"
  | "add"
  | "sub"
  | "neg"
  | "mul"
  | "div"
  | "pow"
  | "exp"
  | "log"
  | "tanh"
  | "sigmoid"
  | "relu"
  | "gelu"
  | "sum";

const NO_CHILDREN: readonly Value[] = Object.freeze([]);
const noBackward = (): void => {};

// GELU, tanh approximation (the GPT-2 form; PyTorch `gelu(x, approximate="tanh")`):
// gelu(x) = 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))
const GELU_K = Math.sqrt(2 / Math.PI);
const GELU_C = 0.044715;

function checkLeaf(data: unknown, what: string): number {
  if (typeof data !== "number") {
    throw new AutogradError("AUTOGRAD_NOT_A_NUMBER", `${what}: expected a number or a Value, found ${describe(data)}`);
  }
  if (!Number.isFinite(data)) {
    throw new AutogradError("AUTOGRAD_NON_FINITE", `${what}: expected a finite number, found ${data}`);
  }
  return data;
}

function toValue(x: Operand, what: string): Value {
  return x instanceof Value ? x : new Value(checkLeaf(x, what));
}

export class Value {
  /** The number this node holds (forward pass). */
  data: number;
  /** dL/d(this) for the last output L that `backward()` ran from (accumulated on leaves). */
  grad = 0;
  /** A name shown in graph exports; parameters get theirs from the layer that owns them. */
  label: string;
  readonly op: ScalarOp;
  readonly children: readonly Value[];
  /** The exponent of a `pow` node (undefined for other ops). */
  readonly exponent: number | undefined;
  /** Equals the current search's generation once a topological sort has reached this node. */
  private visitMark = 0;
  /**
   * The op's local backward rule: adds d(out)/d(child)·out.grad to each child's grad. It is a
   * shared static function per op (defined right below the op), not a closure per node, so a
   * graph costs one object per node.
   */
  private backwardRule: (out: Value) => void;

  /**
   * A leaf: an input or a parameter. `data` must be a finite number.
   * (Op results are built by the methods below; they are never validated.)
   */
  constructor(data: number, label = "") {
    this.data = checkLeaf(data, "new Value");
    this.label = label;
    this.op = "leaf";
    this.children = NO_CHILDREN;
    this.exponent = undefined;
    this.backwardRule = noBackward;
  }

  /** Builds an op's output node without the leaf validation (its data may be any IEEE double). */
  private static result(
    data: number,
    op: ScalarOp,
    children: readonly Value[],
    backwardRule: (out: Value) => void,
    exponent?: number,
  ): Value {
    const out = new Value(0);
    out.data = data;
    (out as { op: ScalarOp }).op = op;
    (out as { children: readonly Value[] }).children = children;
    (out as { exponent: number | undefined }).exponent = exponent;
    out.backwardRule = backwardRule;
    return out;
  }

  // ---- binary ops -------------------------------------------------------------------------
  // Each rule reads its inputs from out.children: a = children[0] (this), b = children[1].

  add(other: Operand): Value {
    const b = toValue(other, "add");
    return Value.result(this.data + b.data, "add", [this, b], Value.addBackward);
  }
  private static addBackward(out: Value): void {
    const a = out.children[0];
    const b = out.children[1];
    // d(a+b)/da = 1, d(a+b)/db = 1
    a.grad += out.grad;
    b.grad += out.grad;
  }

  sub(other: Operand): Value {
    const b = toValue(other, "sub");
    return Value.result(this.data - b.data, "sub", [this, b], Value.subBackward);
  }
  private static subBackward(out: Value): void {
    const a = out.children[0];
    const b = out.children[1];
    // d(a-b)/da = 1, d(a-b)/db = -1
    a.grad += out.grad;
    b.grad -= out.grad;
  }

  mul(other: Operand): Value {
    const b = toValue(other, "mul");
    return Value.result(this.data * b.data, "mul", [this, b], Value.mulBackward);
  }
  private static mulBackward(out: Value): void {
    const a = out.children[0];
    const b = out.children[1];
    // d(a*b)/da = b, d(a*b)/db = a
    a.grad += b.data * out.grad;
    b.grad += a.data * out.grad;
  }

  div(other: Operand): Value {
    const b = toValue(other, "div");
    return Value.result(this.data / b.data, "div", [this, b], Value.divBackward);
  }
  private static divBackward(out: Value): void {
    const a = out.children[0];
    const b = out.children[1];
    // d(a/b)/da = 1/b, d(a/b)/db = -a/b²
    a.grad += out.grad / b.data;
    b.grad += (-out.grad * a.data) / (b.data * b.data);
  }

  /** this^n for a plain number n. A Value exponent is rejected (d/dn would need log(this)). */
  pow(n: number): Value {
    if (typeof n !== "number") {
      throw new AutogradError(
        "AUTOGRAD_POW_EXPONENT",
        `pow: expected the exponent to be a plain number, found ${describe(n)} (write x.log().mul(n).exp() for a differentiable exponent)`,
      );
    }
    if (!Number.isFinite(n)) {
      throw new AutogradError("AUTOGRAD_POW_EXPONENT", `pow: expected a finite exponent, found ${n}`);
    }
    return Value.result(this.data ** n, "pow", [this], Value.powBackward, n);
  }
  private static powBackward(out: Value): void {
    const a = out.children[0];
    const n = out.exponent!;
    // d(aⁿ)/da = n·aⁿ⁻¹; for n = 0 that is 0 everywhere (a⁰ = 1 is constant), including at
    // a = 0 where 0·0⁻¹ would be NaN (PyTorch gives 0 too)
    if (n !== 0) a.grad += n * a.data ** (n - 1) * out.grad;
  }

  // ---- unary ops --------------------------------------------------------------------------

  neg(): Value {
    return Value.result(-this.data, "neg", [this], Value.negBackward);
  }
  private static negBackward(out: Value): void {
    // d(-a)/da = -1
    out.children[0].grad -= out.grad;
  }

  exp(): Value {
    return Value.result(Math.exp(this.data), "exp", [this], Value.expBackward);
  }
  private static expBackward(out: Value): void {
    // d(eᵃ)/da = eᵃ
    out.children[0].grad += out.data * out.grad;
  }

  /** Natural log. log(0) = -Infinity and log(negative) = NaN, as IEEE (no error). */
  log(): Value {
    return Value.result(Math.log(this.data), "log", [this], Value.logBackward);
  }
  private static logBackward(out: Value): void {
    const a = out.children[0];
    // d(ln a)/da = 1/a
    a.grad += out.grad / a.data;
  }

  tanh(): Value {
    return Value.result(Math.tanh(this.data), "tanh", [this], Value.tanhBackward);
  }
  private static tanhBackward(out: Value): void {
    // d(tanh a)/da = 1 - tanh²a
    out.children[0].grad += (1 - out.data * out.data) * out.grad;
  }

  sigmoid(): Value {
    const a = this.data;
    // σ(a) = 1/(1+e⁻ᵃ); for a < 0 the form eᵃ/(1+eᵃ) avoids overflowing e⁻ᵃ.
    const s = a >= 0 ? 1 / (1 + Math.exp(-a)) : Math.exp(a) / (1 + Math.exp(a));
    return Value.result(s, "sigmoid", [this], Value.sigmoidBackward);
  }
  private static sigmoidBackward(out: Value): void {
    // dσ/da = σ·(1 - σ)
    out.children[0].grad += out.data * (1 - out.data) * out.grad;
  }

  relu(): Value {
    return Value.result(this.data > 0 ? this.data : 0, "relu", [this], Value.reluBackward);
  }
  private static reluBackward(out: Value): void {
    const a = out.children[0];
    // d relu(a)/da = 1 if a > 0 else 0 (0 at a = 0, as PyTorch)
    if (a.data > 0) a.grad += out.grad;
  }

  /** GELU, tanh approximation: 0.5·a·(1 + tanh(√(2/π)·(a + 0.044715·a³))). */
  gelu(): Value {
    const x = this.data;
    const t = Math.tanh(GELU_K * (x + GELU_C * x * x * x));
    return Value.result(0.5 * x * (1 + t), "gelu", [this], Value.geluBackward);
  }
  private static geluBackward(out: Value): void {
    const a = out.children[0];
    const x = a.data;
    const t = Math.tanh(GELU_K * (x + GELU_C * x * x * x));
    // d gelu/da = 0.5·(1 + t) + 0.5·a·(1 - t²)·√(2/π)·(1 + 3·0.044715·a²)
    const dudx = GELU_K * (1 + 3 * GELU_C * x * x);
    a.grad += (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * dudx) * out.grad;
  }

  // ---- n-ary op ---------------------------------------------------------------------------

  /**
   * Σ terms as one node (a neuron's weighted sum would otherwise be a chain of `add`s as deep as
   * its fan-in). The sum of no terms is a leaf holding 0.
   */
  static sum(terms: readonly Operand[]): Value {
    if (!Array.isArray(terms)) {
      throw new AutogradError("AUTOGRAD_NOT_A_NUMBER", `Value.sum: expected an array of numbers or Values, found ${describe(terms)}`);
    }
    if (terms.length === 0) return new Value(0);
    const children = terms.map((t, i) => toValue(t, `Value.sum term ${i}`));
    let total = 0;
    for (const c of children) total += c.data;
    return Value.result(total, "sum", children, Value.sumBackward);
  }
  private static sumBackward(out: Value): void {
    // dΣ/dtermᵢ = 1
    for (const c of out.children) c.grad += out.grad;
  }

  // ---- the backward pass ------------------------------------------------------------------

  /**
   * Reverse-mode autodiff from this node: afterwards every node below it holds d(this)/d(node).
   * Interior grads are reset first, so they always describe this pass; leaf grads accumulate.
   */
  backward(): void {
    const order = topologicalOrder(this);
    for (const v of order) if (v.children.length > 0) v.grad = 0;
    this.grad += 1; // dL/dL = 1
    for (let i = order.length - 1; i >= 0; i--) {
      const node = order[i];
      node.backwardRule(node);
    }
  }

  /** Sets grad = 0 on this node and every node below it. */
  zeroGrad(): void {
    for (const v of topologicalOrder(this)) v.grad = 0;
  }

  /** See the exported `topologicalOrder`. */
  static topologicalOrder(root: Value): Value[] {
    // Depth-first post-order with an explicit stack: `path` holds the nodes being visited and
    // `nextChild` the index of the child each will look at next. A node is emitted once all its
    // children are done. Marks use a generation number, so no Set is allocated per search.
    const generation = ++Value.searchGeneration;
    const order: Value[] = [];
    const path: Value[] = [root];
    const nextChild: number[] = [0];
    root.visitMark = generation;
    while (path.length > 0) {
      const top = path.length - 1;
      const node = path[top];
      const i = nextChild[top];
      if (i < node.children.length) {
        nextChild[top] = i + 1;
        const child = node.children[i];
        if (child.visitMark !== generation) {
          child.visitMark = generation;
          path.push(child);
          nextChild.push(0);
        }
      } else {
        order.push(node);
        path.pop();
        nextChild.pop();
      }
    }
    return order;
  }

  private static searchGeneration = 0;

  toString(): string {
    return `Value(data=${this.data}, grad=${this.grad}${this.op === "leaf" ? "" : `, op=${this.op}`})`;
  }
}

/**
 * Every node reachable from `root`, children before parents (so `root` is last). Built with an
 * explicit stack instead of recursion: a graph 100,000 nodes deep must not overflow the call stack.
 */
export function topologicalOrder(root: Value): Value[] {
  return Value.topologicalOrder(root);
}
