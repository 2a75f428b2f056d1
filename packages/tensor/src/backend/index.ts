export type { Backend, TrainKernels, AdamHyper, DecodeLayersShape, DecodeLayerWeights, DecodeLayersBuffers, DecodeLayersPlan } from "./backend";
export { jsBackend } from "./js";
export { createWasmBackend } from "./wasm";
export type { WasmBackend, WasmBackendOptions } from "./wasm";
