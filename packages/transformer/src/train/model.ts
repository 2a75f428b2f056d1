import { F, nn, type Var } from "@zero-llm/autograd";
import { Rng } from "@zero-llm/tensor";
import { TransformerError } from "../errors";
import { validateConfig, type Config } from "../infer/config";
import { Weights, listNames, weightShapes } from "../infer/weights";

/**
 * The trainable decoder-only transformer: one module tree for both families, built from
 * @zero-llm/autograd layers so every op carries its own backward rule.
 *
 *   ids [B, T]
 *    → embed_tokens (+ embed_positions, gpt2)                      [B, T, dim]
 *    → × nLayers:  x += o_proj(attention(rope(q), rope(k), v))      pre-norm: input_layernorm first
 *                  x += mlp(post_attention_layernorm(x))            llama SwiGLU / gpt2 GELU(tanh)
 *    → norm → lm_head (or embed_tokensᵀ when tied)                  [B, T, vocab]
 *
 * Parameter names are the inference engine's (`weightShapes(config)`, Hugging Face Llama
 * naming), so `toWeights()` hands the trained tensors to `new Model(config, weights)` as they are.
 */

export interface TransformerLMOptions {
  /** Seeds the initial weights (default 1337). */
  seed?: number;
  /** Dropout after the embeddings, attention and MLP (nanoGPT's places); default 0. */
  dropout?: number;
  /**
   * Builds each projection instead of a fresh nn.Linear: q/k/v/o_proj, gate/up/down_proj and an
   * untied lm_head. Fine-tuning puts frozen base layers and LoRA-adapted ones here
   * (@zero-llm/lora); the default is nn.Linear with the initialisation described by `init`.
   */
  projection?: ProjectionFactory;
}

/** A linear layer as the model uses it: [..., inFeatures] -> [..., outFeatures]. */
export interface Projection extends nn.Module {
  forward(x: Var): Var;
}

/** What a projection is: its parameter prefix and shape, and how a fresh one is initialised. */
export interface ProjectionSpec {
  /** Parameter prefix, e.g. "model.layers.0.self_attn.q_proj" or "lm_head". */
  name: string;
  inFeatures: number;
  outFeatures: number;
  bias: boolean;
  /** A fresh layer's weights are N(0, std²) from `generator` (the bias zero). */
  init: { std: number; generator: Rng };
}

export type ProjectionFactory = (spec: ProjectionSpec) => Projection;

/** The default projection: a fresh nn.Linear. */
const freshLinear: ProjectionFactory = (s) =>
  new nn.Linear(s.inFeatures, s.outFeatures, { bias: s.bias, std: s.init.std, generator: s.init.generator });

/** Causal self-attention with grouped-query heads: q [B,T,H,hd], k and v [B,T,Hkv,hd]. */
class SelfAttention extends nn.Module {
  readonly q_proj: Projection;
  readonly k_proj: Projection;
  readonly v_proj: Projection;
  readonly o_proj: Projection;

  constructor(private readonly c: Config, g: Rng, residualStd: number, make: ProjectionFactory, prefix: string) {
    super();
    const headDim = c.dim / c.nHeads;
    const bias = c.arch === "gpt2";
    const proj = (name: string, inFeatures: number, outFeatures: number, std: number): Projection =>
      this.child(name, make({ name: `${prefix}${name}`, inFeatures, outFeatures, bias, init: { std, generator: g } }));
    this.q_proj = proj("q_proj", c.dim, c.nHeads * headDim, 0.02);
    this.k_proj = proj("k_proj", c.dim, c.nKvHeads * headDim, 0.02);
    this.v_proj = proj("v_proj", c.dim, c.nKvHeads * headDim, 0.02);
    this.o_proj = proj("o_proj", c.nHeads * headDim, c.dim, residualStd);
  }

  forward(x: Var): Var {
    const { c } = this;
    const [batch, seq] = x.shape;
    const headDim = c.dim / c.nHeads;
    // [B, T, dim] -> [B, T, heads, headDim]: a view of the projection's rows, no copy of meaning
    let q = this.q_proj.forward(x).reshape([batch, seq, c.nHeads, headDim]);
    let k = this.k_proj.forward(x).reshape([batch, seq, c.nKvHeads, headDim]);
    const v = this.v_proj.forward(x).reshape([batch, seq, c.nKvHeads, headDim]);
    if (c.arch === "llama") {
      q = F.rope(q, c.ropeStyle, { theta: c.ropeTheta });
      k = F.rope(k, c.ropeStyle, { theta: c.ropeTheta });
    }
    // softmax(q·kᵀ/√headDim + causal mask)·v, each query head reading kv head h / (H / Hkv)
    const y = F.attention(q, k, v); // [B, T, H, headDim]
    return this.o_proj.forward(y.reshape([batch, seq, c.dim]));
  }
}

/** llama: down(silu(gate(x)) ⊙ up(x)); gpt2: down(gelu_tanh(up(x))). */
class Mlp extends nn.Module {
  readonly gate_proj: Projection | null;
  readonly up_proj: Projection;
  readonly down_proj: Projection;

  constructor(c: Config, g: Rng, residualStd: number, make: ProjectionFactory, prefix: string) {
    super();
    const bias = c.arch === "gpt2";
    const proj = (name: string, inFeatures: number, outFeatures: number, std: number): Projection =>
      this.child(name, make({ name: `${prefix}${name}`, inFeatures, outFeatures, bias, init: { std, generator: g } }));
    this.gate_proj = c.arch === "llama" ? proj("gate_proj", c.dim, c.hiddenDim, 0.02) : null;
    this.up_proj = proj("up_proj", c.dim, c.hiddenDim, 0.02);
    this.down_proj = proj("down_proj", c.hiddenDim, c.dim, residualStd);
  }

  forward(x: Var): Var {
    if (this.gate_proj === null) return this.down_proj.forward(F.gelu(this.up_proj.forward(x)));
    return this.down_proj.forward(F.mul(F.silu(this.gate_proj.forward(x)), this.up_proj.forward(x)));
  }
}

function norm(c: Config): nn.LayerNorm | nn.RMSNorm {
  return c.arch === "gpt2" ? new nn.LayerNorm(c.dim, { eps: c.normEps }) : new nn.RMSNorm(c.dim, { eps: c.normEps });
}

class Block extends nn.Module {
  readonly input_layernorm: nn.LayerNorm | nn.RMSNorm;
  readonly self_attn: SelfAttention;
  readonly post_attention_layernorm: nn.LayerNorm | nn.RMSNorm;
  readonly mlp: Mlp;

  constructor(c: Config, g: Rng, residualStd: number, make: ProjectionFactory, prefix: string) {
    super();
    this.input_layernorm = this.child("input_layernorm", norm(c));
    this.self_attn = this.child("self_attn", new SelfAttention(c, g, residualStd, make, `${prefix}self_attn.`));
    this.post_attention_layernorm = this.child("post_attention_layernorm", norm(c));
    this.mlp = this.child("mlp", new Mlp(c, g, residualStd, make, `${prefix}mlp.`));
  }

  forward(x: Var, drop: (v: Var) => Var): Var {
    const h = F.add(x, drop(this.self_attn.forward(this.input_layernorm.forward(x))));
    return F.add(h, drop(this.mlp.forward(this.post_attention_layernorm.forward(h))));
  }
}

/** The "model." subtree: embeddings, layers, final norm. */
class Decoder extends nn.Module {
  readonly embed_tokens: nn.Embedding;
  readonly embed_positions: nn.Embedding | null;
  readonly layers: nn.ModuleList<Block>;
  readonly norm: nn.LayerNorm | nn.RMSNorm;

  constructor(c: Config, g: Rng, make: ProjectionFactory) {
    super();
    this.embed_tokens = this.child("embed_tokens", new nn.Embedding(c.vocabSize, c.dim, { std: 0.02, generator: g }));
    this.embed_positions = c.arch === "gpt2" ? this.child("embed_positions", new nn.Embedding(c.seqLen, c.dim, { std: 0.02, generator: g })) : null;
    // GPT-2's scaled init: each residual branch's output projection N(0, (0.02/√(2·nLayers))²)
    const residualStd = 0.02 / Math.sqrt(2 * c.nLayers);
    this.layers = this.child("layers", new nn.ModuleList<Block>());
    for (let l = 0; l < c.nLayers; l++) this.layers.push(new Block(c, g, residualStd, make, `model.layers.${l}.`));
    this.norm = this.child("norm", norm(c));
  }
}

export class TransformerLM extends nn.Module {
  readonly config: Config;
  readonly model: Decoder;
  /** null when tied: the logits reuse model.embed_tokens.weight. */
  readonly lm_head: Projection | null;
  readonly dropout: number;

  constructor(config: Config, options: TransformerLMOptions = {}) {
    super();
    this.config = validateConfig(config);
    const g = new Rng(options.seed ?? 1337);
    const make = options.projection ?? freshLinear;
    this.model = this.child("model", new Decoder(config, g, make));
    this.lm_head = config.tiedEmbeddings
      ? null
      : this.child("lm_head", make({ name: "lm_head", inFeatures: config.dim, outFeatures: config.vocabSize, bias: false, init: { std: 0.02, generator: g } }));
    this.dropout = options.dropout ?? 0;
  }

  /**
   * Logits [batch, seq, vocab] for ids (row-major [batch, seq], seq ≤ config.seqLen).
   * `dropoutGenerator` draws the dropout masks (needed only when dropout > 0 in train mode).
   */
  forward(ids: Int32Array, batch: number, seq: number, dropoutGenerator?: Rng): Var {
    const { model } = this;
    const p = this.training ? this.dropout : 0;
    const gen = dropoutGenerator ?? new Rng(0);
    const drop = (v: Var): Var => (p > 0 ? F.dropout(v, p, gen, true) : v);
    let x = model.embed_tokens.forward(ids, [batch, seq]); // [B, T, dim]
    if (model.embed_positions !== null) {
      const positions = new Int32Array(seq).map((_, t) => t);
      x = F.add(x, model.embed_positions.forward(positions, [seq])); // [T, dim] broadcast over B
    }
    x = drop(x);
    for (const layer of model.layers) x = layer.forward(x, drop);
    x = model.norm.forward(x);
    return this.lm_head !== null ? this.lm_head.forward(x) : F.linear(x, model.embed_tokens.weight);
  }

  /** Mean next-token cross-entropy of `targets` (row-major [batch, seq]; −100 skips a position). */
  loss(ids: Int32Array, targets: Int32Array, batch: number, seq: number, dropoutGenerator?: Rng): Var {
    return F.crossEntropy(this.forward(ids, batch, seq, dropoutGenerator), targets);
  }

  /**
   * The parameters as inference weights, sharing storage (later training steps show through).
   * A tied lm_head is the embedding's array under a second name, as `allocateWeights` makes it.
   */
  toWeights(): Weights {
    const params = new Map(this.namedParameters());
    const w = new Weights();
    for (const [name, shape] of weightShapes(this.config)) {
      const p = name === "lm_head.weight" && this.lm_head === null ? params.get("model.embed_tokens.weight") : params.get(name);
      if (p === undefined) throw new TransformerError("MISSING_WEIGHT", `toWeights: expected a parameter named ${name}, found none`);
      w.set(name, shape, p.data);
    }
    return w;
  }

  /**
   * Copies inference weights in (any checkpoint the engine loads: HF, GGUF, llama2.c). Weights
   * this model has no parameter for (a llama's optional biases) are refused, never dropped: the
   * copy would be another model.
   */
  loadWeights(weights: Weights): void {
    const params = new Map(this.namedParameters());
    const extra = weights.names().filter((name) => !params.has(name) && !(name === "lm_head.weight" && this.lm_head === null));
    if (extra.length > 0) {
      throw new TransformerError(
        "UNSUPPORTED_ARCHITECTURE",
        `TransformerLM: expected only weights it has parameters for, found ${extra.length} more: ${listNames(extra)} (llama biases are not trainable here)`,
      );
    }
    for (const [name, p] of params) p.data.set(weights.get(name).data);
  }
}
