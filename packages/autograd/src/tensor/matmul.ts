/**
 * Matrix products. Every product, forward and backward, is one call to the backend's matmul
 * kernel: out[b] (+)= A[b] · B[b] with B read as [k, n] or, with transB, as [n, k]. Backward of
 * C = A·B:
 *
 *   dA = dC · Bᵀ   (transB reads B in place: no transpose is materialised)
 *   dB = Aᵀ · dC   (the kernel has no transA, so Aᵀ is copied once: O(m·k), against O(m·k·n) work)
 *
 * `accumulate` makes the kernel add into the gradient buffer (the engine's `+=`).
 */
import { formatShape, getBackend } from "@zero-llm/tensor";
import { AutogradError } from "../errors";
import { Var, gradBuffer } from "./var";
import { emptyTensor } from "./alloc";
import { sameShape } from "./broadcast";
import { transposeBatched } from "./kernels";

/**
 * a [..., m, k] · b [..., k, n] -> [..., m, n]. `b` is either 2-d (shared by every batch: a
 * weight) or has exactly a's batch axes.
 */
export function matmul(a: Var, b: Var): Var {
  if (a.ndim < 2 || (b.ndim !== 2 && !sameShape(a.shape.slice(0, -2), b.shape.slice(0, -2))) || b.ndim < 2) {
    throw new AutogradError("AUTOGRAD_SHAPE_MISMATCH", `matmul: expected a [..., m, k] and b [k, n] or [..., k, n] with a's batch axes, found ${formatShape(a.shape)} and ${formatShape(b.shape)}`);
  }
  const m = a.shape[a.ndim - 2], k = a.shape[a.ndim - 1];
  const n = b.shape[b.ndim - 1];
  if (b.shape[b.ndim - 2] !== k) {
    throw new AutogradError("AUTOGRAD_SHAPE_MISMATCH", `matmul: inner dimensions differ: ${formatShape(a.shape)} x ${formatShape(b.shape)} (expected b's rows = ${k}, found ${b.shape[b.ndim - 2]})`);
  }
  const batch = a.size / (m * k);
  const shared = b.ndim === 2;
  const bBatchStride = shared ? 0 : k * n;
  const out = emptyTensor([...a.shape.slice(0, -1), n]);
  const ad = a.data, bd = b.data;
  const backend = getBackend();
  backend.matmul(out.storage, ad, bd, m, k, n, { batch, bBatchStride });
  return Var.fromOp(out, "matmul", [a, b], (g) => {
    // dA = dC·Bᵀ: [m, n]·[n, k]
    if (a.requiresGrad) {
      backend.matmul(gradBuffer(a), g, bd, m, n, k, { batch, bBatchStride, transB: true, accumulate: true });
    }
    if (b.requiresGrad) {
      if (shared) {
        // dB = Σ_b A[b]ᵀ·dC[b] = Aᵀ·dC with A as [batch·m, k]
        const at = transposeBatched(ad, 1, batch * m, k); // [k, batch·m]
        backend.matmul(gradBuffer(b), at, g, k, batch * m, n, { accumulate: true });
      } else {
        // dB[b] = A[b]ᵀ·dC[b]
        const at = transposeBatched(ad, batch, m, k); // [batch, k, m]
        backend.matmul(gradBuffer(b), at, g, k, m, n, { batch, accumulate: true });
      }
    }
  });
}

/**
 * y = x·Wᵀ + bias with W stored [out, in] (nn.Linear, GGUF): x [..., in] -> y [..., out].
 *
 *   forward  y  = x · Wᵀ       (transB: W read in place)
 *   dx = dy · W                [rows, out]·[out, in]
 *   dW = dyᵀ · x               [out, rows]·[rows, in]   (dyᵀ copied once)
 *   db = Σ_rows dy
 */
export function linear(x: Var, weight: Var, bias: Var | null = null): Var {
  const inF = x.shape[x.ndim - 1];
  if (weight.ndim !== 2 || weight.shape[1] !== inF || (bias !== null && (bias.ndim !== 1 || bias.shape[0] !== weight.shape[0]))) {
    throw new AutogradError("AUTOGRAD_SHAPE_MISMATCH", `linear: expected x [..., in], weight [out, in], bias [out]; found x ${formatShape(x.shape)}, weight ${formatShape(weight.shape)}, bias ${bias ? formatShape(bias.shape) : "none"}`);
  }
  const outF = weight.shape[0];
  const rows = x.size / inF;
  const out = emptyTensor([...x.shape.slice(0, -1), outF]);
  const y = out.storage, xd = x.data, wd = weight.data;
  const backend = getBackend();
  backend.matmul(y, xd, wd, rows, inF, outF, { transB: true });
  if (bias !== null) {
    const bd = bias.data;
    for (let r = 0; r < rows; r++) for (let j = 0; j < outF; j++) y[r * outF + j] += bd[j];
  }
  const parents = bias === null ? [x, weight] : [x, weight, bias];
  return Var.fromOp(out, "linear", parents, (g) => {
    // d(x·Wᵀ)/dx = W
    if (x.requiresGrad) backend.matmul(gradBuffer(x), g, wd, rows, outF, inF, { accumulate: true });
    // d(x·Wᵀ)/dW = dyᵀ·x
    if (weight.requiresGrad) {
      const gT = transposeBatched(g, 1, rows, outF); // [out, rows]
      backend.matmul(gradBuffer(weight), gT, xd, outF, rows, inF, { accumulate: true });
    }
    // d(y)/d(bias) = 1 for every row
    if (bias !== null && bias.requiresGrad) {
      const gb = gradBuffer(bias);
      for (let r = 0; r < rows; r++) for (let j = 0; j < outF; j++) gb[j] += g[r * outF + j];
    }
  });
}
