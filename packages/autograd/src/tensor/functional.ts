// Every tensor op as a function (torch.nn.functional style); exported as the `F` namespace.
export { add, sub, mul, div, affine, neg, pow, exp, log, sqrt, tanh, sigmoid, relu, gelu, silu } from "./elementwise";
export { sum, mean, max } from "./reduce";
export { matmul, linear, linearBlocks } from "./matmul";
export { reshape, permute, transpose, slice, concat, embedding } from "./shape";
export { softmax, logSoftmax, layerNorm, rmsNorm, rope, attention, dropout } from "./nn";
export type { RopeOptions } from "./nn";
export { crossEntropy, mseLoss } from "./loss";
export type { CrossEntropyOptions } from "./loss";
