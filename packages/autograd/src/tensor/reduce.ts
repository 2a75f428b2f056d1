/**
 * Reductions. sum and mean take any set of axes; the backward pass spreads the output gradient
 * back over the reduced axes with the broadcast index map (the transpose of broadcasting).
 * max takes one axis (or all) and routes the gradient to the first maximal element, as
 * torch.max(x, dim).
 */
import { Var, gradBuffer } from "./var";
import { emptyTensor } from "./alloc";
import { broadcastIndex, normAxis } from "./broadcast";

function axesOf(op: string, x: Var, axis: number | readonly number[] | undefined): Set<number> {
  if (axis === undefined) return new Set(x.shape.map((_, i) => i));
  const list = typeof axis === "number" ? [axis] : axis;
  return new Set(list.map((a) => normAxis(op, a, x.ndim)));
}

/** Σ over `axis` (all axes when omitted). Accumulates in float64. */
export function sum(x: Var, axis?: number | readonly number[], keepdim = false): Var {
  return sumScaled("sum", x, axesOf("sum", x, axis), keepdim, 1);
}

/** Mean over `axis` (all axes when omitted). */
export function mean(x: Var, axis?: number | readonly number[], keepdim = false): Var {
  const axes = axesOf("mean", x, axis);
  let count = 1;
  for (const a of axes) count *= x.shape[a];
  return sumScaled("mean", x, axes, keepdim, 1 / count);
}

function sumScaled(op: string, x: Var, axes: Set<number>, keepdim: boolean, scale: number): Var {
  const keptShape = x.shape.map((d, i) => (axes.has(i) ? 1 : d));
  const outShape = keepdim ? keptShape : x.shape.filter((_, i) => !axes.has(i));
  // element i of x adds into element index[i] of the [kept…] result
  const index = broadcastIndex(keptShape, x.shape);
  const xd = x.data;
  const acc = new Float64Array(emptyTensor(keptShape).size);
  for (let i = 0; i < xd.length; i++) acc[index ? index[i] : i] += xd[i];
  const out = emptyTensor(outShape);
  for (let j = 0; j < acc.length; j++) out.storage[j] = acc[j] * scale;
  return Var.fromOp(out, op, [x], (g) => {
    // d(s·Σx)/dx_i = s, for every x_i that fed the output element
    const gx = gradBuffer(x);
    for (let i = 0; i < gx.length; i++) gx[i] += scale * g[index ? index[i] : i];
  });
}

/** max over one axis (all elements when omitted); the gradient goes to the first argmax. */
export function max(x: Var, axis?: number, keepdim = false): Var {
  const xd = x.data;
  // view x as [outer, n, inner] with n the reduced axis
  let outer = 1, n = x.size, inner = 1;
  let outShape: number[] = [];
  if (axis !== undefined) {
    const ax = normAxis("max", axis, x.ndim);
    outer = 1; inner = 1; n = x.shape[ax];
    for (let i = 0; i < ax; i++) outer *= x.shape[i];
    for (let i = ax + 1; i < x.ndim; i++) inner *= x.shape[i];
    outShape = keepdim ? x.shape.map((d, i) => (i === ax ? 1 : d)) : x.shape.filter((_, i) => i !== ax);
  } else if (keepdim) {
    outShape = x.shape.map(() => 1);
  }
  const out = emptyTensor(outShape);
  const argmax = new Int32Array(outer * inner);
  for (let o = 0; o < outer; o++) {
    for (let q = 0; q < inner; q++) {
      let best = o * n * inner + q;
      for (let j = 1; j < n; j++) {
        const at = (o * n + j) * inner + q;
        if (xd[at] > xd[best] || (xd[at] !== xd[at] && xd[best] === xd[best])) best = at; // NaN wins
      }
      argmax[o * inner + q] = best;
      out.storage[o * inner + q] = xd[best];
    }
  }
  return Var.fromOp(out, "max", [x], (g) => {
    // d max/dx_i = 1 for the selected element, 0 elsewhere
    const gx = gradBuffer(x);
    for (let j = 0; j < argmax.length; j++) gx[argmax[j]] += g[j];
  });
}
