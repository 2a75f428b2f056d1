/**
 * Weight initializers, in place on a parameter's values, drawing from a seedable Rng
 * (xoshiro128**, from @zero-llm/tensor). The formulas are PyTorch's (torch.nn.init), for a
 * weight [fanOut, fanIn] (nn.Linear layout):
 *
 *   normal(std)       N(0, std²)                        GPT-2 uses std 0.02
 *   xavierUniform     U(−a, a),  a = gain·√(6 / (fanIn + fanOut))
 *   xavierNormal      N(0, σ²),  σ = gain·√(2 / (fanIn + fanOut))
 *   kaimingUniform    U(−b, b),  b = gain·√(3 / fanIn),  gain = √2 for ReLU
 *   kaimingNormal     N(0, σ²),  σ = gain / √fanIn
 */
import type { Rng } from "@zero-llm/tensor";
import { AutogradError } from "../errors";
import type { Var } from "../tensor/var";

/**
 * fanIn and fanOut of a weight: [out, in, ...receptive] -> (in·receptive, out·receptive). Fans
 * are undefined below 2 axes (a bias or a norm gain has no fan-in), so those are rejected as in
 * torch.nn.init, rather than guessed.
 */
export function fans(p: Var): { fanIn: number; fanOut: number } {
  if (p.ndim < 2) {
    throw new AutogradError("AUTOGRAD_BAD_ARGUMENT", `init: fan-in and fan-out need a weight with at least 2 axes [out, in, ...], found shape [${p.shape.join(", ")}]`);
  }
  const receptive = p.shape.slice(2).reduce((a, b) => a * b, 1);
  return { fanIn: p.shape[1] * receptive, fanOut: p.shape[0] * receptive };
}

export function normal(p: Var, std: number, generator: Rng, mean = 0): Var {
  const d = p.data;
  for (let i = 0; i < d.length; i++) d[i] = mean + std * generator.normal();
  return p;
}

export function uniform(p: Var, low: number, high: number, generator: Rng): Var {
  const d = p.data;
  for (let i = 0; i < d.length; i++) d[i] = low + (high - low) * generator.uniform();
  return p;
}

export function zeros(p: Var): Var {
  p.data.fill(0);
  return p;
}

export function ones(p: Var): Var {
  p.data.fill(1);
  return p;
}

export function xavierUniform(p: Var, generator: Rng, gain = 1): Var {
  const { fanIn, fanOut } = fans(p);
  const a = gain * Math.sqrt(6 / (fanIn + fanOut));
  return uniform(p, -a, a, generator);
}

export function xavierNormal(p: Var, generator: Rng, gain = 1): Var {
  const { fanIn, fanOut } = fans(p);
  return normal(p, gain * Math.sqrt(2 / (fanIn + fanOut)), generator);
}

export function kaimingUniform(p: Var, generator: Rng, gain = Math.SQRT2): Var {
  const b = gain * Math.sqrt(3 / fans(p).fanIn);
  return uniform(p, -b, b, generator);
}

export function kaimingNormal(p: Var, generator: Rng, gain = Math.SQRT2): Var {
  return normal(p, gain / Math.sqrt(fans(p).fanIn), generator);
}
