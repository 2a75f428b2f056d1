// The kernel module. Every export takes byte addresses into the (imported) linear memory and
// sizes in elements; the host (src/backend/wasm.ts) owns allocation and threading.
export { softmax, rmsnorm, layernorm } from "./rowwise";
export { add, mul, silu, gelu, swiglu } from "./elementwise";
export { rope, ropeBatch } from "./rope";
export { attentionBatch } from "./attention";
export { matmul, matvec, linear, linearGroup, linearSwiglu, attention, matmulQuant, attentionPacked, runJob, runJobPart } from "./jobs";
export { quantizeActivations, activationRowBytes } from "./quant-activation";
export { packKvRows } from "./kv-pack";
export { MATMUL_SCRATCH } from "./gemm";
export { transpose, gatherHeads, scatterHeadsAdd, axpy, mulAdd, scale, sumSquares, geluBackward, siluBackward, adam } from "./train";
export { softmaxBackward, layernormBackward, rmsnormBackward, crossEntropyBackward, expSumRows } from "./train-rows";
export { CTRL_BYTES, MAX_THREADS } from "./jobs";
export { decodeLayersPart, DECODE_DESC_SLOTS, DECODE_LAYER_SLOTS } from "./decode-rows";
