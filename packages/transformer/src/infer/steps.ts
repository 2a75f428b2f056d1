import type { Backend } from "@zero-llm/tensor";
import { TransformerError } from "../errors";
import { headDimOf, type Config } from "./config";
import type { ModelWeights } from "./layers";
import type { RunState } from "./run-state";
import type { DecodeLayersStep } from "./decode-layers";

/** What a forward pass needs: the shape, the kernels, the weights and the preallocated buffers. */
export interface Runtime {
  readonly config: Config;
  readonly backend: Backend;
  readonly w: ModelWeights;
  readonly state: RunState;
  /** The block's normalisation over rows of [rows, dim]: RMSNorm for llama, LayerNorm for gpt2. */
  readonly norm: (out: Float32Array, x: Float32Array, weight: Float32Array, bias: Float32Array | null, rows: number) => void;
  /** RoPE in place on x [seq, heads, headDim] at positions pos0 … (llama only). */
  readonly rope: (x: Float32Array, seq: number, heads: number, pos0: number) => void;
  /** RoPE in place on rows of x [rows, heads, headDim], row r at positions[r] (a batched decode step). */
  readonly ropeBatch: (x: Float32Array, rows: number, heads: number, positions: Int32Array) => void;
  /** A batched decode step's layers in one backend call, where the model and backend allow it (decode-layers.ts). */
  readonly layersStep?: DecodeLayersStep | null;
}

/**
 * The norm and RoPE calls with the model's constants bound. Closures on purpose: normEps (1e-5)
 * and a fractional ropeTheta are doubles, and V8 boxes a double read from an object field into a
 * new heap number whenever it is passed to a call that is not inlined (16 bytes per call, several
 * per token: measured by test/infer-allocation.test.ts). A captured constant is boxed once, here.
 */
export function boundKernels(c: Config, be: Backend): Pick<Runtime, "norm" | "rope" | "ropeBatch"> {
  const { dim, normEps, ropeTheta, ropeStyle } = c;
  const headDim = headDimOf(c);
  return {
    norm: c.arch === "llama"
      ? (out, x, weight, _bias, rows) => be.rmsnorm(out, x, weight, rows, dim, normEps)
      : (out, x, weight, bias, rows) => be.layernorm(out, x, weight, bias, rows, dim, normEps),
    rope: (x, seq, heads, pos0) => be.rope(x, seq, heads, headDim, pos0, ropeTheta, ropeStyle),
    ropeBatch: (x, rows, heads, positions) => be.ropeBatch(x, rows, heads, headDim, positions, ropeTheta, ropeStyle),
  };
}

/** Row r of x [rows, dim] = the token's embedding row (+ its learned position row for gpt2). */
export function embed(rt: Runtime, x: Float32Array, r: number, token: number, pos: number): void {
  const { dim } = rt.config;
  const { embed: table, positions } = rt.w;
  const dst = r * dim, src = token * dim;
  if (table instanceof Float32Array) {
    for (let i = 0; i < dim; i++) x[dst + i] = table[src + i];
  } else {
    table.rowValues(token, x, dst); // stored in blocks: this one row is decoded
  }
  if (positions) {
    const p = pos * dim;
    for (let i = 0; i < dim; i++) x[dst + i] += positions[p + i];
  }
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

/** Throws BAD_TOKEN unless `token` is an integer id in [0, vocabSize) (one id: no array per decode step). */
export function checkToken(c: Config, token: number, index = 0): void {
  if (!Number.isInteger(token) || token < 0 || token >= c.vocabSize) {
    throw new TransformerError("BAD_TOKEN", `token ${index}: expected an integer id in [0, ${c.vocabSize}), found ${token}`);
  }
}

/** Throws BAD_TOKEN unless every id is an integer in [0, vocabSize). */
export function checkTokens(c: Config, tokens: ArrayLike<number>): void {
  for (let i = 0; i < tokens.length; i++) checkToken(c, tokens[i], i);
}
