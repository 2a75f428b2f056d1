export type { Backend, TrainKernels, AdamHyper } from "./backend";
export { jsBackend } from "./js";
export { createWasmBackend } from "./wasm";
export type { WasmBackend, WasmBackendOptions } from "./wasm";
