export { Value, topologicalOrder, type Operand, type ScalarOp } from "./value";
// the workspace's one seeded generator (it lives in @zero-llm/tensor), re-exported for the scalar engine's users
export { Rng, type RngState } from "@zero-llm/tensor";
export { INIT_SCHEMES, initWeight, resolveInitScheme, type InitScheme } from "./init";
export {
  ACTIVATIONS,
  Layer,
  MLP,
  Module,
  Neuron,
  ScalarModule,
  activate,
  countDeadRelu,
  type Activation,
  type LayerOptions,
  type MLPOptions,
  type NeuronOptions,
} from "./nn";
export { hingeLoss, l2Penalty, mseLoss, signAccuracy } from "./loss";
export { makeMoons, type Dataset2D, type MoonsOptions } from "./datasets";
export { toDot, toGraphJson, type GraphEdge, type GraphJson, type GraphNode, type JsonNumber } from "./graph";
