import { TransformerError } from "../errors";
import type { Config } from "../infer/config";

/**
 * Where each of our (Hugging Face named) weights lives in a GGUF file, as llama.cpp names them.
 *
 *   model.embed_tokens.weight                  token_embd.weight          [vocab, dim]
 *   model.embed_positions.weight      (gpt2)   position_embd.weight       [seqLen, dim]
 *   model.layers.N.input_layernorm.*           blk.N.attn_norm.*
 *   model.layers.N.self_attn.{q,k,v}_proj.*    blk.N.attn_{q,k,v}.*       llama: three tensors
 *                                     (gpt2)   blk.N.attn_qkv.*           rows q | k | v, [3·dim, dim]
 *   model.layers.N.self_attn.o_proj.*          blk.N.attn_output.*
 *   model.layers.N.post_attention_layernorm.*  blk.N.ffn_norm.*
 *   model.layers.N.mlp.{gate,up,down}_proj.*   blk.N.ffn_{gate,up,down}.*
 *   model.norm.*                               output_norm.*
 *   lm_head.weight                             output.weight              absent: tied to token_embd
 *
 * Shapes here are row-major ([out, in] for a matrix); GGUF lists the same dims reversed (ne[0] = in).
 * GPT-2's converter transposes the Conv1D matrices, so its GGUF matrices are [out, in] like llama's.
 */
export interface GgufTensorPlace {
  /** The tensor in the GGUF file. */
  readonly gguf: string;
  /** For gpt2's fused attn_qkv: which rows [begin, end) of the GGUF tensor are ours. */
  readonly rows?: readonly [number, number];
}

const LAYER_NAMES: ReadonlyArray<readonly [string, string]> = [
  ["input_layernorm", "attn_norm"],
  ["self_attn.q_proj", "attn_q"],
  ["self_attn.k_proj", "attn_k"],
  ["self_attn.v_proj", "attn_v"],
  ["self_attn.o_proj", "attn_output"],
  ["post_attention_layernorm", "ffn_norm"],
  ["mlp.gate_proj", "ffn_gate"],
  ["mlp.up_proj", "ffn_up"],
  ["mlp.down_proj", "ffn_down"],
];

/** Our weight name → where it sits in a GGUF file of this config. */
export function ggufPlace(c: Config, name: string): GgufTensorPlace {
  if (name === "model.embed_tokens.weight") return { gguf: "token_embd.weight" };
  if (name === "model.embed_positions.weight") return { gguf: "position_embd.weight" };
  if (name === "lm_head.weight") return { gguf: "output.weight" };
  const top = /^model\.norm\.(weight|bias)$/.exec(name);
  if (top) return { gguf: `output_norm.${top[1]}` };
  const m = /^model\.layers\.(\d+)\.(.+)\.(weight|bias)$/.exec(name);
  if (m) {
    const [, layer, module, kind] = m;
    const proj = /^self_attn\.([qkv])_proj$/.exec(module);
    if (c.arch === "gpt2" && proj) {
      const part = "qkv".indexOf(proj[1]);
      return { gguf: `blk.${layer}.attn_qkv.${kind}`, rows: [part * c.dim, (part + 1) * c.dim] };
    }
    const entry = LAYER_NAMES.find(([ours]) => ours === module);
    if (entry) return { gguf: `blk.${layer}.${entry[1]}.${kind}` };
  }
  throw new TransformerError("MISSING_WEIGHT", `gguf: expected one of our weight names, found ${name}`);
}
