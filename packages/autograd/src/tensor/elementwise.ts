/**
 * Elementwise ops. Binary ops broadcast (NumPy/PyTorch rules) through an index map
 * (broadcast.ts); the same map sums each gradient back to its input's shape. A plain number
 * operand is a constant: `x.mul(2)` records no second parent.
 */
import { getBackend } from "@zero-llm/tensor";
import type { Tensor } from "@zero-llm/tensor";
import { Var, addGrad, gradBuffer, takeGrad } from "./var";
import { emptyTensor } from "./alloc";
import { broadcastIndex, broadcastOf } from "./broadcast";

interface Operands {
  out: Tensor;
  o: Float32Array;
  ad: Float32Array;
  bd: Float32Array;
  /** out[i] reads a[ia[i]] and b[ib[i]]; null = the identity map. */
  ia: Int32Array | null;
  ib: Int32Array | null;
}

function operands(op: string, a: Var, b: Var): Operands {
  const outShape = broadcastOf(op, a.shape, b.shape);
  const out = emptyTensor(outShape, false); // every element written below
  return { out, o: out.storage, ad: a.data, bd: b.data, ia: broadcastIndex(a.shape, outShape), ib: broadcastIndex(b.shape, outShape) };
}

/** gradIn[index[i]] += scale · g[i]: the gradient of a broadcast input is the sum over its copies. */
function accumulateReduced(gradIn: Float32Array, g: Float32Array, index: Int32Array | null, scale = 1): void {
  if (index === null) getBackend().axpy(gradIn, g, scale);
  else for (let i = 0; i < g.length; i++) gradIn[index[i]] += scale * g[i];
}

/** The backward of a sum's operand: dL/dv += g summed over v's broadcast copies. */
function passThrough(v: Var, g: Float32Array, index: Int32Array | null, adopt: boolean): void {
  if (index !== null) accumulateReduced(gradBuffer(v), g, index);
  else if (adopt) takeGrad(v, g);
  else addGrad(v, g);
}

// ---- binary ------------------------------------------------------------------------------
export function add(a: Var, b: Var | number): Var {
  if (typeof b === "number") return affine(a, 1, b);
  const { out, o, ad, bd, ia, ib } = operands("add", a, b);
  if (ia === null && ib === null) getBackend().add(o, ad, bd);
  else for (let i = 0; i < o.length; i++) o[i] = ad[ia ? ia[i] : i] + bd[ib ? ib[i] : i];
  return Var.fromOp(out, "add", [a, b], (g) => {
    // d(a+b)/da = 1, d(a+b)/db = 1: both receive dy itself (one may take the buffer)
    if (a.requiresGrad) passThrough(a, g, ia, true);
    if (b.requiresGrad) passThrough(b, g, ib, !a.requiresGrad);
  });
}

export function sub(a: Var, b: Var | number): Var {
  if (typeof b === "number") return affine(a, 1, -b);
  const { out, o, ad, bd, ia, ib } = operands("sub", a, b);
  for (let i = 0; i < o.length; i++) o[i] = ad[ia ? ia[i] : i] - bd[ib ? ib[i] : i];
  return Var.fromOp(out, "sub", [a, b], (g) => {
    // d(a-b)/da = 1, d(a-b)/db = -1
    if (a.requiresGrad) accumulateReduced(gradBuffer(a), g, ia);
    if (b.requiresGrad) accumulateReduced(gradBuffer(b), g, ib, -1);
  });
}

export function mul(a: Var, b: Var | number): Var {
  if (typeof b === "number") return affine(a, b, 0);
  const { out, o, ad, bd, ia, ib } = operands("mul", a, b);
  if (ia === null && ib === null) getBackend().mul(o, ad, bd);
  else for (let i = 0; i < o.length; i++) o[i] = ad[ia ? ia[i] : i] * bd[ib ? ib[i] : i];
  return Var.fromOp(out, "mul", [a, b], (g) => {
    // d(a·b)/da = b
    if (a.requiresGrad) mulAccumulate(gradBuffer(a), ia, g, bd, ib);
    // d(a·b)/db = a
    if (b.requiresGrad) mulAccumulate(gradBuffer(b), ib, g, ad, ia);
  });
}

/** gx[ix[i]] += g[i] · other[io[i]]; the loop without index maps is the common (no broadcast) case. */
function mulAccumulate(gx: Float32Array, ix: Int32Array | null, g: Float32Array, other: Float32Array, io: Int32Array | null): void {
  if (ix === null && io === null) getBackend().mulAdd(gx, g, other);
  else for (let i = 0; i < g.length; i++) gx[ix ? ix[i] : i] += g[i] * other[io ? io[i] : i];
}

export function div(a: Var, b: Var | number): Var {
  if (typeof b === "number") return affine(a, 1 / b, 0);
  const { out, o, ad, bd, ia, ib } = operands("div", a, b);
  for (let i = 0; i < o.length; i++) o[i] = ad[ia ? ia[i] : i] / bd[ib ? ib[i] : i];
  return Var.fromOp(out, "div", [a, b], (g) => {
    // d(a/b)/da = 1/b
    if (a.requiresGrad) {
      const ga = gradBuffer(a);
      for (let i = 0; i < g.length; i++) ga[ia ? ia[i] : i] += g[i] / bd[ib ? ib[i] : i];
    }
    // d(a/b)/db = -a/b² = -out/b
    if (b.requiresGrad) {
      const gb = gradBuffer(b);
      for (let i = 0; i < g.length; i++) {
        const j = ib ? ib[i] : i;
        gb[j] -= (g[i] * o[i]) / bd[j];
      }
    }
  });
}

// ---- unary -------------------------------------------------------------------------------

/** A unary op: out[i] = f(x[i]); `local(i)` is d(out)/d(x) at element i. */
function unary(x: Var, op: string, forward: (o: Float32Array, xd: Float32Array) => void, derivative: (o: Float32Array, xd: Float32Array, g: Float32Array, gx: Float32Array) => void): Var {
  const out = emptyTensor(x.shape, false); // forward writes every element
  const o = out.storage, xd = x.data;
  forward(o, xd);
  return Var.fromOp(out, op, [x], (g) => derivative(o, xd, g, gradBuffer(x)));
}

/** s·x + c. */
export function affine(x: Var, s: number, c: number): Var {
  return unary(x, "affine", (o, xd) => {
    for (let i = 0; i < o.length; i++) o[i] = s * xd[i] + c;
  }, (_o, _xd, g, gx) => {
    // d(s·x + c)/dx = s
    getBackend().axpy(gx, g, s);
  });
}

export function neg(x: Var): Var {
  return affine(x, -1, 0);
}

export function pow(x: Var, p: number): Var {
  return unary(x, "pow", (o, xd) => {
    for (let i = 0; i < o.length; i++) o[i] = Math.pow(xd[i], p);
  }, (_o, xd, g, gx) => {
    // d(x^p)/dx = p·x^(p-1); x⁰ is constant, so p = 0 contributes 0 (not 0·0⁻¹ = NaN at x = 0)
    if (p !== 0) for (let i = 0; i < g.length; i++) gx[i] += g[i] * p * Math.pow(xd[i], p - 1);
  });
}

export function exp(x: Var): Var {
  return unary(x, "exp", (o, xd) => {
    for (let i = 0; i < o.length; i++) o[i] = Math.exp(xd[i]);
  }, (o, _xd, g, gx) => {
    // d(e^x)/dx = e^x
    for (let i = 0; i < g.length; i++) gx[i] += g[i] * o[i];
  });
}

export function log(x: Var): Var {
  return unary(x, "log", (o, xd) => {
    for (let i = 0; i < o.length; i++) o[i] = Math.log(xd[i]);
  }, (_o, xd, g, gx) => {
    // d(ln x)/dx = 1/x
    for (let i = 0; i < g.length; i++) gx[i] += g[i] / xd[i];
  });
}

export function sqrt(x: Var): Var {
  return unary(x, "sqrt", (o, xd) => {
    for (let i = 0; i < o.length; i++) o[i] = Math.sqrt(xd[i]);
  }, (o, _xd, g, gx) => {
    // d(√x)/dx = 1/(2√x)
    for (let i = 0; i < g.length; i++) gx[i] += g[i] / (2 * o[i]);
  });
}

export function tanh(x: Var): Var {
  return unary(x, "tanh", (o, xd) => {
    for (let i = 0; i < o.length; i++) o[i] = Math.tanh(xd[i]);
  }, (o, _xd, g, gx) => {
    // d(tanh x)/dx = 1 - tanh²x
    for (let i = 0; i < g.length; i++) gx[i] += g[i] * (1 - o[i] * o[i]);
  });
}

export function sigmoid(x: Var): Var {
  return unary(x, "sigmoid", (o, xd) => {
    for (let i = 0; i < o.length; i++) {
      const v = xd[i];
      o[i] = v >= 0 ? 1 / (1 + Math.exp(-v)) : Math.exp(v) / (1 + Math.exp(v));
    }
  }, (o, _xd, g, gx) => {
    // dσ/dx = σ(1 - σ)
    for (let i = 0; i < g.length; i++) gx[i] += g[i] * o[i] * (1 - o[i]);
  });
}

export function relu(x: Var): Var {
  return unary(x, "relu", (o, xd) => {
    for (let i = 0; i < o.length; i++) o[i] = xd[i] > 0 ? xd[i] : 0;
  }, (_o, xd, g, gx) => {
    // d relu/dx = 1 where x > 0, else 0 (0 at x = 0, as PyTorch)
    for (let i = 0; i < g.length; i++) if (xd[i] > 0) gx[i] += g[i];
  });
}

// GELU, tanh approximation (GPT-2; torch gelu(approximate="tanh")):
//   gelu(x) = ½x(1 + tanh u),  u = k(x + c·x³),  k = √(2/π), c = 0.044715

export function gelu(x: Var): Var {
  return unary(x, "gelu", (o, xd) => getBackend().gelu(o, xd), (_o, xd, g, gx) => {
    // d gelu/dx = ½(1 + tanh u) + ½x(1 − tanh²u)·k(1 + 3c·x²)
    getBackend().geluBackward(gx, xd, g);
  });
}

export function silu(x: Var): Var {
  return unary(x, "silu", (o, xd) => getBackend().silu(o, xd), (_o, xd, g, gx) => {
    // d(x·σ(x))/dx = σ(x)(1 + x(1 − σ(x)))
    getBackend().siluBackward(gx, xd, g);
  });
}
