import { F, Value, Var, nn } from "@zero-llm/autograd";
import { Rng, randn } from "@zero-llm/tensor";

/**
 * The signal and the gradient through a deep stack of bare layers: h₀ = x (unit-variance inputs),
 * hₗ = act(Wₗ·hₗ₋₁ + b) for 50 layers. Forward, we record the root mean square of every hₗ;
 * backward, from a random unit-variance gradient at the top (so the top's size does not depend
 * on the signal's), the RMS of dL/dhₗ at every layer. Each layer multiplies both by a factor set by
 * the initialization: only a factor of 1 (Xavier for tanh, Kaiming for ReLU) keeps them alive.
 */
export const INITS = {
  zeros: "zeros",
  tiny: "tiny random N(0, 0.01²)",
  large: "large random N(0, 1)",
  xavier: "Xavier U(±√(6/(in+out)))",
  kaiming: "Kaiming N(0, 2/in)",
} as const;
export type InitName = keyof typeof INITS;
export type DepthActivation = "relu" | "tanh";

export interface DepthOptions { init: InitName; activation: DepthActivation; depth?: number; width?: number; batch?: number; seed?: number; bias?: number }

export interface DepthResult {
  /** RMS of hₗ for l = 0 … depth (0 is the input). */
  signal: number[];
  /** RMS of dL/dhₗ for l = 0 … depth. */
  gradient: number[];
  /** Per layer 1 … depth: units whose output is 0 for every example of the batch (ReLU only; 0 for tanh). */
  dead: number[];
  /**
   * The first layer whose output left the float32 range (∞, then NaN), or null. From there on the
   * numbers mean nothing: signal and gradient are NaN past it (a chart breaks the line there).
   */
  overflowAt: number | null;
}

const rms = (a: Float32Array): number => {
  let s = 0;
  for (const v of a) s += v * v;
  return Math.sqrt(s / a.length);
};

export function depthExperiment(o: DepthOptions): DepthResult {
  const depth = o.depth ?? 50, width = o.width ?? 128, batch = o.batch ?? 64;
  const g = new Rng(o.seed ?? 1);
  const x = new Var(randn([batch, width], g), { requiresGrad: true }); // its grad is dL/dh₀
  const hs: Var[] = [x];
  const dead: number[] = [];
  let overflowAt: number | null = null;
  let h = x;
  for (let l = 1; l <= depth; l++) {
    const layer = new nn.Linear(width, width, { bias: true, generator: g });
    switch (o.init) {
      case "zeros": nn.init.zeros(layer.weight); break;
      case "tiny": nn.init.normal(layer.weight, 0.01, g); break;
      case "large": nn.init.normal(layer.weight, 1, g); break;
      case "xavier": nn.init.xavierUniform(layer.weight, g); break;
      case "kaiming": nn.init.kaimingNormal(layer.weight, g); break;
    }
    layer.bias?.data.fill(o.bias ?? 0); // made with bias: true, so always there
    h = o.activation === "relu" ? F.relu(layer.forward(h)) : F.tanh(layer.forward(h));
    hs.push(h);
    if (overflowAt === null && !h.data.every(Number.isFinite)) overflowAt = l;
    if (o.activation === "relu") {
      const out = h.data;
      let count = 0;
      for (let j = 0; j < width; j++) {
        let alive = false;
        for (let b = 0; b < batch && !alive; b++) alive = out[b * width + j] > 0;
        if (!alive) count++;
      }
      dead.push(count);
    } else dead.push(0);
  }
  const seed = randn([batch, width], g);
  h.backward(seed, { retainGraph: true });
  const cut = (l: number, v: number) => (overflowAt !== null && l > overflowAt ? NaN : v);
  return {
    signal: hs.map((v, l) => cut(l, rms(v.data))),
    gradient: hs.map((v) => (overflowAt !== null ? NaN : v.grad ? rms(v.grad.contiguous().data) : 0)),
    dead,
    overflowAt,
  };
}

export const ACTIVATION_NAMES = ["relu", "sigmoid", "tanh", "gelu", "silu"] as const;
export type ActivationName = (typeof ACTIVATION_NAMES)[number];

/**
 * An activation and its derivative at n points on [lo, hi], the derivative taken by the scalar
 * engine's backward() (not a formula written here); SiLU is composed as x·sigmoid(x).
 */
export function activationCurve(name: ActivationName, lo = -5, hi = 5, n = 201): { f: [number, number][]; df: [number, number][] } {
  const f: [number, number][] = [], df: [number, number][] = [];
  for (let i = 0; i < n; i++) {
    const xv = lo + ((hi - lo) * i) / (n - 1);
    const x = new Value(xv, "x");
    const y = name === "silu" ? x.mul(x.sigmoid()) : name === "relu" ? x.relu() : name === "sigmoid" ? x.sigmoid() : name === "tanh" ? x.tanh() : x.gelu();
    y.backward();
    f.push([xv, y.data]);
    df.push([xv, x.grad]);
  }
  return { f, df };
}
