// Layers over the tensor engine; exported as the `nn` namespace (nn.Linear, nn.Module, nn.init.normal).
export { Module, ModuleList } from "./module";
export { Linear, Embedding, LayerNorm, RMSNorm, Dropout } from "./layers";
export type { LinearOptions } from "./layers";
export * as init from "./init";
