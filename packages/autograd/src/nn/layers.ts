import type { Rng } from "@zero-llm/tensor";
import { Tensor, getDefaultGenerator } from "@zero-llm/tensor";
import { AutogradError } from "../errors";
import type { Var } from "../tensor/var";
import { linear } from "../tensor/matmul";
import { embedding } from "../tensor/shape";
import { dropout, layerNorm, rmsNorm } from "../tensor/nn";
import { Module } from "./module";
import { persistentF32 } from "../tensor/alloc";
import * as init from "./init";

// Parameters live in the current backend's memory (wasm memory for the wasm backend), so the
// kernels of every training step read and update them in place.
function zerosTensor(shape: readonly number[]): Tensor {
  return new Tensor(persistentF32(shape.reduce((a, b) => a * b, 1)), shape);
}

function checkSize(layer: string, name: string, n: number): void {
  if (!Number.isInteger(n) || n <= 0) {
    throw new AutogradError("AUTOGRAD_BAD_ARGUMENT", `${layer}: expected ${name} to be a positive integer, found ${n}`);
  }
}

export interface LinearOptions {
  /** Add a learnable bias (default true). */
  bias?: boolean;
  /** Initialise the weight N(0, std²) and the bias to zero (GPT-2 style) instead of PyTorch's default. */
  std?: number;
  generator?: Rng;
}

/**
 * y = x·Wᵀ + b, weight [out, in] (the PyTorch / GGUF layout). Default init is PyTorch's:
 * weight and bias U(−1/√in, 1/√in) (kaiming_uniform with a = √5).
 */
export class Linear extends Module {
  readonly weight: Var;
  readonly bias: Var | null;

  constructor(readonly inFeatures: number, readonly outFeatures: number, opts: LinearOptions = {}) {
    super();
    checkSize("Linear", "inFeatures", inFeatures);
    checkSize("Linear", "outFeatures", outFeatures);
    const g = opts.generator ?? getDefaultGenerator();
    this.weight = this.param("weight", zerosTensor([outFeatures, inFeatures]));
    this.bias = opts.bias ?? true ? this.param("bias", zerosTensor([outFeatures])) : null;
    if (opts.std !== undefined) {
      init.normal(this.weight, opts.std, g);
    } else {
      const bound = 1 / Math.sqrt(inFeatures);
      init.uniform(this.weight, -bound, bound, g);
      if (this.bias) init.uniform(this.bias, -bound, bound, g);
    }
  }

  forward(x: Var): Var {
    return linear(x, this.weight, this.bias);
  }
}

/** A table of `num` vectors of size `dim`; forward looks rows up by id. Init N(0, 1) (PyTorch) or N(0, std²). */
export class Embedding extends Module {
  readonly weight: Var;

  constructor(readonly num: number, readonly dim: number, opts: { std?: number; generator?: Rng } = {}) {
    super();
    checkSize("Embedding", "num", num);
    checkSize("Embedding", "dim", dim);
    this.weight = this.param("weight", zerosTensor([num, dim]));
    init.normal(this.weight, opts.std ?? 1, opts.generator ?? getDefaultGenerator());
  }

  /** ids (flat, shaped `idsShape`) -> [...idsShape, dim]. */
  forward(ids: Int32Array | readonly number[], idsShape?: readonly number[]): Var {
    return embedding(this.weight, ids, idsShape);
  }
}

/** LayerNorm over the last axis with learnable gain (ones) and bias (zeros); `bias: false` drops the bias. */
export class LayerNorm extends Module {
  readonly weight: Var;
  readonly bias: Var | null;

  constructor(readonly dim: number, readonly opts: { eps?: number; bias?: boolean } = {}) {
    super();
    checkSize("LayerNorm", "dim", dim);
    this.weight = init.ones(this.param("weight", zerosTensor([dim])));
    this.bias = opts.bias ?? true ? this.param("bias", zerosTensor([dim])) : null;
  }

  forward(x: Var): Var {
    return layerNorm(x, this.weight, this.bias, this.opts.eps ?? 1e-5);
  }
}

/** RMSNorm over the last axis with a learnable gain (ones). */
export class RMSNorm extends Module {
  readonly weight: Var;

  constructor(readonly dim: number, readonly opts: { eps?: number } = {}) {
    super();
    checkSize("RMSNorm", "dim", dim);
    this.weight = init.ones(this.param("weight", zerosTensor([dim])));
  }

  forward(x: Var): Var {
    return rmsNorm(x, this.weight, this.opts.eps ?? 1e-5);
  }
}

/** Inverted dropout in train mode, identity in eval mode. Seed it for reproducible masks. */
export class Dropout extends Module {
  readonly generator: Rng;

  constructor(readonly p: number, opts: { generator?: Rng } = {}) {
    super();
    if (!(p >= 0 && p < 1)) throw new AutogradError("AUTOGRAD_BAD_ARGUMENT", `Dropout: expected 0 <= p < 1, found ${p}`);
    this.generator = opts.generator ?? getDefaultGenerator();
  }

  forward(x: Var): Var {
    return dropout(x, this.p, this.generator, this.training);
  }
}
