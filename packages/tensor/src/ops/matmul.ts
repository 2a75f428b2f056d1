/**
 * Matrix products with torch.matmul's rules:
 *   1-d · 1-d -> dot product (0-d);  2-d · 2-d -> [m, n];
 *   a 1-d operand is promoted to a matrix ([k] -> [1, k] on the left, [k, 1] on the right) and
 *   the added axis is removed from the result;
 *   ≥3-d: every axis but the last two is a batch axis, and batch axes broadcast.
 * The product itself is one backend call: out[b] = A[b] · B[b] for each of `batch` matrices.
 */
import { TensorError, formatShape } from "../errors";
import { Tensor } from "../tensor/tensor";
import { getBackend } from "../tensor/current-backend";
import { broadcastShapes, sizeOf } from "../tensor/shape";
import { add } from "./elementwise";
import { expand, reshape, squeeze, transpose, unsqueeze } from "./view";

export function matmul(a: Tensor, b: Tensor): Tensor {
  const where = `matmul: ${formatShape(a.shape)} x ${formatShape(b.shape)}`;
  if (a.ndim === 0 || b.ndim === 0) {
    throw new TensorError("SHAPE_MISMATCH", `${where}: both operands need at least 1 dimension`);
  }
  const a2 = a.ndim === 1 ? unsqueeze(a, 0) : a; // [k] -> [1, k]
  const b2 = b.ndim === 1 ? unsqueeze(b, 1) : b; // [k] -> [k, 1]
  const m = a2.shape[a2.ndim - 2], k = a2.shape[a2.ndim - 1];
  const kb = b2.shape[b2.ndim - 2], n = b2.shape[b2.ndim - 1];
  if (k !== kb) {
    throw new TensorError("SHAPE_MISMATCH", `${where}: inner dimensions ${k} and ${kb} differ`);
  }
  const aBatch = a2.shape.slice(0, -2), bBatch = b2.shape.slice(0, -2);
  let batchShape: number[];
  try {
    batchShape = broadcastShapes("matmul", aBatch, bBatch);
  } catch (cause) {
    throw new TensorError(
      "SHAPE_MISMATCH",
      `${where}: batch dimensions ${formatShape(aBatch)} and ${formatShape(bBatch)} cannot broadcast`,
      { cause },
    );
  }
  const batch = sizeOf(batchShape);

  // A: [batch…, m, k], materialised per batch (a broadcast A is copied; it is the small side in practice)
  const aData = expand(a2, [...batchShape, m, k]).data;

  // B shared by every batch (the nn.Linear case): pass it once with batch stride 0, and when it is
  // the transpose of a row-major [n, k] weight, read the weight in place with transB.
  let bData: Float32Array;
  let transB = false;
  let bBatchStride = k * n;
  if (sizeOf(bBatch) === 1) {
    const bMat = reshape(b2, [k, n]);
    bBatchStride = 0;
    if (k > 1 && n > 1 && bMat.strides[0] === 1 && bMat.strides[1] === k) {
      transB = true;
      bData = bMat.storage.subarray(bMat.offset, bMat.offset + n * k); // [n, k] row-major
    } else {
      bData = bMat.data;
    }
  } else {
    bData = expand(b2, [...batchShape, k, n]).data;
  }

  let out = Tensor.empty([...batchShape, m, n]);
  getBackend().matmul(out.storage, aData, bData, m, k, n, { batch, transB, bBatchStride });
  if (a.ndim === 1) out = squeeze(out, -2);
  if (b.ndim === 1) out = squeeze(out, -1);
  return out;
}

/**
 * y = x · Wᵀ + b with W stored [outFeatures, inFeatures] (PyTorch nn.Linear, GGUF): the
 * weight is read in place, never transposed in memory. x [..., in] -> y [..., out].
 */
export function linear(x: Tensor, weight: Tensor, bias: Tensor | null = null): Tensor {
  if (weight.ndim !== 2) {
    throw new TensorError(
      "SHAPE_MISMATCH",
      `linear: ${formatShape(x.shape)} x weight ${formatShape(weight.shape)}: weight must be 2-d [out, in]`,
    );
  }
  const y = matmul(x, transpose(weight, 0, 1));
  return bias ? add(y, bias) : y;
}
