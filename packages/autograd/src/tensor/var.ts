import { Tensor, formatShape, getBackend } from "@zero-llm/tensor";
import { AutogradError } from "../errors";
import { emptyF32, inScratchScope, persistentF32 } from "./alloc";
import * as ew from "./elementwise";
import * as red from "./reduce";
import * as mm from "./matmul";
import * as sh from "./shape";

/**
 * The tensor engine: the scalar `Value` idea lifted to tensors. A `Var` holds a row-major
 * `Tensor` (`value`), the gradient of the last `backward()` output with respect to it (`grad`,
 * same shape), its `parents` and one closure with the op's local backward rule. The rule
 * receives dL/d(out) as a flat Float32Array and adds (`+=`) its contribution to each parent's
 * gradient buffer: every op file keeps its forward and that closure side by side.
 *
 * Lifecycle of a graph (as PyTorch without retain_graph):
 * - Leaves are inputs and parameters (`new Var(t, { requiresGrad: true })`); their `grad`
 *   accumulates across `backward()` calls until `zeroGrad()`.
 * - Interior nodes exist only while the graph does. `backward()` runs each rule once in reverse
 *   topological order, then frees every interior node: its gradient buffer, its closure and the
 *   forward tensors the closure saved. A training step therefore holds no memory into the next.
 * - Under `noGrad(fn)` (inference, evaluation, optimizer updates) ops record nothing.
 */
export class Var {
  /** The forward value; always row-major (every op writes a fresh contiguous result). */
  value: Tensor;
  /** dL/d(this), same shape as `value`; null until a backward pass reaches this node. */
  grad: Tensor | null = null;
  /** Whether gradients flow to (and through) this node. Turn off on a parameter to freeze it. */
  requiresGrad: boolean;
  /** The op that produced this node ("leaf" for inputs and parameters). */
  op: string;
  /** Parents in the graph; emptied when the graph is freed. */
  private parents: readonly Var[];
  /** Adds this node's contribution to each parent's gradient, given dL/d(this). */
  private backwardStep: ((gradOut: Float32Array) => void) | null;
  /** True once backward() has freed this interior node. */
  private freed = false;
  /** A leaf's gradient buffer kept by zeroGrad() for the next backward (refilled with zeros). */
  spareGrad: Float32Array | null = null;

  constructor(value: Tensor, opts: { requiresGrad?: boolean } = {}) {
    this.value = value.contiguous();
    this.requiresGrad = opts.requiresGrad ?? false;
    this.op = "leaf";
    this.parents = [];
    this.backwardStep = null;
  }

  /**
   * The result of an op. It joins the graph only when grad mode is on and some parent requires
   * grad; otherwise it is a constant and `backwardStep` (with the tensors it saved) is dropped.
   */
  static fromOp(value: Tensor, op: string, parents: readonly Var[], backwardStep: (gradOut: Float32Array) => void): Var {
    const out = new Var(value);
    out.op = op;
    if (gradEnabled && parents.some((p) => p.requiresGrad)) {
      out.requiresGrad = true;
      out.parents = parents;
      out.backwardStep = backwardStep;
    }
    return out;
  }

  get shape(): readonly number[] {
    return this.value.shape;
  }

  get size(): number {
    return this.value.size;
  }

  get ndim(): number {
    return this.value.ndim;
  }

  /** The forward values, row-major (a view: writes go to the tensor). */
  get data(): Float32Array {
    return this.value.storage.subarray(this.value.offset, this.value.offset + this.value.size);
  }

  /** True for inputs and parameters (nodes no op produced). */
  get isLeaf(): boolean {
    return this.op === "leaf";
  }

  /** The single value of a one-element Var (a loss). */
  item(): number {
    return this.value.item();
  }

  /** A constant sharing this node's storage, cut from the graph (gradients stop here). */
  detach(): Var {
    return new Var(this.value);
  }

  /** Forget the accumulated gradient (a leaf keeps the buffer to reuse, zero-filled, next time). */
  zeroGrad(): void {
    if (this.grad !== null && this.isLeaf) this.spareGrad = this.grad.storage;
    this.grad = null;
  }

  /** True once a backward() without retainGraph has run this node's rule and freed it. */
  get isFreed(): boolean {
    return this.freed;
  }

  /**
   * Reverse-mode sweep from this node. Without `gradOutput` the node must hold one element
   * (a loss) and is seeded with dL/dL = 1. Leaf gradients accumulate; interior nodes are freed
   * afterwards unless `retainGraph` is set.
   */
  backward(gradOutput?: Tensor, opts: { retainGraph?: boolean } = {}): void {
    if (this.freed) {
      throw new AutogradError("AUTOGRAD_BACKWARD", "backward: expected a live graph, found one already freed by an earlier backward() (pass retainGraph: true to keep it)");
    }
    if (!this.requiresGrad) {
      throw new AutogradError("AUTOGRAD_BACKWARD", `backward: expected an output that requires grad, found a constant ${this.op} node of shape ${formatShape(this.shape)}`);
    }
    if (gradOutput === undefined && this.size !== 1) {
      throw new AutogradError("AUTOGRAD_BACKWARD", `backward: without a seed gradient the output must have 1 element, found shape ${formatShape(this.shape)}`);
    }
    if (gradOutput !== undefined && gradOutput.size !== this.size) {
      throw new AutogradError("AUTOGRAD_SHAPE_MISMATCH", `backward: seed gradient of shape ${formatShape(gradOutput.shape)} for an output of shape ${formatShape(this.shape)}`);
    }
    const order = topologicalOrder(this);
    // interior gradients describe one pass (only leaves accumulate across passes)
    for (const node of order) if (node.backwardStep !== null) node.grad = null;
    const seed = gradBuffer(this);
    if (gradOutput === undefined) seed[0] += 1; // dL/dL = 1
    else {
      const g = gradOutput.contiguous().data;
      for (let i = 0; i < seed.length; i++) seed[i] += g[i];
    }
    // A retained graph keeps interior gradients readable, so none may be handed on (adopted)
    adoptionAllowed = !opts.retainGraph;
    try {
      for (let i = order.length - 1; i >= 0; i--) {
        const node = order[i];
        const step = node.backwardStep;
        if (step === null) continue; // a leaf: its gradient is the result
        const grad = node.grad;
        if (grad !== null) profileStep(node.op, () => step(grad.storage));
        if (!opts.retainGraph) node.free();
      }
    } finally {
      adoptionAllowed = false;
    }
  }

  /** Drop everything an interior node holds once its rule has run. */
  private free(): void {
    this.grad = null;
    this.backwardStep = null;
    this.parents = [];
    this.freed = true;
  }

  /** Parents, for graph walks (empty on leaves and freed nodes). */
  get inputs(): readonly Var[] {
    return this.parents;
  }

  // ---- methods: thin wrappers over the op modules -----------------------------------------
  add(other: Var | number): Var { return ew.add(this, other); }
  sub(other: Var | number): Var { return ew.sub(this, other); }
  mul(other: Var | number): Var { return ew.mul(this, other); }
  div(other: Var | number): Var { return ew.div(this, other); }
  neg(): Var { return ew.neg(this); }
  pow(exponent: number): Var { return ew.pow(this, exponent); }
  exp(): Var { return ew.exp(this); }
  log(): Var { return ew.log(this); }
  sqrt(): Var { return ew.sqrt(this); }
  tanh(): Var { return ew.tanh(this); }
  sigmoid(): Var { return ew.sigmoid(this); }
  relu(): Var { return ew.relu(this); }
  gelu(): Var { return ew.gelu(this); }
  silu(): Var { return ew.silu(this); }
  sum(axis?: number | readonly number[], keepdim = false): Var { return red.sum(this, axis, keepdim); }
  mean(axis?: number | readonly number[], keepdim = false): Var { return red.mean(this, axis, keepdim); }
  max(axis?: number, keepdim = false): Var { return red.max(this, axis, keepdim); }
  matmul(other: Var): Var { return mm.matmul(this, other); }
  reshape(shape: readonly number[]): Var { return sh.reshape(this, shape); }
  transpose(axis0: number, axis1: number): Var { return sh.transpose(this, axis0, axis1); }
  permute(axes: readonly number[]): Var { return sh.permute(this, axes); }
  slice(axis: number, start: number, end: number): Var { return sh.slice(this, axis, start, end); }
}

/**
 * The gradient buffer of `v` (allocated zero-filled on first use), row-major. Interior nodes'
 * buffers are step-local inside a scratch scope; a leaf's (a parameter's) outlive it, in the
 * backend's memory, and are reused from one zeroGrad() to the next.
 */
export function gradBuffer(v: Var): Float32Array {
  if (v.grad === null) {
    let storage: Float32Array;
    if (!v.isLeaf) storage = emptyF32(v.size);
    else if (v.spareGrad !== null && v.spareGrad.length === v.size) {
      storage = v.spareGrad.fill(0);
      v.spareGrad = null;
    } else storage = persistentF32(v.size);
    v.grad = new Tensor(storage, v.shape);
  }
  return v.grad.storage;
}

// True while a backward() without retainGraph runs the rules (see takeGrad).
let adoptionAllowed = false;

/**
 * dL/dv += g for a rule whose local derivative is the identity (reshape, add). When v has no
 * gradient yet it takes `g` itself instead of a zero-filled copy: g is the gradient buffer of
 * the node being processed, which nobody writes or reads once its rule has run. A rule may hand
 * one `g` to at most one parent this way (the others get `addGrad`). A leaf never takes a
 * step-local buffer, and nothing is handed on while a graph is retained.
 */
export function takeGrad(v: Var, g: Float32Array): void {
  if (v.grad === null && adoptionAllowed && g.length === v.size && !(v.isLeaf && inScratchScope())) {
    v.grad = new Tensor(g, v.shape);
    return;
  }
  addGrad(v, g);
}

/** dL/dv += g (same length), as a copy when v has no gradient yet. */
export function addGrad(v: Var, g: Float32Array): void {
  if (v.grad === null) {
    gradBuffer(v).set(g);
    return;
  }
  getBackend().axpy(v.grad.storage, g, 1);
}

/** Every node that requires grad below `root`, parents before children (iterative DFS). */
export function topologicalOrder(root: Var): Var[] {
  const order: Var[] = [];
  const visited = new Set<Var>([root]);
  // each frame: a node and how many of its parents have been pushed
  const stack: { node: Var; next: number }[] = [{ node: root, next: 0 }];
  while (stack.length > 0) {
    const frame = stack[stack.length - 1];
    const parents = frame.node.inputs;
    if (frame.next < parents.length) {
      const p = parents[frame.next++];
      if (p.isFreed) {
        // its rule already ran and its parents are gone: gradients would silently stop here
        throw new AutogradError("AUTOGRAD_BACKWARD", `backward: expected a live graph, found a ${p.op} node of shape ${formatShape(p.shape)} freed by an earlier backward() through another output (pass retainGraph: true to the first backward to keep shared parts)`);
      }
      if (p.requiresGrad && !visited.has(p)) {
        visited.add(p);
        stack.push({ node: p, next: 0 });
      }
    } else {
      order.push(frame.node);
      stack.pop();
    }
  }
  return order;
}

// ---- grad mode ---------------------------------------------------------------------------
let gradEnabled = true;

/** Whether ops currently record a graph. */
export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** Run `fn` with graph recording off (inference, evaluation, parameter updates). */
export function noGrad<T>(fn: () => T): T {
  const previous = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = previous;
  }
}

// ---- profiling (bench only) ----------------------------------------------------------------
let profile: Map<string, number> | null = null;

/**
 * Accumulate milliseconds spent in each op's backward rule into `into` (null turns it off).
 * Used by bench/block.mjs for its time breakdown; costs one branch per node when off.
 */
export function setBackwardProfile(into: Map<string, number> | null): void {
  profile = into;
}

function profileStep(op: string, run: () => void): void {
  if (profile === null) {
    run();
    return;
  }
  const t0 = performance.now();
  run();
  profile.set(op, (profile.get(op) ?? 0) + performance.now() - t0);
}

/** A trainable leaf: `param(t)` is `new Var(t, { requiresGrad: true })`. */
export function param(value: Tensor): Var {
  return new Var(value, { requiresGrad: true });
}

/** A constant leaf (an input). */
export function constant(value: Tensor): Var {
  return new Var(value);
}
