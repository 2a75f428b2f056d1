import { Var, type RowBlocks } from "@zero-llm/autograd";
import { Rng, Tensor, getBackend } from "@zero-llm/tensor";
import { TransformerLM, halfToInterleaved, headDimOf, interleavedToHalf, type Config, type ProjectionSpec, type Weights } from "@zero-llm/transformer";
import { LoraAdapter, type LoraModuleWeights } from "../adapter";
import { LoraError } from "../errors";
import type { LinearModule } from "../modules";
import { FrozenLinear, LoraInput, LoraLinear, type DropoutSource } from "./layers";
import { rowBlocksOf } from "./row-blocks";

/** One adapted module during training: its trainable pair, rows of B in the base's order. */
export interface TrainableModule {
  readonly module: LinearModule;
  readonly rank: number;
  readonly scaling: number;
  /** lora_A [rank, in] */
  readonly a: Var;
  /** lora_B [out, rank] */
  readonly b: Var;
  readonly input: LoraInput;
}

/**
 * An adapter's matrices as trainable parameters (in the backend's memory, where the kernels
 * update them in place), for a base model of config `model`. B's rows follow the base: a Llama
 * held in interleaved RoPE order trains its q/k rows in that order, and `toAdapter()` turns them
 * back into the files' Hugging Face order.
 */
export class TrainableLora {
  readonly modules: readonly TrainableModule[];
  /** The generator LoRA dropout draws from; the trainer seeds it for each micro-batch. */
  readonly masks: DropoutSource = { generator: new Rng(0) };

  constructor(
    readonly model: Config,
    readonly adapter: LoraAdapter,
  ) {
    const backend = getBackend();
    const param = (values: Float32Array, shape: number[]): Var => {
      const data = backend.allocF32(values.length);
      data.set(values);
      return new Var(new Tensor(data, shape), { requiresGrad: true });
    };
    this.modules = adapter.check(model).map((m): TrainableModule => {
      const w = adapter.module(m.key);
      const a = param(w.a, [w.rank, w.inFeatures]);
      const b = param(this.toBaseRows(m, w.b, w.rank), [w.outFeatures, w.rank]);
      return { module: m, rank: w.rank, scaling: adapter.scaling(m.key), a, b, input: new LoraInput(a, adapter.config.dropout, this.masks) };
    });
  }

  private ropeHeads(m: LinearModule): number | undefined {
    return this.model.ropeStyle === "interleaved" ? m.parts[0]?.ropeHeads : undefined;
  }

  private toBaseRows(m: LinearModule, b: Float32Array, rank: number): Float32Array {
    const heads = this.ropeHeads(m);
    return heads === undefined ? b : halfToInterleaved(b, heads, headDimOf(this.model), rank);
  }

  /** Every trainable parameter: lora_A then lora_B of each module, in the model's order. */
  parameters(): Var[] {
    return this.modules.flatMap((m) => [m.a, m.b]);
  }

  /** Parameters by PEFT's tensor name (without the base_model.model. prefix). */
  namedParameters(): [string, Var][] {
    return this.modules.flatMap((m): [string, Var][] => [[`${m.module.key}.lora_A.weight`, m.a], [`${m.module.key}.lora_B.weight`, m.b]]);
  }

  parameterCount(): number {
    return this.parameters().reduce((n, p) => n + p.size, 0);
  }

  /** Forgets the inputs cached by fused modules (call between passes whose buffers are released). */
  resetInputs(): void {
    for (const m of this.modules) m.input.reset();
  }

  /** The current values as an adapter (copies; q/k rows back in Hugging Face order). */
  toAdapter(): LoraAdapter {
    const modules = this.modules.map((t): LoraModuleWeights => {
      const w = this.adapter.module(t.module.key);
      const heads = this.ropeHeads(t.module);
      const b = heads === undefined ? t.b.data.slice() : interleavedToHalf(t.b.data, heads, headDimOf(this.model), t.rank);
      return { ...w, a: t.a.data.slice(), b };
    });
    return new LoraAdapter(this.adapter.arch, this.adapter.config, modules, this.adapter.baseModel);
  }
}

/**
 * The training model: a TransformerLM over `base`'s weights, every one of them frozen and
 * shared (f32 arrays used in place; a quantized matrix read in decoded row blocks), with LoRA on
 * the targeted layers. Only `lora`'s parameters receive gradients.
 */
export function loraTrainingModel(base: { config: Config; weights: Weights }, lora: TrainableLora): TransformerLM {
  const { config, weights } = base;
  const byWeight = new Map<string, { t: TrainableModule; rows: readonly [number, number] }>();
  for (const t of lora.modules) for (const part of t.module.parts) byWeight.set(part.weight, { t, rows: part.rows });
  const frozenBase = (spec: ProjectionSpec): FrozenLinear => {
    const name = `${spec.name}.weight`;
    const stored = weights.linear(name);
    const matrix: Float32Array | RowBlocks = stored ? rowBlocksOf(stored, name) : weights.get(name).data;
    const bias = weights.has(`${spec.name}.bias`) ? weights.get(`${spec.name}.bias`).data : null;
    return new FrozenLinear(spec.inFeatures, spec.outFeatures, matrix, bias);
  };
  const lm = new TransformerLM(config, {
    projection: (spec) => {
      const layer = frozenBase(spec);
      const adapted = byWeight.get(`${spec.name}.weight`);
      return adapted ? new LoraLinear(layer, adapted.t.input, adapted.t.b, adapted.rows, adapted.t.scaling) : layer;
    },
  });
  // the rest (embeddings, norms) is the base's arrays too, frozen
  for (const [name, p] of lm.namedParameters()) {
    if (!p.requiresGrad) continue;
    if (!weights.has(name)) throw new LoraError("BASE_MISMATCH", `training model: expected the base to have ${name}, found none`);
    p.value = new Tensor(weights.get(name).data, p.shape);
    p.requiresGrad = false;
  }
  return lm;
}
