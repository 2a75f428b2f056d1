import { AutogradError, describe } from "../errors";
import { initWeight, resolveInitScheme, type InitScheme } from "./init";
import { Rng } from "@zero-llm/tensor";
import { Value, type Operand } from "./value";

/** Neuron, Layer and MLP built from scalar Values (the micrograd shapes). */

export const ACTIVATIONS = ["linear", "relu", "tanh", "sigmoid", "gelu"] as const;
export type Activation = (typeof ACTIVATIONS)[number];

function checkActivation(name: unknown): Activation {
  if (typeof name === "string" && (ACTIVATIONS as readonly string[]).includes(name)) return name as Activation;
  throw new AutogradError("AUTOGRAD_UNKNOWN_NAME", `activation: expected one of ${ACTIVATIONS.join(", ")}, found ${JSON.stringify(name) ?? describe(name)}`);
}

function checkSize(n: unknown, what: string): number {
  if (typeof n !== "number" || !Number.isInteger(n) || n < 1) {
    throw new AutogradError("AUTOGRAD_BAD_ARGUMENT", `${what}: expected a positive integer, found ${describe(n)}`);
  }
  return n;
}

export function activate(x: Value, activation: Activation): Value {
  switch (activation) {
    case "linear":
      return x;
    case "relu":
      return x.relu();
    case "tanh":
      return x.tanh();
    case "sigmoid":
      return x.sigmoid();
    case "gelu":
      return x.gelu();
  }
}

/**
 * What every scalar-engine model is (micrograd's `Module`): its parameters, and zeroGrad over them.
 * The tensor engine's counterpart is `nn.Module`.
 */
export abstract class ScalarModule {
  /** Every trainable Value, in a fixed order (layer by layer, neuron by neuron, weights then bias). */
  abstract parameters(): Value[];

  /** Sets every parameter's grad to 0. Call it before each backward() unless you mean to accumulate. */
  zeroGrad(): void {
    for (const p of this.parameters()) p.grad = 0;
  }
}

/**
 * @deprecated Renamed `ScalarModule` so that the root export and `nn.Module` (the tensor engine's)
 * no longer share a name; this alias goes in the next major version.
 */
export const Module = ScalarModule;
/** @deprecated Renamed `ScalarModule`. */
export type Module = ScalarModule;

export interface NeuronOptions {
  activation?: Activation;
  /** Weight init scheme or alias (default "kaiming"); biases start at 0. */
  init?: InitScheme | string;
  /** Source of randomness (default: new Rng(0)). */
  rng?: Rng;
  /** The size of the layer this neuron sits in; Xavier's fan-out. Default 1. */
  fanOut?: number;
  /** Prefix for parameter labels in graph exports, e.g. "l0.n3". */
  name?: string;
}

/** One unit: activation(Σᵢ wᵢ·xᵢ + b). */
export class Neuron extends ScalarModule {
  readonly w: Value[];
  readonly b: Value;
  readonly activation: Activation;

  constructor(nin: number, options: NeuronOptions = {}) {
    super();
    checkSize(nin, "Neuron fan-in");
    const scheme = resolveInitScheme(options.init ?? "kaiming");
    const rng = options.rng ?? new Rng(0);
    const fanOut = checkSize(options.fanOut ?? 1, "Neuron fan-out");
    const name = options.name ?? "n";
    this.activation = checkActivation(options.activation ?? "relu");
    this.w = [];
    for (let i = 0; i < nin; i++) this.w.push(new Value(initWeight(scheme, nin, fanOut, rng), `${name}.w${i}`));
    this.b = new Value(0, `${name}.b`);
  }

  forward(x: readonly Operand[]): Value {
    if (!Array.isArray(x) || x.length !== this.w.length) {
      throw new AutogradError(
        "AUTOGRAD_INPUT_SIZE",
        `Neuron.forward: expected ${this.w.length} inputs, found ${Array.isArray(x) ? x.length : describe(x)}`,
      );
    }
    const terms: Value[] = this.w.map((wi, i) => wi.mul(x[i]));
    terms.push(this.b);
    return activate(Value.sum(terms), this.activation);
  }

  parameters(): Value[] {
    return [...this.w, this.b];
  }
}

export type LayerOptions = Omit<NeuronOptions, "fanOut">;

/** nout neurons reading the same nin inputs. */
export class Layer extends ScalarModule {
  readonly neurons: Neuron[];

  constructor(nin: number, nout: number, options: LayerOptions = {}) {
    super();
    checkSize(nout, "Layer size");
    const rng = options.rng ?? new Rng(0);
    const name = options.name ?? "l";
    this.neurons = [];
    for (let j = 0; j < nout; j++) this.neurons.push(new Neuron(nin, { ...options, rng, fanOut: nout, name: `${name}.n${j}` }));
  }

  get nin(): number {
    return this.neurons[0].w.length;
  }

  forward(x: readonly Operand[]): Value[] {
    return this.neurons.map((n) => n.forward(x));
  }

  parameters(): Value[] {
    return this.neurons.flatMap((n) => n.parameters());
  }
}

export interface MLPOptions {
  /**
   * Activation of the hidden layers: one name for all of them, or one per hidden layer
   * (length nouts.length − 1). Default "relu".
   */
  activation?: Activation | readonly Activation[];
  /** Activation of the last layer. Default "linear" (raw scores; the loss decides what they mean). */
  outputActivation?: Activation;
  init?: InitScheme | string;
  rng?: Rng;
}

/** A multi-layer perceptron: sizes nin → nouts[0] → … → nouts[last]. */
export class MLP extends ScalarModule {
  readonly layers: Layer[];

  constructor(nin: number, nouts: readonly number[], options: MLPOptions = {}) {
    super();
    checkSize(nin, "MLP input size");
    if (!Array.isArray(nouts) || nouts.length === 0) {
      throw new AutogradError("AUTOGRAD_BAD_ARGUMENT", `MLP: expected at least one layer size, found ${JSON.stringify(nouts)}`);
    }
    const hidden = nouts.length - 1;
    const given = options.activation ?? "relu";
    const hiddenActivations: readonly Activation[] = typeof given === "string" ? new Array<Activation>(hidden).fill(given) : given;
    if (hiddenActivations.length !== hidden) {
      throw new AutogradError(
        "AUTOGRAD_BAD_ARGUMENT",
        `MLP: expected ${hidden} hidden-layer activations, found ${hiddenActivations.length}`,
      );
    }
    const rng = options.rng ?? new Rng(0);
    const sizes = [nin, ...nouts];
    this.layers = [];
    for (let l = 0; l < nouts.length; l++) {
      const activation = l < hidden ? hiddenActivations[l] : (options.outputActivation ?? "linear");
      this.layers.push(new Layer(sizes[l], sizes[l + 1], { activation, init: options.init ?? "kaiming", rng, name: `l${l}` }));
    }
  }

  /** The last layer's outputs. */
  forward(x: readonly Operand[]): Value[] {
    const outs = this.layerOutputs(x);
    return outs[outs.length - 1];
  }

  /** Every layer's outputs, first to last (for inspecting activations, e.g. dead ReLUs). */
  layerOutputs(x: readonly Operand[]): Value[][] {
    const outs: Value[][] = [];
    // Wrap plain-number inputs once, not once per neuron of the first layer.
    let h: readonly Operand[] = Array.isArray(x) ? x.map((xi, i) => (xi instanceof Value ? xi : new Value(xi, `x${i}`))) : x;
    for (const layer of this.layers) {
      const next = layer.forward(h);
      outs.push(next);
      h = next;
    }
    return outs;
  }

  parameters(): Value[] {
    return this.layers.flatMap((l) => l.parameters());
  }
}

/**
 * Hidden ReLU units that output 0 for every input in `inputs` ("dead": their incoming weights
 * get no gradient from this data; only a change in the layers below can bring them back, which
 * is why the demo's count can fall). The output layer is not counted, whatever its activation.
 */
export function countDeadRelu(mlp: MLP, inputs: readonly (readonly Operand[])[]): { dead: number; total: number } {
  const hidden = mlp.layers.slice(0, -1);
  const reluLayers = hidden.map((l, i) => ({ i, relu: l.neurons[0].activation === "relu" })).filter((l) => l.relu);
  const alive = reluLayers.map((l) => new Array<boolean>(mlp.layers[l.i].neurons.length).fill(false));
  for (const x of inputs) {
    const outs = mlp.layerOutputs(x);
    reluLayers.forEach((l, k) => outs[l.i].forEach((v, j) => (alive[k][j] ||= v.data > 0)));
  }
  const total = alive.reduce((n, a) => n + a.length, 0);
  const dead = alive.reduce((n, a) => n + a.filter((x) => !x).length, 0);
  return { dead, total };
}
