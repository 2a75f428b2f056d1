import { Tensor, add, attention, embedding, linear, rmsNorm, rope, swiglu } from "@zero-llm/tensor";
import type { Model } from "@zero-llm/transformer";

/**
 * One query of one head, step by step, recomputed here with @zero-llm/tensor's ops from the
 * model's weights (a second, plain forward pass written as the math, llama architecture):
 *
 *   x₀ = embed(tokens)                                      [seq, dim]
 *   per layer: h = rmsnorm(x); q, k, v = rope(h·Wqᵀ), rope(h·Wkᵀ), h·Wvᵀ
 *              x += attention(q, k, v)·Woᵀ;  x += (silu(h₂·Wgᵀ) ⊙ h₂·Wuᵀ)·Wdᵀ with h₂ = rmsnorm(x)
 *
 * For the chosen layer it stops at q, k, v and spells out the query's attention: the scores
 * q·kⱼ, the scale 1/√d, the causal mask, the softmax and the weighted mix Σ pⱼ·vⱼ. The page
 * compares the softmax with the weights the model itself captured (prefill with captureAttention).
 */
export interface QueryWalk {
  headDim: number;
  kvHead: number;
  q: number[];
  /** Per key position j (all positions; j > query is masked). */
  keys: number[][];
  values: number[][];
  scores: number[];
  scaled: number[];
  masked: number[];
  probs: number[];
  output: number[];
}

function weight(model: Model, name: string): Tensor {
  const w = model.weights.get(name);
  return new Tensor(w.data, w.shape);
}

export function walkQuery(model: Model, tokens: readonly number[], layer: number, head: number, query: number): QueryWalk {
  const c = model.config;
  const hd = c.dim / c.nHeads, seq = tokens.length;
  const W = (name: string) => weight(model, name);
  let x = embedding(W("model.embed_tokens.weight"), [...tokens]);
  const qkv = (l: number, h: Tensor) => {
    const p = `model.layers.${l}.self_attn.`;
    return {
      q: rope(linear(h, W(`${p}q_proj.weight`)).reshape([seq, c.nHeads, hd]), c.ropeStyle, { theta: c.ropeTheta }),
      k: rope(linear(h, W(`${p}k_proj.weight`)).reshape([seq, c.nKvHeads, hd]), c.ropeStyle, { theta: c.ropeTheta }),
      v: linear(h, W(`${p}v_proj.weight`)).reshape([seq, c.nKvHeads, hd]),
    };
  };
  for (let l = 0; l < layer; l++) {
    const p = `model.layers.${l}.`;
    const { q, k, v } = qkv(l, rmsNorm(x, W(`${p}input_layernorm.weight`), c.normEps));
    x = add(x, linear(attention(q, k, v).reshape([seq, c.dim]), W(`${p}self_attn.o_proj.weight`)));
    const h2 = rmsNorm(x, W(`${p}post_attention_layernorm.weight`), c.normEps);
    x = add(x, linear(swiglu(linear(h2, W(`${p}mlp.gate_proj.weight`)), linear(h2, W(`${p}mlp.up_proj.weight`))), W(`${p}mlp.down_proj.weight`)));
  }
  const { q, k, v } = qkv(layer, rmsNorm(x, W(`model.layers.${layer}.input_layernorm.weight`), c.normEps));
  const kvHead = Math.floor(head / (c.nHeads / c.nKvHeads)); // grouped-query: heads share a key-value head
  const qVec = Array.from(q.select(0, query).select(0, head).data);
  const keys = Array.from({ length: seq }, (_, j) => Array.from(k.select(0, j).select(0, kvHead).data));
  const values = Array.from({ length: seq }, (_, j) => Array.from(v.select(0, j).select(0, kvHead).data));
  const scores = keys.map((kj) => kj.reduce((s, kji, i) => s + kji * qVec[i], 0));
  const scaled = scores.map((s) => s / Math.sqrt(hd));
  const masked = scaled.map((s, j) => (j > query ? -Infinity : s));
  const max = Math.max(...masked);
  const e = masked.map((s) => Math.exp(s - max));
  const total = e.reduce((a, b) => a + b, 0);
  const probs = e.map((x) => x / total);
  const output = Array.from({ length: hd }, (_, i) => probs.reduce((s, p, j) => s + p * values[j][i], 0));
  return { headDim: hd, kvHead, q: qVec, keys, values, scores, scaled, masked, probs, output };
}
