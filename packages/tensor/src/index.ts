// Tensors: the class, its factories and the pure ops its methods call.
export { Tensor } from "./tensor/tensor";
export type { NestedArray } from "./tensor/tensor";
export { getBackend, setBackend } from "./tensor/current-backend";
export { broadcastShapes, contiguousStrides, sizeOf } from "./tensor/shape";
export { TensorError, formatShape } from "./errors";
export type { TensorErrorCode } from "./errors";
export { Rng, Generator, getDefaultGenerator, manualSeed } from "./random";
export type { RngState } from "./random";
export { tensor, zeros, ones, full, arange, rand, randn, fromF16, fromBf16 } from "./ops/create";
export {
  reshape, view, transpose, permute, slice, select, expand, squeeze, unsqueeze, flatten, contiguous,
} from "./ops/view";
export { concat, stack, split, chunk } from "./ops/join";
export {
  add, sub, mul, div, pow, maximum, minimum, eq, gt, ge, lt, le,
  neg, abs, exp, log, sqrt, rsqrt, tanh, sigmoid, relu, gelu, silu, swiglu, binaryOp, unaryOp,
} from "./ops/elementwise";
export { sum, mean, max, min, variance, argmax, sumToShape } from "./ops/reduce";
export type { IndexTensor } from "./ops/reduce";
export { matmul, linear } from "./ops/matmul";
export { softmax, logSoftmax, layerNorm, rmsNorm, rope, attention, attentionWithProbs } from "./ops/nn";
export type { RopeStyle } from "./ops/nn";
export { indexSelect, embedding, indexTensor, where, maskedFill } from "./ops/indexing";
export type { Ids } from "./ops/indexing";
export * from "./backend/index";
export * from "./quant/index";
export * from "./io/index";
export * from "./dtype/half";
export { F32Linear, projectEach } from "./linear/linear-weight";
export { F32LinearGroup } from "./linear/linear-group";
export type { LinearWeight, LinearWeightType } from "./linear/linear-weight";
