// The tensor engine: the Var node type, grad mode, and every op as `F.<op>`.
export { Var, noGrad, isGradEnabled, param, constant, setBackwardProfile } from "./var";
export * as F from "./functional";
export { scratchScope, scratchBytes, inScratchScope } from "./alloc";
export { ROW_BLOCK, type RowBlocks } from "./matmul";
