/**
 * Elementwise ops with NumPy/PyTorch broadcasting. Binary ops read both operands through
 * broadcast strides (stride 0 on a broadcast axis), so `x.add(bias)` never materialises the
 * expanded bias. add/mul on two contiguous tensors of one shape, silu and gelu go to the
 * current backend; the rest are the loops below.
 */
import { Tensor } from "../tensor/tensor";
import { allocStorage, getBackend } from "../tensor/current-backend";
import { broadcastShapes, sameShape } from "../tensor/shape";
import { broadcastStrides, stridedBinary } from "./strided";

type Binary = (a: number, b: number) => number;
type Unary = (x: number) => number;

function asTensor(x: Tensor | number): Tensor {
  if (x instanceof Tensor) return x;
  const storage = allocStorage(1);
  storage[0] = x;
  return new Tensor(storage, []);
}

/** out = fn(a, b) over the broadcast of both shapes. */
export function binaryOp(op: string, a: Tensor | number, b: Tensor | number, fn: Binary): Tensor {
  const ta = asTensor(a), tb = asTensor(b);
  const shape = broadcastShapes(op, ta.shape, tb.shape);
  const out = Tensor.empty(shape);
  stridedBinary(
    out.storage, shape,
    ta.storage, broadcastStrides(ta.shape, ta.strides, shape), ta.offset,
    tb.storage, broadcastStrides(tb.shape, tb.strides, shape), tb.offset,
    fn,
  );
  return out;
}

/** out = fn(x) elementwise; the result is contiguous whatever the layout of x. */
export function unaryOp(x: Tensor, fn: Unary): Tensor {
  const src = x.data;
  const out = Tensor.empty(x.shape);
  const dst = out.storage;
  for (let i = 0; i < dst.length; i++) dst[i] = fn(src[i]);
  return out;
}

/** Both operands contiguous tensors of one shape: the case a backend kernel can take whole. */
function sameLayout(a: Tensor | number, b: Tensor | number): [Tensor, Tensor] | null {
  if (!(a instanceof Tensor) || !(b instanceof Tensor)) return null;
  return sameShape(a.shape, b.shape) && a.isContiguous() && b.isContiguous() ? [a, b] : null;
}

export function add(a: Tensor | number, b: Tensor | number): Tensor {
  const pair = sameLayout(a, b);
  if (!pair) return binaryOp("add", a, b, (x, y) => x + y);
  const out = Tensor.empty(pair[0].shape);
  getBackend().add(out.storage, pair[0].data, pair[1].data);
  return out;
}

export function mul(a: Tensor | number, b: Tensor | number): Tensor {
  const pair = sameLayout(a, b);
  if (!pair) return binaryOp("mul", a, b, (x, y) => x * y);
  const out = Tensor.empty(pair[0].shape);
  getBackend().mul(out.storage, pair[0].data, pair[1].data);
  return out;
}

export const sub = (a: Tensor | number, b: Tensor | number): Tensor => binaryOp("sub", a, b, (x, y) => x - y);
export const div = (a: Tensor | number, b: Tensor | number): Tensor => binaryOp("div", a, b, (x, y) => x / y);
export const pow = (a: Tensor | number, b: Tensor | number): Tensor => binaryOp("pow", a, b, (x, y) => Math.pow(x, y));
/** Elementwise max; NaN wins, as in torch.maximum. */
export const maximum = (a: Tensor | number, b: Tensor | number): Tensor =>
  binaryOp("maximum", a, b, (x, y) => (x !== x || y !== y ? NaN : x > y ? x : y));
export const minimum = (a: Tensor | number, b: Tensor | number): Tensor =>
  binaryOp("minimum", a, b, (x, y) => (x !== x || y !== y ? NaN : x < y ? x : y));

// Comparisons give 1 for true and 0 for false: a float mask usable by `where` and `maskedFill`.
export const eq = (a: Tensor | number, b: Tensor | number): Tensor => binaryOp("eq", a, b, (x, y) => (x === y ? 1 : 0));
export const gt = (a: Tensor | number, b: Tensor | number): Tensor => binaryOp("gt", a, b, (x, y) => (x > y ? 1 : 0));
export const ge = (a: Tensor | number, b: Tensor | number): Tensor => binaryOp("ge", a, b, (x, y) => (x >= y ? 1 : 0));
export const lt = (a: Tensor | number, b: Tensor | number): Tensor => binaryOp("lt", a, b, (x, y) => (x < y ? 1 : 0));
export const le = (a: Tensor | number, b: Tensor | number): Tensor => binaryOp("le", a, b, (x, y) => (x <= y ? 1 : 0));

export const neg = (x: Tensor): Tensor => unaryOp(x, (v) => -v);
export const abs = (x: Tensor): Tensor => unaryOp(x, Math.abs);
export const exp = (x: Tensor): Tensor => unaryOp(x, Math.exp);
export const log = (x: Tensor): Tensor => unaryOp(x, Math.log);
export const sqrt = (x: Tensor): Tensor => unaryOp(x, Math.sqrt);
export const rsqrt = (x: Tensor): Tensor => unaryOp(x, (v) => 1 / Math.sqrt(v));
export const tanh = (x: Tensor): Tensor => unaryOp(x, Math.tanh);
export const relu = (x: Tensor): Tensor => unaryOp(x, (v) => (v > 0 ? v : 0));
/** 1 / (1 + e^-x), written so that neither branch overflows for large |x|. */
export const sigmoid = (x: Tensor): Tensor =>
  unaryOp(x, (v) => (v >= 0 ? 1 / (1 + Math.exp(-v)) : Math.exp(v) / (1 + Math.exp(v))));

/** x · sigmoid(x) (SiLU / swish), on the current backend. */
export function silu(x: Tensor): Tensor {
  const out = Tensor.empty(x.shape);
  getBackend().silu(out.storage, x.data);
  return out;
}

/** GELU, tanh approximation (GPT-2; torch gelu(approximate="tanh")), on the current backend. */
export function gelu(x: Tensor): Tensor {
  const out = Tensor.empty(x.shape);
  getBackend().gelu(out.storage, x.data);
  return out;
}

/** silu(gate) · up, the SwiGLU feed-forward step; one fused backend kernel when shapes agree. */
export function swiglu(gate: Tensor, up: Tensor): Tensor {
  if (!sameShape(gate.shape, up.shape)) return mul(silu(gate), up);
  const out = Tensor.empty(gate.shape);
  getBackend().swiglu(out.storage, gate.data, up.data);
  return out;
}
