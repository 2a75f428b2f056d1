import { AutogradError } from "../errors";
import type { Rng } from "@zero-llm/tensor";

/**
 * Weight initialization by name. Biases always start at 0; these schemes are for weights.
 *
 * | name      | aliases | distribution                                   | meant for            |
 * |-----------|---------|------------------------------------------------|----------------------|
 * | uniform   |         | U(−1, 1)                                       | micrograd's default  |
 * | xavier    | glorot  | U(−a, a), a = √(6 / (fanIn + fanOut))          | tanh, sigmoid, linear|
 * | kaiming   | he      | N(0, σ²), σ = √(2 / fanIn), Box–Muller normals | relu                 |
 * | zeros     |         | 0                                              | showing why symmetry must be broken |
 *
 * Xavier/Glorot (Glorot & Bengio, 2010) keeps the variance of activations and of gradients
 * equal across layers for symmetric activations: Var(w) = 2 / (fanIn + fanOut).
 * Kaiming/He (He et al., 2015, "fan_in" mode) doubles it for ReLU, which zeroes half its input:
 * Var(w) = 2 / fanIn.
 * With zeros every neuron of a layer computes the same output and receives the same gradient,
 * so they stay identical forever (and behind a ReLU, all gradients are 0).
 */
export const INIT_SCHEMES = ["uniform", "xavier", "kaiming", "zeros"] as const;
export type InitScheme = (typeof INIT_SCHEMES)[number];

const ALIASES: Readonly<Record<string, InitScheme>> = { glorot: "xavier", he: "kaiming" };

/** Resolves a scheme name or alias ("glorot", "he"), throwing AUTOGRAD_UNKNOWN_NAME otherwise. */
export function resolveInitScheme(name: string): InitScheme {
  if ((INIT_SCHEMES as readonly string[]).includes(name)) return name as InitScheme;
  const alias = ALIASES[name];
  if (alias !== undefined) return alias;
  throw new AutogradError(
    "AUTOGRAD_UNKNOWN_NAME",
    `init: expected one of ${[...INIT_SCHEMES, ...Object.keys(ALIASES)].join(", ")}, found "${name}"`,
  );
}

/** One weight for a neuron with `fanIn` inputs in a layer of `fanOut` neurons. */
export function initWeight(scheme: InitScheme, fanIn: number, fanOut: number, rng: Rng): number {
  switch (scheme) {
    case "uniform":
      return rng.uniformRange(-1, 1);
    case "xavier": {
      const a = Math.sqrt(6 / (fanIn + fanOut));
      return rng.uniformRange(-a, a);
    }
    case "kaiming":
      return rng.normal(0, Math.sqrt(2 / fanIn));
    case "zeros":
      return 0;
  }
}
