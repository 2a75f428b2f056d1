import { headDimOf, halfToInterleaved, type Config } from "@zero-llm/transformer";
import type { LoraAdapter } from "./adapter";

/**
 * An adapter as updates of our weights. Adapter files name the model's modules; our weights
 * split one of them (GPT-2's fused c_attn is q | k | v) and may keep a Llama's q/k rows in
 * interleaved RoPE order (a model read from GGUF or llama2.c) where the file has Hugging Face's
 * "half" order. So each module becomes one update per part:
 *
 *   ΔW_part = scaling · B[rows of the part, in the base's order] · A
 *
 * A is shared by the parts of a module (one input projection for q, k and v of a c_attn).
 */
export interface WeightDelta {
  /** Our weight name, e.g. "model.layers.0.self_attn.q_proj.weight". */
  readonly weight: string;
  /** The module it comes from (for messages). */
  readonly module: string;
  readonly rank: number;
  readonly inFeatures: number;
  /** Rows of our weight. */
  readonly outFeatures: number;
  /** [rank, inFeatures] */
  readonly a: Float32Array;
  /** [outFeatures, rank]: the part's rows of B, permuted to the base's RoPE order when needed. */
  readonly b: Float32Array;
  /** The adapter's scaling of the module (alpha / r or alpha / √r), not yet times a use's scale. */
  readonly scaling: number;
}

/** The adapter's updates of `model`'s weights (checked first: BASE_MISMATCH names a module that does not fit). */
export function weightDeltas(model: Config, adapter: LoraAdapter): WeightDelta[] {
  const modules = adapter.check(model);
  const deltas: WeightDelta[] = [];
  for (const m of modules) {
    const w = adapter.module(m.key);
    const scaling = adapter.scaling(m.key);
    for (const part of m.parts) {
      const [begin, end] = part.rows;
      let b = w.b.subarray(begin * w.rank, end * w.rank);
      if (part.ropeHeads !== undefined && model.ropeStyle === "interleaved") {
        // the file's rows are in Hugging Face (half) order; this base rotates adjacent pairs
        b = halfToInterleaved(b, part.ropeHeads, headDimOf(model), w.rank);
      }
      deltas.push({ weight: part.weight, module: m.key, rank: w.rank, inFeatures: w.inFeatures, outFeatures: end - begin, a: w.a, b, scaling });
    }
  }
  return deltas;
}
