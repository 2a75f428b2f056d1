export { Value, topologicalOrder, type Operand, type ScalarOp } from "./value";
export { Rng, type RngState } from "./rng";
export { INIT_SCHEMES, initWeight, resolveInitScheme, type InitScheme } from "./init";
export {
  ACTIVATIONS,
  Layer,
  MLP,
  Module,
  Neuron,
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
