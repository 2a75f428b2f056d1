import type { Config } from "../infer/config";

/**
 * Where each of our weights sits in a Hugging Face checkpoint (model.safetensors).
 *
 * Llama (LlamaForCausalLM): our names are its names, matrices [out, in] (nn.Linear). The q/k rows
 * are in "half" RoPE order (HF's converter permuted them), so the config gets ropeStyle "half".
 *
 * GPT-2 (GPT2LMHeadModel; names with or without the "transformer." prefix): Conv1D layers store
 * their matrix [in, out], the transpose of nn.Linear, and attention's q, k, v are one c_attn:
 *
 *   model.embed_tokens.weight                   wte.weight                         [vocab, dim]
 *   model.embed_positions.weight                wpe.weight                         [n_positions, dim]
 *   model.layers.N.input_layernorm.*            h.N.ln_1.*
 *   model.layers.N.self_attn.{q,k,v}_proj.w     h.N.attn.c_attn.weight             [dim, 3·dim]: columns q | k | v, transposed
 *   model.layers.N.self_attn.{q,k,v}_proj.b     h.N.attn.c_attn.bias               [3·dim]
 *   model.layers.N.self_attn.o_proj.*           h.N.attn.c_proj.*                  [dim, dim], transposed
 *   model.layers.N.post_attention_layernorm.*   h.N.ln_2.*
 *   model.layers.N.mlp.up_proj.*                h.N.mlp.c_fc.*                     [dim, hidden], transposed
 *   model.layers.N.mlp.down_proj.*              h.N.mlp.c_proj.*                   [hidden, dim], transposed
 *   model.norm.*                                ln_f.*
 *   lm_head.weight                              lm_head.weight (nn.Linear)         absent when tied to wte
 */
export interface HfTensorPlace {
  /** Name in the checkpoint (GPT-2: without the optional "transformer." prefix). */
  readonly hf: string;
  /** Conv1D: the stored matrix is [in, out]; ours is its transpose. */
  readonly transposed: boolean;
  /** Part of a fused c_attn: our tensor is output columns (or bias entries) [begin, end). */
  readonly outputs?: readonly [number, number];
}

const GPT2_LAYER: Readonly<Record<string, string>> = {
  input_layernorm: "ln_1",
  "self_attn.o_proj": "attn.c_proj",
  post_attention_layernorm: "ln_2",
  "mlp.up_proj": "mlp.c_fc",
  "mlp.down_proj": "mlp.c_proj",
};

export function hfPlace(c: Config, name: string): HfTensorPlace {
  if (c.arch === "llama" || name === "lm_head.weight") return { hf: name, transposed: false };
  if (name === "model.embed_tokens.weight") return { hf: "wte.weight", transposed: false };
  if (name === "model.embed_positions.weight") return { hf: "wpe.weight", transposed: false };
  const top = /^model\.norm\.(weight|bias)$/.exec(name);
  if (top) return { hf: `ln_f.${top[1]}`, transposed: false };
  const m = /^model\.layers\.(\d+)\.(.+)\.(weight|bias)$/.exec(name);
  if (!m) return { hf: name, transposed: false };
  const [, layer, module, kind] = m;
  const matrix = kind === "weight" && !module.endsWith("layernorm");
  const proj = /^self_attn\.([qkv])_proj$/.exec(module);
  if (proj) {
    const part = "qkv".indexOf(proj[1]);
    return { hf: `h.${layer}.attn.c_attn.${kind}`, transposed: matrix, outputs: [part * c.dim, (part + 1) * c.dim] };
  }
  return { hf: `h.${layer}.${GPT2_LAYER[module] ?? module}.${kind}`, transposed: matrix };
}
