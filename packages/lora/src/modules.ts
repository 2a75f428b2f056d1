import { headDimOf, kvDimOf, type Config } from "@zero-llm/transformer";

/**
 * The linear modules LoRA can adapt, named as the model's own checkpoint names them (the names
 * PEFT matches `target_modules` against and writes into adapter files), with where each one's
 * output rows live in our weights and in a GGUF file.
 *
 *   Llama (LlamaForCausalLM)                     ours                            GGUF
 *   model.layers.N.self_attn.{q,k,v,o}_proj      the same name + ".weight"       blk.N.attn_{q,k,v,output}.weight
 *   model.layers.N.mlp.{gate,up,down}_proj       the same name + ".weight"       blk.N.ffn_{gate,up,down}.weight
 *
 *   GPT-2 (GPT2LMHeadModel, Conv1D layers)
 *   transformer.h.N.attn.c_attn    [in dim, out 3·dim]   rows q | k | v: self_attn.{q,k,v}_proj    blk.N.attn_qkv.weight
 *   transformer.h.N.attn.c_proj                          self_attn.o_proj                          blk.N.attn_output.weight
 *   transformer.h.N.mlp.c_fc                             mlp.up_proj                               blk.N.ffn_up.weight
 *   transformer.h.N.mlp.c_proj                           mlp.down_proj                             blk.N.ffn_down.weight
 *
 * The embeddings and lm_head are not adaptable here (PEFT's "all-linear" leaves the output layer
 * out too, and llama.cpp refuses an lm_head adapter on a model whose head is tied).
 */

/** Rows [begin, end) of a module's output that one of our weights holds. */
export interface ModulePart {
  /** Our weight name, e.g. "model.layers.0.self_attn.q_proj.weight". */
  readonly weight: string;
  readonly rows: readonly [number, number];
  /**
   * Llama q_proj / k_proj: the rows hold RoPE pairs of this many heads, in Hugging Face ("half")
   * order in adapter files; a model in interleaved order (GGUF, llama2.c) needs them permuted.
   */
  readonly ropeHeads?: number;
}

export interface LinearModule {
  /** The module's name in the model: "model.layers.0.self_attn.q_proj", "transformer.h.0.attn.c_attn". */
  readonly key: string;
  /** Its last component, what a target list names: "q_proj", "c_attn". */
  readonly name: string;
  readonly layer: number;
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly parts: readonly ModulePart[];
  /** llama.cpp's tensor name for the module's matrix. */
  readonly gguf: string;
}

/** Every adaptable module of a model, layer by layer in the model's order. */
export function linearModules(c: Config): LinearModule[] {
  const out: LinearModule[] = [];
  const kvDim = kvDimOf(c);
  const headDim = headDimOf(c);
  for (let l = 0; l < c.nLayers; l++) {
    const ours = `model.layers.${l}.`;
    const one = (key: string, weight: string, gguf: string, inFeatures: number, outFeatures: number, ropeHeads?: number): LinearModule => ({
      key, name: key.slice(key.lastIndexOf(".") + 1), layer: l, inFeatures, outFeatures, gguf: `blk.${l}.${gguf}.weight`,
      parts: [{ weight: `${ours}${weight}.weight`, rows: [0, outFeatures], ...(ropeHeads !== undefined ? { ropeHeads } : {}) }],
    });
    if (c.arch === "llama") {
      const roped = (heads: number): number | undefined => (headDim % 2 === 0 ? heads : undefined);
      out.push(
        one(`${ours}self_attn.q_proj`, "self_attn.q_proj", "attn_q", c.dim, c.dim, roped(c.nHeads)),
        one(`${ours}self_attn.k_proj`, "self_attn.k_proj", "attn_k", c.dim, kvDim, roped(c.nKvHeads)),
        one(`${ours}self_attn.v_proj`, "self_attn.v_proj", "attn_v", c.dim, kvDim),
        one(`${ours}self_attn.o_proj`, "self_attn.o_proj", "attn_output", c.dim, c.dim),
        one(`${ours}mlp.gate_proj`, "mlp.gate_proj", "ffn_gate", c.dim, c.hiddenDim),
        one(`${ours}mlp.up_proj`, "mlp.up_proj", "ffn_up", c.dim, c.hiddenDim),
        one(`${ours}mlp.down_proj`, "mlp.down_proj", "ffn_down", c.hiddenDim, c.dim),
      );
    } else {
      const h = `transformer.h.${l}.`;
      out.push({
        key: `${h}attn.c_attn`, name: "c_attn", layer: l, inFeatures: c.dim, outFeatures: 3 * c.dim, gguf: `blk.${l}.attn_qkv.weight`,
        parts: (["q", "k", "v"] as const).map((p, i) => ({ weight: `${ours}self_attn.${p}_proj.weight`, rows: [i * c.dim, (i + 1) * c.dim] as const })),
      });
      out.push(
        one(`${h}attn.c_proj`, "self_attn.o_proj", "attn_output", c.dim, c.dim),
        one(`${h}mlp.c_fc`, "mlp.up_proj", "ffn_up", c.dim, c.hiddenDim),
        one(`${h}mlp.c_proj`, "mlp.down_proj", "ffn_down", c.hiddenDim, c.dim),
      );
    }
  }
  return out;
}

/** The short names a target list may use for this architecture (for messages). */
export function moduleNames(c: Config): string[] {
  return c.arch === "llama" ? ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"] : ["c_attn", "c_proj", "c_fc"];
}

/** PEFT's default targets when none are given: Llama q_proj and v_proj, GPT-2 c_attn. */
export function defaultTargets(c: Config): string[] {
  return c.arch === "llama" ? ["q_proj", "v_proj"] : ["c_attn"];
}

/** The model's order (layer, then the block's order of its modules): safetensors files sort names as text. */
export function moduleOrder(key: string): number {
  const SUFFIXES = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj", "attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj"];
  const layer = Number(/\.(\d+)\./.exec(key)?.[1] ?? 0);
  const within = SUFFIXES.findIndex((s) => key.endsWith(s));
  return layer * SUFFIXES.length + within;
}
