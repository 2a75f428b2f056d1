/**
 * Matrix products. Every product, forward and backward, is one call to the backend's matmul
 * kernel: out[b] (+)= A[b] · B[b] with A read as [m, k] or, with transA, as [k, m], and B as
 * [k, n] or, with transB, as [n, k]. Backward of C = A·B:
 *
 *   dA = dC · Bᵀ   (transB reads B in place)
 *   dB = Aᵀ · dC   (transA reads A in place: no transpose is materialised)
 *
 * `accumulate` makes the kernel add into the gradient buffer (the engine's `+=`).
 */
import { formatShape, getBackend } from "@zero-llm/tensor";
import { AutogradError } from "../errors";
import { Var, gradBuffer } from "./var";
import { emptyF32, emptyTensor } from "./alloc";
import { broadcastIndex, broadcastOf, sameShape } from "./broadcast";

/**
 * a [..., m, k] · b [..., k, n] -> [..., m, n], batch axes broadcast as in torch.matmul (both
 * operands at least 2-d). A 2-d b (a weight shared by every batch) is the common case: the
 * batches are then just more rows of a.
 */
export function matmul(a: Var, b: Var): Var {
  if (a.ndim < 2 || b.ndim < 2) {
    throw new AutogradError("AUTOGRAD_SHAPE_MISMATCH", `matmul: expected a [..., m, k] and b [..., k, n] with at least 2 axes each, found ${formatShape(a.shape)} and ${formatShape(b.shape)}`);
  }
  const m = a.shape[a.ndim - 2], k = a.shape[a.ndim - 1];
  const n = b.shape[b.ndim - 1];
  if (b.shape[b.ndim - 2] !== k) {
    throw new AutogradError("AUTOGRAD_SHAPE_MISMATCH", `matmul: inner dimensions differ: ${formatShape(a.shape)} x ${formatShape(b.shape)} (expected b's rows = ${k}, found ${b.shape[b.ndim - 2]})`);
  }
  const aBatch = a.shape.slice(0, -2), bBatch = b.shape.slice(0, -2);
  if (b.ndim === 2 || sameShape(aBatch, bBatch)) return matmulAligned(a, b, m, k, n);
  return matmulBroadcast(a, b, broadcastOf("matmul", aBatch, bBatch), m, k, n);
}

// b shared (2-d) or with exactly a's batch axes: one kernel call per direction.
function matmulAligned(a: Var, b: Var, m: number, k: number, n: number): Var {
  const batch = a.size / (m * k);
  const shared = b.ndim === 2;
  const bBatchStride = shared ? 0 : k * n;
  const out = emptyTensor([...a.shape.slice(0, -1), n], false); // the product writes every element
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
        backend.matmul(gradBuffer(b), ad, g, k, batch * m, n, { transA: true, accumulate: true });
      } else {
        // dB[b] = A[b]ᵀ·dC[b]
        backend.matmul(gradBuffer(b), ad, g, k, m, n, { transA: true, batch, accumulate: true });
      }
    }
  });
}

// Broadcast batch axes: output matrix o reads a's matrix ia[o] and b's matrix ib[o]; the backward
// pass adds each product's gradient into the matrix it read, which sums over the broadcast copies.
function matmulBroadcast(a: Var, b: Var, batchShape: readonly number[], m: number, k: number, n: number): Var {
  const ia = broadcastIndex(a.shape.slice(0, -2), batchShape), ib = broadcastIndex(b.shape.slice(0, -2), batchShape);
  let batches = 1;
  for (const d of batchShape) batches *= d;
  const out = emptyTensor([...batchShape, m, n], false);
  const ad = a.data, bd = b.data, o = out.storage;
  const backend = getBackend();
  const A = (i: number): Float32Array => ad.subarray(i * m * k, (i + 1) * m * k);
  const B = (i: number): Float32Array => bd.subarray(i * k * n, (i + 1) * k * n);
  const aOf = (t: number): number => (ia === null ? t : ia[t]);
  const bOf = (t: number): number => (ib === null ? t : ib[t]);
  for (let t = 0; t < batches; t++) backend.matmul(o.subarray(t * m * n, (t + 1) * m * n), A(aOf(t)), B(bOf(t)), m, k, n);
  return Var.fromOp(out, "matmul", [a, b], (g) => {
    const G = (t: number): Float32Array => g.subarray(t * m * n, (t + 1) * m * n);
    if (a.requiresGrad) {
      // dA[ia[t]] += dC[t]·B[ib[t]]ᵀ
      const ga = gradBuffer(a);
      for (let t = 0; t < batches; t++) {
        const i = aOf(t);
        backend.matmul(ga.subarray(i * m * k, (i + 1) * m * k), G(t), B(bOf(t)), m, n, k, { transB: true, accumulate: true });
      }
    }
    if (b.requiresGrad) {
      // dB[ib[t]] += A[ia[t]]ᵀ·dC[t]
      const gb = gradBuffer(b);
      for (let t = 0; t < batches; t++) {
        const i = bOf(t);
        backend.matmul(gb.subarray(i * k * n, (i + 1) * k * n), A(aOf(t)), G(t), k, m, n, { transA: true, accumulate: true });
      }
    }
  });
}

/**
 * y = x·Wᵀ + bias with W stored [out, in] (nn.Linear, GGUF): x [..., in] -> y [..., out].
 *
 *   forward  y  = bias (each row) + x · Wᵀ   (transB: W read in place; accumulate onto the bias rows)
 *   dx = dy · W                [rows, out]·[out, in]
 *   dW = dyᵀ · x               [out, rows]·[rows, in]   (transA: dy read in place)
 *   db = 1ᵀ · dy               [1, rows]·[rows, out]    (column sums, as a product)
 */
export function linear(x: Var, weight: Var, bias: Var | null = null): Var {
  const inF = x.shape[x.ndim - 1];
  if (weight.ndim !== 2 || weight.shape[1] !== inF || (bias !== null && (bias.ndim !== 1 || bias.shape[0] !== weight.shape[0]))) {
    throw new AutogradError("AUTOGRAD_SHAPE_MISMATCH", `linear: expected x [..., in], weight [out, in], bias [out]; found x ${formatShape(x.shape)}, weight ${formatShape(weight.shape)}, bias ${bias ? formatShape(bias.shape) : "none"}`);
  }
  const outF = weight.shape[0];
  const rows = x.size / inF;
  const out = emptyTensor([...x.shape.slice(0, -1), outF], false); // bias rows or the product fill it
  const y = out.storage, xd = x.data, wd = weight.data;
  const backend = getBackend();
  if (bias !== null) {
    const bd = bias.data;
    for (let r = 0; r < rows; r++) y.set(bd, r * outF);
  }
  backend.matmul(y, xd, wd, rows, inF, outF, { transB: true, accumulate: bias !== null });
  const parents = bias === null ? [x, weight] : [x, weight, bias];
  return Var.fromOp(out, "linear", parents, (g) => {
    // d(x·Wᵀ)/dx = W
    if (x.requiresGrad) backend.matmul(gradBuffer(x), g, wd, rows, outF, inF, { accumulate: true });
    // d(x·Wᵀ)/dW = dyᵀ·x
    if (weight.requiresGrad) backend.matmul(gradBuffer(weight), g, xd, outF, rows, inF, { transA: true, accumulate: true });
    // d(y)/d(bias) = 1 for every row
    if (bias !== null && bias.requiresGrad) {
      const ones = emptyF32(rows, false).fill(1);
      backend.matmul(gradBuffer(bias), ones, g, 1, rows, outF, { accumulate: true });
    }
  });
}

/**
 * A frozen weight W [outFeatures, inFeatures] that is read a block of rows at a time: a matrix
 * stored as quantized blocks (Q8_0, Q4_0, Q4_K…) dequantizes `rows` rows from `firstRow` into
 * `out` ([rows, inFeatures], row-major) on each call, so no f32 copy of the whole W ever exists.
 */
export interface RowBlocks {
  readonly outFeatures: number;
  readonly inFeatures: number;
  readRows(out: Float32Array, firstRow: number, rows: number): void;
}

/** Rows of W decoded per block: 64 rows of a 4096-wide layer are 1 MB of f32. */
export const ROW_BLOCK = 64;

/**
 * y = x·Wᵀ + bias for a frozen W read block by block (QLoRA's base layer): the same function as
 * `linear`, with no gradient for W. Each pass decodes W once, ROW_BLOCK rows at a time, into one
 * scratch block of ROW_BLOCK × in floats.
 *
 *   forward   yᵀ[blk] = W[blk] · xᵀ      [b, in]·[in, rows] per block of b rows, into yᵀ [out, rows]
 *             y = (yᵀ)ᵀ + bias
 *   backward  dx = dy · W = Σ_blk dy[:, blk] · W[blk]
 *             with dyᵀ [out, rows] once, each block reads its rows dyᵀ[blk] as [b, rows] (transA)
 */
export function linearBlocks(x: Var, weight: RowBlocks, bias: Var | null = null): Var {
  const inF = x.shape[x.ndim - 1];
  const outF = weight.outFeatures;
  if (weight.inFeatures !== inF || (bias !== null && (bias.ndim !== 1 || bias.shape[0] !== outF))) {
    throw new AutogradError("AUTOGRAD_SHAPE_MISMATCH", `linearBlocks: expected x [..., in], weight [out, in], bias [out]; found x ${formatShape(x.shape)}, weight [${outF}, ${weight.inFeatures}], bias ${bias ? formatShape(bias.shape) : "none"}`);
  }
  const rows = x.size / inF;
  const backend = getBackend();
  const xd = x.data;
  const block = emptyF32(Math.min(ROW_BLOCK, outF) * inF, false);
  const yT = emptyF32(outF * rows, false); // [out, rows]
  for (let r0 = 0; r0 < outF; r0 += ROW_BLOCK) {
    const b = Math.min(ROW_BLOCK, outF - r0);
    weight.readRows(block.subarray(0, b * inF), r0, b);
    backend.matmul(yT.subarray(r0 * rows, (r0 + b) * rows), block.subarray(0, b * inF), xd, b, inF, rows, { transB: true });
  }
  const out = emptyTensor([...x.shape.slice(0, -1), outF], false);
  const y = out.storage;
  backend.transpose(y, yT, 1, outF, rows); // [out, rows] -> [rows, out]
  if (bias !== null) {
    const bd = bias.data;
    for (let r = 0; r < rows; r++) for (let o = 0; o < outF; o++) y[r * outF + o] += bd[o];
  }
  const parents = bias === null ? [x] : [x, bias];
  return Var.fromOp(out, "linearBlocks", parents, (g) => {
    // d(x·Wᵀ)/dx = W, one decoded block of rows at a time
    if (x.requiresGrad) {
      const gx = gradBuffer(x);
      const gT = emptyF32(outF * rows, false);
      backend.transpose(gT, g, 1, rows, outF); // dy [rows, out] -> dyᵀ [out, rows]
      const rowsOfW = emptyF32(Math.min(ROW_BLOCK, outF) * inF, false);
      for (let r0 = 0; r0 < outF; r0 += ROW_BLOCK) {
        const b = Math.min(ROW_BLOCK, outF - r0);
        weight.readRows(rowsOfW.subarray(0, b * inF), r0, b);
        backend.matmul(gx, gT.subarray(r0 * rows, (r0 + b) * rows), rowsOfW.subarray(0, b * inF), rows, b, inF, { transA: true, accumulate: true });
      }
    }
    // d(y)/d(bias) = 1 for every row
    if (bias !== null && bias.requiresGrad) {
      const ones = emptyF32(rows, false).fill(1);
      backend.matmul(gradBuffer(bias), ones, g, 1, rows, outF, { accumulate: true });
    }
  });
}
