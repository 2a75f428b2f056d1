import type { Config } from "./config";
import type { Weights } from "./weights";

/** One transformer block's weights, looked up once so the forward pass does no map lookups. */
export interface LayerWeights {
  readonly attnNorm: Float32Array;
  readonly attnNormBias: Float32Array | null;
  readonly wq: Float32Array; // [dim, dim]
  readonly wk: Float32Array; // [kvDim, dim]
  readonly wv: Float32Array; // [kvDim, dim]
  readonly wo: Float32Array; // [dim, dim]
  readonly bq: Float32Array | null;
  readonly bk: Float32Array | null;
  readonly bv: Float32Array | null;
  readonly bo: Float32Array | null;
  readonly ffnNorm: Float32Array;
  readonly ffnNormBias: Float32Array | null;
  readonly wGate: Float32Array | null; // [hiddenDim, dim], llama only
  readonly wUp: Float32Array; // [hiddenDim, dim]
  readonly wDown: Float32Array; // [dim, hiddenDim]
  readonly bUp: Float32Array | null;
  readonly bDown: Float32Array | null;
}

export interface ModelWeights {
  readonly embed: Float32Array; // [vocab, dim]
  readonly positions: Float32Array | null; // [seqLen, dim], gpt2 only
  readonly layers: readonly LayerWeights[];
  readonly finalNorm: Float32Array;
  readonly finalNormBias: Float32Array | null;
  readonly lmHead: Float32Array; // [vocab, dim]
}

export function resolveWeights(c: Config, w: Weights): ModelWeights {
  const gpt2 = c.arch === "gpt2";
  const get = (name: string): Float32Array => w.get(name).data;
  const bias = (name: string): Float32Array | null => (gpt2 ? get(name) : null);
  const layers = Array.from({ length: c.nLayers }, (_, l): LayerWeights => {
    const p = `model.layers.${l}.`;
    return {
      attnNorm: get(`${p}input_layernorm.weight`),
      attnNormBias: bias(`${p}input_layernorm.bias`),
      wq: get(`${p}self_attn.q_proj.weight`),
      wk: get(`${p}self_attn.k_proj.weight`),
      wv: get(`${p}self_attn.v_proj.weight`),
      wo: get(`${p}self_attn.o_proj.weight`),
      bq: bias(`${p}self_attn.q_proj.bias`),
      bk: bias(`${p}self_attn.k_proj.bias`),
      bv: bias(`${p}self_attn.v_proj.bias`),
      bo: bias(`${p}self_attn.o_proj.bias`),
      ffnNorm: get(`${p}post_attention_layernorm.weight`),
      ffnNormBias: bias(`${p}post_attention_layernorm.bias`),
      wGate: gpt2 ? null : get(`${p}mlp.gate_proj.weight`),
      wUp: get(`${p}mlp.up_proj.weight`),
      wDown: get(`${p}mlp.down_proj.weight`),
      bUp: bias(`${p}mlp.up_proj.bias`),
      bDown: bias(`${p}mlp.down_proj.bias`),
    };
  });
  return {
    embed: get("model.embed_tokens.weight"),
    positions: gpt2 ? get("model.embed_positions.weight") : null,
    layers,
    finalNorm: get("model.norm.weight"),
    finalNormBias: bias("model.norm.bias"),
    lmHead: get("lm_head.weight"),
  };
}
