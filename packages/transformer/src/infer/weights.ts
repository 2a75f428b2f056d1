import { F32Linear, type Backend, type LinearWeight } from "@zero-llm/tensor";
import { TransformerError } from "../errors";
import { kvDimOf, type Config } from "./config";

/** One named weight: row-major data and its shape (a linear layer is [out, in], as nn.Linear). */
export interface WeightTensor {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

/**
 * The expected name → shape of every weight, Hugging Face Llama naming. GPT-2 uses the same
 * names plus biases, `model.embed_positions.weight` for the learned positions and a two-matrix
 * MLP (up_proj → GELU → down_proj); a GPT-2 checkpoint's fused `c_attn` splits into q/k/v and its
 * Conv1D matrices are stored [in, out], so a loader transposes them into these [out, in] slots.
 */
export function weightShapes(c: Config): Map<string, number[]> {
  const kvDim = kvDimOf(c);
  const shapes = new Map<string, number[]>();
  const gpt2 = c.arch === "gpt2";
  shapes.set("model.embed_tokens.weight", [c.vocabSize, c.dim]);
  if (gpt2) shapes.set("model.embed_positions.weight", [c.seqLen, c.dim]);
  for (let l = 0; l < c.nLayers; l++) {
    const p = `model.layers.${l}.`;
    shapes.set(`${p}input_layernorm.weight`, [c.dim]);
    if (gpt2) shapes.set(`${p}input_layernorm.bias`, [c.dim]);
    for (const [proj, out] of [["q", c.dim], ["k", kvDim], ["v", kvDim], ["o", c.dim]] as const) {
      shapes.set(`${p}self_attn.${proj}_proj.weight`, [out, c.dim]);
      if (gpt2) shapes.set(`${p}self_attn.${proj}_proj.bias`, [out]);
    }
    shapes.set(`${p}post_attention_layernorm.weight`, [c.dim]);
    if (gpt2) {
      shapes.set(`${p}post_attention_layernorm.bias`, [c.dim]);
      shapes.set(`${p}mlp.up_proj.weight`, [c.hiddenDim, c.dim]);
      shapes.set(`${p}mlp.up_proj.bias`, [c.hiddenDim]);
      shapes.set(`${p}mlp.down_proj.weight`, [c.dim, c.hiddenDim]);
      shapes.set(`${p}mlp.down_proj.bias`, [c.dim]);
    } else {
      shapes.set(`${p}mlp.gate_proj.weight`, [c.hiddenDim, c.dim]);
      shapes.set(`${p}mlp.up_proj.weight`, [c.hiddenDim, c.dim]);
      shapes.set(`${p}mlp.down_proj.weight`, [c.dim, c.hiddenDim]);
    }
  }
  shapes.set("model.norm.weight", [c.dim]);
  if (gpt2) shapes.set("model.norm.bias", [c.dim]);
  shapes.set("lm_head.weight", [c.vocabSize, c.dim]);
  return shapes;
}

/**
 * Tensors a model may have and then uses (documented optional tensors): llama's biases, on the
 * attention projections (q, k, v, o: Hugging Face `attention_bias`, Qwen2's q/k/v) and on the MLP
 * (gate, up, down: `mlp_bias`), as llama.cpp's llama architecture loads them when present. A
 * gpt2 model has every bias, always (they are in weightShapes).
 */
export function optionalWeightShapes(c: Config): Map<string, number[]> {
  const shapes = new Map<string, number[]>();
  if (c.arch !== "llama") return shapes;
  const kvDim = kvDimOf(c);
  for (let l = 0; l < c.nLayers; l++) {
    const p = `model.layers.${l}.`;
    for (const [proj, out] of [["q", c.dim], ["k", kvDim], ["v", kvDim], ["o", c.dim]] as const) shapes.set(`${p}self_attn.${proj}_proj.bias`, [out]);
    for (const [proj, out] of [["gate", c.hiddenDim], ["up", c.hiddenDim], ["down", c.dim]] as const) shapes.set(`${p}mlp.${proj}_proj.bias`, [out]);
  }
  return shapes;
}

/**
 * A name → tensor map, Hugging Face names. Entries are f32 arrays with a shape, or, for a linear
 * layer's matrix stored another way (f16, quantized blocks: see LinearWeightType), a LinearWeight.
 * Tied embeddings are one Float32Array under two names.
 */
export class Weights {
  private readonly tensors = new Map<string, WeightTensor>();
  private readonly linears = new Map<string, LinearWeight>();

  set(name: string, shape: readonly number[], data: Float32Array): void {
    const size = shape.reduce((a, b) => a * b, 1);
    if (data.length !== size) {
      throw new TransformerError(
        "WEIGHT_SHAPE_MISMATCH",
        `${name}: expected ${size} floats for shape [${shape.join(", ")}], found ${data.length}`,
      );
    }
    this.linears.delete(name);
    this.tensors.set(name, { shape: [...shape], data });
  }

  /** A matrix [outFeatures, inFeatures] in any storage; an F32Linear is kept as its f32 array. */
  setLinear(name: string, weight: LinearWeight): void {
    if (weight instanceof F32Linear) {
      this.set(name, [weight.outFeatures, weight.inFeatures], weight.data);
      return;
    }
    this.tensors.delete(name);
    this.linears.set(name, weight);
  }

  /** The f32 tensor `name`: MISSING_WEIGHT when absent, UNSUPPORTED_TENSOR_TYPE when it is stored as another type. */
  get(name: string): WeightTensor {
    const t = this.tensors.get(name);
    if (t) return t;
    const linear = this.linears.get(name);
    if (linear) {
      throw new TransformerError(
        "UNSUPPORTED_TENSOR_TYPE",
        `weights: expected ${name} as f32 values, found it stored as ${linear.type} (a LinearWeight: it can only be projected through)`,
      );
    }
    throw new TransformerError("MISSING_WEIGHT", `weights: expected a tensor named ${name}, found none`);
  }

  /** The LinearWeight stored under `name` when it is not f32, else undefined. */
  linear(name: string): LinearWeight | undefined {
    return this.linears.get(name);
  }

  has(name: string): boolean {
    return this.tensors.has(name) || this.linears.has(name);
  }

  /** Row-major shape of `name` ([outFeatures, inFeatures] for a LinearWeight). */
  shapeOf(name: string): readonly number[] {
    const linear = this.linears.get(name);
    return linear ? [linear.outFeatures, linear.inFeatures] : this.get(name).shape;
  }

  /** Storage type of `name`: "f32", or the LinearWeight's type. */
  typeOf(name: string): string {
    const linear = this.linears.get(name);
    if (linear) return linear.type;
    this.get(name); // MISSING_WEIGHT when absent
    return "f32";
  }

  names(): string[] {
    return [...this.tensors.keys(), ...this.linears.keys()];
  }

  /** Bytes held, counting an array shared by two names (tied embeddings) once. */
  bytes(): number {
    const seen = new Set<Float32Array>();
    let total = 0;
    for (const { data } of this.tensors.values()) {
      if (!seen.has(data)) total += data.byteLength;
      seen.add(data);
    }
    for (const w of this.linears.values()) total += w.byteLength;
    return total;
  }

  /** Parameter count, shared arrays once. */
  parameterCount(): number {
    const seen = new Set<Float32Array>();
    let total = 0;
    for (const { data } of this.tensors.values()) {
      if (!seen.has(data)) total += data.length;
      seen.add(data);
    }
    for (const w of this.linears.values()) total += w.outFeatures * w.inFeatures;
    return total;
  }
}

/**
 * Zero-filled weights of the right shapes, every array from `backend.allocF32` (so with the wasm
 * backend they live in its memory and kernels read them in place). A loader fills them.
 */
export function allocateWeights(c: Config, backend: Backend): Weights {
  const w = new Weights();
  for (const [name, shape] of weightShapes(c)) {
    if (name === "lm_head.weight" && c.tiedEmbeddings) continue;
    w.set(name, shape, backend.allocF32(shape.reduce((a, b) => a * b, 1)));
  }
  if (c.tiedEmbeddings) w.set("lm_head.weight", [c.vocabSize, c.dim], w.get("model.embed_tokens.weight").data);
  return w;
}

/**
 * Throws MISSING_WEIGHT / WEIGHT_SHAPE_MISMATCH unless every expected tensor is present with its
 * shape (and every optional one that is present has its shape), and UNUSED_WEIGHT naming the
 * tensors the model would not use (a layer past nLayers, a bias gpt2 has no place for…).
 */
export function checkWeights(c: Config, w: Weights): void {
  const required = weightShapes(c);
  const optional = optionalWeightShapes(c);
  const unused = w.names().filter((name) => !required.has(name) && !optional.has(name));
  if (unused.length > 0) {
    throw new TransformerError(
      "UNUSED_WEIGHT",
      `weights: expected only the tensors of a ${c.nLayers}-layer ${c.arch} model, found ${unused.length} more: ${listNames(unused)}`,
    );
  }
  for (const [name, shape] of [...required, ...[...optional].filter(([name]) => w.has(name))]) {
    if (!w.has(name)) throw new TransformerError("MISSING_WEIGHT", `weights: expected a tensor named ${name}, found none`);
    const found = w.shapeOf(name);
    if (found.length !== shape.length || found.some((d, i) => d !== shape[i])) {
      throw new TransformerError(
        "WEIGHT_SHAPE_MISMATCH",
        `${name}: expected shape [${shape.join(", ")}], found [${found.join(", ")}]`,
      );
    }
  }
}

/** Names for a message: all of them up to 8, else the first 8 and how many more. */
export function listNames(names: readonly string[]): string {
  return names.length <= 8 ? names.join(", ") : `${names.slice(0, 8).join(", ")} and ${names.length - 8} more`;
}
