import type { Backend } from "@zero-llm/tensor";
import { TransformerError } from "../errors";
import type { Config } from "./config";
import type { ModelWeights } from "./layers";
import type { RunState } from "./run-state";

/** What a forward pass needs: the shape, the kernels, the weights and the preallocated buffers. */
export interface Runtime {
  readonly config: Config;
  readonly backend: Backend;
  readonly w: ModelWeights;
  readonly state: RunState;
}

/** Row r of x [rows, dim] = the token's embedding row (+ its learned position row for gpt2). */
export function embed(rt: Runtime, x: Float32Array, r: number, token: number, pos: number): void {
  const { dim } = rt.config;
  const { embed: table, positions } = rt.w;
  const dst = r * dim, src = token * dim;
  for (let i = 0; i < dim; i++) x[dst + i] = table[src + i];
  if (positions) {
    const p = pos * dim;
    for (let i = 0; i < dim; i++) x[dst + i] += positions[p + i];
  }
}

/** The block's normalisation over rows of [rows, dim]: RMSNorm for llama, LayerNorm for gpt2. */
export function norm(
  rt: Runtime, out: Float32Array, x: Float32Array, weight: Float32Array, bias: Float32Array | null, rows: number,
): void {
  const { dim, normEps, arch } = rt.config;
  if (arch === "llama") rt.backend.rmsnorm(out, x, weight, rows, dim, normEps);
  else rt.backend.layernorm(out, x, weight, bias, rows, dim, normEps);
}

/**
 * out[r] += bias for every row of out [rows, width]. A plain loop: O(rows · width) next to the
 * O(rows · width · dim) matmul that precedes it, so not worth a kernel.
 */
export function addBias(out: Float32Array, bias: Float32Array | null, rows: number): void {
  if (!bias) return;
  const width = bias.length;
  for (let r = 0; r < rows; r++) {
    const o = r * width;
    for (let i = 0; i < width; i++) out[o + i] += bias[i];
  }
}

/** Throws BAD_TOKEN unless every id is an integer in [0, vocabSize). */
export function checkTokens(c: Config, tokens: ArrayLike<number>): void {
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    if (!Number.isInteger(t) || t < 0 || t >= c.vocabSize) {
      throw new TransformerError("BAD_TOKEN", `token ${i}: expected an integer id in [0, ${c.vocabSize}), found ${t}`);
    }
  }
}
