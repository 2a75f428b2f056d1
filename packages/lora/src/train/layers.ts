import { F, nn, type RowBlocks, type Var } from "@zero-llm/autograd";
import { Tensor, type Rng } from "@zero-llm/tensor";
import type { Projection } from "@zero-llm/transformer";

/**
 * The layers of a LoRA training model. The base's linear layers are frozen (no gradient, no
 * optimizer state: they only pass gradients through to their input); a targeted one is wrapped:
 *
 *   y = base_layer(x) + scaling · B·(A·dropout(x))                PEFT's LoraLayer forward
 *
 *   dA = scaling · (dy·B)ᵀ · dropout(x)     dB = scaling · dyᵀ · (A·dropout(x))
 *   dx = dy·W + dropout'(scaling · dy·B·A)      (W frozen: no dW)
 *
 * The rules are autograd's (F.linear, F.dropout, F.slice): each op already carries its backward.
 */

/** A frozen base layer: an f32 weight shared with the base model, or a matrix read in decoded row blocks (quantized). */
export class FrozenLinear extends nn.Module implements Projection {
  readonly weight: Var | null;
  /** The matrix read block by block, when it is not f32 (a quantized base). */
  readonly blocks: RowBlocks | null;
  readonly bias: Var | null;

  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    weight: Float32Array | RowBlocks,
    bias: Float32Array | null,
  ) {
    super();
    // parameters over the base's own arrays (no copy), never trained
    const frozen = (name: string, data: Float32Array, shape: number[]): Var => {
      const p = this.param(name, new Tensor(data, shape));
      p.requiresGrad = false;
      return p;
    };
    this.blocks = weight instanceof Float32Array ? null : weight;
    this.weight = weight instanceof Float32Array ? frozen("weight", weight, [outFeatures, inFeatures]) : null;
    this.bias = bias === null ? null : frozen("bias", bias, [outFeatures]);
  }

  forward(x: Var): Var {
    if (this.weight !== null) return F.linear(x, this.weight, this.bias);
    return F.linearBlocks(x, this.blocks as RowBlocks, this.bias);
  }
}

/** Where a LoRA layer draws its dropout masks: set by the trainer for each micro-batch. */
export interface DropoutSource {
  generator: Rng;
}

/**
 * A module's input side, h = A·dropout(x), shared by the parts of a fused module (GPT-2's c_attn
 * feeds q, k and v from one A): the three parts receive the same x, so h is computed (and the
 * dropout mask drawn) once per forward pass, as PEFT does for the fused layer.
 */
export class LoraInput {
  private lastInput: Var | null = null;
  private lastOutput: Var | null = null;

  constructor(
    /** lora_A [rank, inFeatures] */
    readonly a: Var,
    readonly dropout: number,
    private readonly masks: DropoutSource,
  ) {}

  project(x: Var, training: boolean): Var {
    if (x === this.lastInput && this.lastOutput !== null) return this.lastOutput;
    const dropped = this.dropout > 0 && training ? F.dropout(x, this.dropout, this.masks.generator, true) : x;
    const h = F.linear(dropped, this.a); // [..., rank]
    this.lastInput = x;
    this.lastOutput = h;
    return h;
  }

  /** Forgets the cached pass (its buffers belong to a finished step). */
  reset(): void {
    this.lastInput = null;
    this.lastOutput = null;
  }
}

/** A base layer with a LoRA update on its output rows [begin, end) of the module's B. */
export class LoraLinear extends nn.Module implements Projection {
  readonly base_layer: FrozenLinear;

  constructor(
    base: FrozenLinear,
    readonly input: LoraInput,
    /** lora_B [moduleOut, rank], rows in the base's order; this layer uses rows [begin, end). */
    readonly b: Var,
    readonly rows: readonly [number, number],
    readonly scaling: number,
  ) {
    super();
    this.base_layer = this.child("base_layer", base);
  }

  forward(x: Var): Var {
    const y = this.base_layer.forward(x);
    const h = this.input.project(x, this.training);
    const [begin, end] = this.rows;
    const b = begin === 0 && end === this.b.shape[0] ? this.b : F.slice(this.b, 0, begin, end);
    return F.add(y, F.mul(F.linear(h, b), this.scaling));
  }
}
