import { F32Linear, F32LinearGroup, type Backend, type LinearWeight } from "@zero-llm/tensor";
import { TransformerError } from "../errors";
import type { Config } from "./config";
import type { Weights } from "./weights";

/**
 * One transformer block's weights, looked up once so the forward pass does no map lookups.
 * Every matrix is a LinearWeight (f32 or any other storage): the block only calls `project`.
 */
export interface LayerWeights {
  readonly attnNorm: Float32Array;
  readonly attnNormBias: Float32Array | null;
  readonly wq: LinearWeight; // [dim, dim]
  readonly wk: LinearWeight; // [kvDim, dim]
  readonly wv: LinearWeight; // [kvDim, dim]
  readonly wo: LinearWeight; // [dim, dim]
  readonly bq: Float32Array | null;
  readonly bk: Float32Array | null;
  readonly bv: Float32Array | null;
  readonly bo: Float32Array | null;
  readonly ffnNorm: Float32Array;
  readonly ffnNormBias: Float32Array | null;
  readonly wGate: LinearWeight | null; // [hiddenDim, dim], llama only
  readonly wUp: LinearWeight; // [hiddenDim, dim]
  readonly wDown: LinearWeight; // [dim, hiddenDim]
  readonly bGate: Float32Array | null;
  readonly bUp: Float32Array | null;
  readonly bDown: Float32Array | null;
  /** wq, wk, wv projected in one backend call when they can be (F32LinearGroup), else null. */
  readonly qkv: F32LinearGroup | null;
  /** wGate, wUp likewise (llama only). */
  readonly gateUp: F32LinearGroup | null;
}

/**
 * A token embedding stored another way than f32 (a GGUF token_embd in Q8_0, Q4_K…): a
 * LinearWeight that also decodes one row, so a token's row is unpacked when it is looked up and
 * the table stays as stored (tied: the same object is the lm_head).
 */
export interface EmbeddingWeight extends LinearWeight {
  rowValues(row: number, out: Float32Array, outOffset: number): void;
}

export function isEmbeddingWeight(w: LinearWeight): w is EmbeddingWeight {
  return typeof (w as Partial<EmbeddingWeight>).rowValues === "function";
}

export interface ModelWeights {
  readonly embed: Float32Array | EmbeddingWeight; // [vocab, dim]
  readonly positions: Float32Array | null; // [seqLen, dim], gpt2 only
  readonly layers: readonly LayerWeights[];
  readonly finalNorm: Float32Array;
  readonly finalNormBias: Float32Array | null;
  readonly lmHead: LinearWeight; // [vocab, dim]; tied: an F32Linear over the embedding table
}

/**
 * The weights as the forward pass reads them. An f32 matrix becomes an F32Linear over its array
 * (no copy, projected by `backend`); a matrix stored another way is its LinearWeight. Biases are
 * whatever the weights have (gpt2: all of them; llama: none, or the optional ones of
 * optionalWeightShapes), each added when it exists.
 */
export function resolveWeights(c: Config, w: Weights, backend: Backend): ModelWeights {
  const get = (name: string): Float32Array => w.get(name).data;
  const optional = (name: string): Float32Array | null => (w.has(name) ? get(name) : null);
  const linear = (name: string): LinearWeight => {
    const stored = w.linear(name);
    if (stored) return stored;
    const [out, inFeatures] = w.shapeOf(name);
    return new F32Linear(get(name), out ?? 0, inFeatures ?? 0, backend);
  };
  const layers = Array.from({ length: c.nLayers }, (_, l): LayerWeights => {
    const p = `model.layers.${l}.`;
    const wq = linear(`${p}self_attn.q_proj.weight`), wk = linear(`${p}self_attn.k_proj.weight`), wv = linear(`${p}self_attn.v_proj.weight`);
    const wGate = c.arch === "gpt2" ? null : linear(`${p}mlp.gate_proj.weight`), wUp = linear(`${p}mlp.up_proj.weight`);
    return {
      attnNorm: get(`${p}input_layernorm.weight`),
      attnNormBias: optional(`${p}input_layernorm.bias`),
      wq,
      wk,
      wv,
      wo: linear(`${p}self_attn.o_proj.weight`),
      bq: optional(`${p}self_attn.q_proj.bias`),
      bk: optional(`${p}self_attn.k_proj.bias`),
      bv: optional(`${p}self_attn.v_proj.bias`),
      bo: optional(`${p}self_attn.o_proj.bias`),
      ffnNorm: get(`${p}post_attention_layernorm.weight`),
      ffnNormBias: optional(`${p}post_attention_layernorm.bias`),
      wGate,
      wUp,
      wDown: linear(`${p}mlp.down_proj.weight`),
      bGate: optional(`${p}mlp.gate_proj.bias`),
      bUp: optional(`${p}mlp.up_proj.bias`),
      bDown: optional(`${p}mlp.down_proj.bias`),
      qkv: F32LinearGroup.of([wq, wk, wv]),
      gateUp: wGate ? F32LinearGroup.of([wGate, wUp]) : null,
    };
  });
  const storedEmbed = w.linear("model.embed_tokens.weight");
  if (storedEmbed && !isEmbeddingWeight(storedEmbed)) {
    throw new TransformerError(
      "UNSUPPORTED_TENSOR_TYPE",
      `weights: expected model.embed_tokens.weight as f32 values or a weight that decodes single rows (rowValues), found a ${storedEmbed.type} LinearWeight without it`,
    );
  }
  return {
    embed: storedEmbed ?? get("model.embed_tokens.weight"),
    positions: c.arch === "gpt2" ? get("model.embed_positions.weight") : null,
    layers,
    finalNorm: get("model.norm.weight"),
    finalNormBias: optional("model.norm.bias"),
    lmHead: linear("lm_head.weight"),
  };
}
