import type { Backend } from "@zero-llm/tensor";
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

/** A name → tensor map. Tied embeddings are one Float32Array under two names. */
export class Weights {
  private readonly tensors = new Map<string, WeightTensor>();

  set(name: string, shape: readonly number[], data: Float32Array): void {
    const size = shape.reduce((a, b) => a * b, 1);
    if (data.length !== size) {
      throw new TransformerError(
        "WEIGHT_SHAPE_MISMATCH",
        `${name}: expected ${size} floats for shape [${shape.join(", ")}], found ${data.length}`,
      );
    }
    this.tensors.set(name, { shape: [...shape], data });
  }

  get(name: string): WeightTensor {
    const t = this.tensors.get(name);
    if (!t) throw new TransformerError("MISSING_WEIGHT", `weights: expected a tensor named ${name}, found none`);
    return t;
  }

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  names(): string[] {
    return [...this.tensors.keys()];
  }

  /** Bytes held, counting an array shared by two names (tied embeddings) once. */
  bytes(): number {
    const seen = new Set<Float32Array>();
    let total = 0;
    for (const { data } of this.tensors.values()) {
      if (!seen.has(data)) total += data.byteLength;
      seen.add(data);
    }
    return total;
  }

  /** Parameter count, shared arrays once. */
  parameterCount(): number {
    return this.bytes() / 4;
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

/** Throws MISSING_WEIGHT / WEIGHT_SHAPE_MISMATCH unless every expected tensor is present with its shape. */
export function checkWeights(c: Config, w: Weights): void {
  for (const [name, shape] of weightShapes(c)) {
    const found = w.get(name).shape;
    if (found.length !== shape.length || found.some((d, i) => d !== shape[i])) {
      throw new TransformerError(
        "WEIGHT_SHAPE_MISMATCH",
        `${name}: expected shape [${shape.join(", ")}], found [${found.join(", ")}]`,
      );
    }
  }
}
