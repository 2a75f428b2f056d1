import type { KvType } from "../quant/kv";
import type { QuantType } from "../quant/types";
import type { QuantLayout } from "../quant/tiles";

/**
 * The kernel contract. Every backend implements these on contiguous, row-major Float32Arrays;
 * the Tensor class (views, strides, broadcasting) makes inputs contiguous before it calls in.
 * `js` is the reference: plain loops that read like the math. `wasm` is the fast path
 * (WebAssembly SIMD, optionally split across worker threads). A parity test holds every
 * `wasm` kernel to the `js` one.
 *
 * Memory: `allocF32` hands out arrays that the backend can use without copying. For `wasm`
 * they are views into its linear memory (a SharedArrayBuffer when threads are on), so model
 * weights allocated there are never copied per call. Kernels still accept any Float32Array;
 * arrays that live elsewhere are copied into scratch space first (correct, slower).
 */
export interface Backend extends TrainKernels {
  readonly name: "js" | "wasm";
  /** Worker threads the backend splits large kernels across (1 = calling thread only). */
  readonly threads: number;

  /** A zero-filled array of `length` floats that kernels can use without copying. */
  allocF32(length: number): Float32Array;

  /**
   * `byteLength` zero bytes, 16-byte aligned, where this backend's kernels can read them without
   * copying (the wasm heap for `wasm`): the storage of weights that are not f32 (f16 halves,
   * quantized blocks), filled by a loader and read by a LinearWeight's kernels.
   */
  allocBytes(byteLength: number): Uint8Array;

  /**
   * out[b, m, n] = Σ_k A[b, m, k] · B[b, k, n] for b < batch, where A = a as [m, k], or, when
   * `transA`, a holds [k, m] (a weight gradient dW = dYᵀ·X reads dY in place); and B = b as
   * [k, n], or, when `transB`, b holds [n, k] (the layout of nn.Linear / GGUF weights: one row
   * per output). Batch strides are m·k, k·n and m·n (a batch stride of 0 for `b` is allowed via
   * `bBatchStride`). With `accumulate` the product is added to out.
   */
  matmul(
    out: Float32Array, a: Float32Array, b: Float32Array,
    m: number, k: number, n: number,
    opts?: { transA?: boolean; transB?: boolean; batch?: number; bBatchStride?: number; accumulate?: boolean },
  ): void;

  /** out[r] = Σ_c w[r, c] · x[c]: the decode step's matrix × vector, w is [rows, cols]. */
  matvec(out: Float32Array, w: Float32Array, x: Float32Array, rows: number, cols: number): void;

  /**
   * out[r, j] = Σ_c w[j, c] · x[r, c] for r < rows: a linear layer (nn.Linear without bias) over
   * rows of activations, x [rows, inFeatures], w [outFeatures, inFeatures], out [rows, outFeatures].
   * Batch-invariant: row r's result is bit-identical whatever `rows` is and however many
   * threads run it, and equal to matvec(out[r], w, x[r], outFeatures, inFeatures). `matmul` makes
   * no such promise (its blocked sums depend on the shape), so inference projects through this.
   */
  linear(out: Float32Array, x: Float32Array, w: Float32Array, rows: number, inFeatures: number, outFeatures: number): void;

  /**
   * `linear`, with each(r0, r1) called for consecutive row ranges covering [0, rows), in order,
   * once those rows' outputs are final: a backend with worker threads computes later rows while
   * `each` uses earlier ones (the wasm backend). The same bits as `linear`. Optional: without it,
   * callers run linear() and then each(0, rows) (src/linear/linear-weight.ts projectEach).
   */
  /**
   * outs[i] = linear(x, ws[i]) with outFeatures[i] outputs, for every i < ws.length, over the same
   * x [rows, inFeatures]: a block's q, k and v projections (its gate and up) in one call, so a
   * backend with worker threads hands them over once. The same bits as one `linear` per weight.
   * Optional: without it, each weight is projected on its own (src/linear/linear-group.ts).
   */
  linearGroup?(
    x: Float32Array, rows: number, inFeatures: number,
    ws: readonly Float32Array[], outFeatures: readonly number[], outs: readonly Float32Array[],
  ): void;

  linearEach?(
    out: Float32Array, x: Float32Array, w: Float32Array, rows: number, inFeatures: number, outFeatures: number,
    each: (r0: number, r1: number) => void,
  ): void;

  /**
   * A SwiGLU MLP's first half in one call: up = linear(x, wUp) and out = swiglu(linear(x, wGate),
   * up), over x [rows, inFeatures], both weights [outFeatures, inFeatures], out and up [rows,
   * outFeatures] (up is written too: it holds the up projection afterwards). The same bits as
   * linearGroup (or two linear calls) followed by swiglu(out, out, up) on this backend; a backend
   * with worker threads applies the SwiGLU inside the split, on the thread that computed each
   * output. Optional: without it, callers run those calls (src/linear/linear-group.ts).
   */
  linearSwiglu?(
    out: Float32Array, up: Float32Array, x: Float32Array, wGate: Float32Array, wUp: Float32Array,
    rows: number, inFeatures: number, outFeatures: number,
  ): void;

  /**
   * out[r, o] = Σ_i W[o, i] · x[r, i] for r < rows, o < outFeatures: x is [rows, inFeatures] and
   * W [outFeatures, inFeatures] (nn.Linear layout) is stored in `w` as ggml blocks of `type`, one
   * output row after the other (src/quant/types.ts). Each input row is quantized once to the
   * weight type's partner (q8_0 for q8_0/q4_0, q8_1 for q4_1, q8_k for q4_k, as ggml does) and
   * every output is integer dot products per block with one float multiply per block; f16
   * weights multiply the float input, converted on the fly. Row r's result is bit-identical
   * whatever `rows` is, and the same on every backend (src/quant/reference.ts; f16 aside, whose
   * float sums are ordered differently, as matvec's are). `layout` "q4_0x4": w holds q4_0 in
   * tiles of four rows (src/quant/tiles.ts, made by packQ4_0Tiles), the same products.
   */
  matmulQuant(
    out: Float32Array, x: Float32Array, w: Uint8Array, type: QuantType, rows: number, inFeatures: number, outFeatures: number,
    layout?: QuantLayout,
  ): void;

  /** Row-wise numerically stable softmax of x [rows, cols] (max subtracted). out may be x. */
  softmax(out: Float32Array, x: Float32Array, rows: number, cols: number): void;

  /** out = x / sqrt(mean(x²) + eps) * weight, per row of [rows, cols]. */
  rmsnorm(out: Float32Array, x: Float32Array, weight: Float32Array, rows: number, cols: number, eps: number): void;

  /** out = (x - mean) / sqrt(var + eps) * weight + bias, per row (biased variance, as PyTorch). */
  layernorm(
    out: Float32Array, x: Float32Array, weight: Float32Array, bias: Float32Array | null,
    rows: number, cols: number, eps: number,
  ): void;

  /**
   * Rotary position embedding in place on x [seq, nHeads, headDim] for positions pos0 … pos0+seq-1.
   * `interleaved`: llama2.c / GGUF rotate adjacent pairs (x[2i], x[2i+1]);
   * `half`: Hugging Face Llama rotates (x[i], x[i + headDim/2]).
   * Angle for pair i at position p: p · theta^(-2i / headDim).
   */
  rope(
    x: Float32Array, seq: number, nHeads: number, headDim: number,
    pos0: number, theta: number, style: "interleaved" | "half",
  ): void;

  /**
   * RoPE for a batched decode step: row r of x [rows, nHeads, headDim] is one token of its own
   * sequence, rotated in place at position positions[r]. The same bits as
   * rope(row r, 1, nHeads, headDim, positions[r], theta, style), in one call for all rows.
   */
  ropeBatch(
    x: Float32Array, rows: number, nHeads: number, headDim: number,
    positions: Int32Array, theta: number, style: "interleaved" | "half",
  ): void;

  /**
   * Causal scaled dot-product attention with grouped-query heads.
   * q [seqQ, nHeads, headDim], k and v [seqKv, nKvHeads, headDim] (seqKv ≥ seqQ; query i sits at
   * key position seqKv - seqQ + i and sees keys ≤ that position), out [seqQ, nHeads, headDim].
   * Scale 1/√headDim. Head h reads kv head h / (nHeads / nKvHeads).
   * `kvStride` (default nKvHeads·headDim) lets k/v be rows of a larger KV cache.
   * If `probs` is given ([nHeads, seqQ, seqKv]) the softmaxed weights are written there.
   */
  attention(
    out: Float32Array, q: Float32Array, k: Float32Array, v: Float32Array,
    seqQ: number, seqKv: number, nHeads: number, nKvHeads: number, headDim: number,
    opts?: { kvStride?: number; probs?: Float32Array },
  ): void;

  /**
   * Attention for a batched decode step: row r of q [rows, nHeads, headDim] is the newest token
   * of its own sequence, whose keys and values are the first lengths[r] rows of keys[r] and
   * values[r] ([≥ lengths[r], nKvHeads, headDim]: a KV cache, the token's own row included), and
   * row r of out [rows, nHeads, headDim] gets its attention output. The same bits as
   * attention(out row r, q row r, keys[r], values[r], 1, lengths[r], nHeads, nKvHeads, headDim):
   * a row's result does not depend on the other rows. For f32 caches; packed ones go through
   * attentionPacked row by row.
   */
  attentionBatch(
    out: Float32Array, q: Float32Array, keys: readonly Float32Array[], values: readonly Float32Array[],
    lengths: Int32Array, rows: number, nHeads: number, nKvHeads: number, headDim: number,
  ): void;

  /**
   * attentionBatch into `out`, then projected = linear(out, w) over its rows (w [outFeatures,
   * nHeads · headDim]: a block's o_proj), in one call: the same bits as those two calls. A backend
   * with worker threads projects each row on the thread that computed its attention, in the same
   * job. Optional: without it, callers make the two calls (transformer's block).
   */
  attentionBatchProject?(
    projected: Float32Array, out: Float32Array, q: Float32Array, keys: readonly Float32Array[], values: readonly Float32Array[],
    lengths: Int32Array, rows: number, nHeads: number, nKvHeads: number, headDim: number, w: Float32Array, outFeatures: number,
  ): void;

  /**
   * Every layer of a Llama-style batched decode step in one call (see DecodeLayersPlan): row r of
   * `buffers` is one token of a sequence at position positions[r]; per layer l its key and
   * value go to row positions[r] of keys[l·rows + r] / values[l·rows + r] (that sequence's f32
   * cache of layer l, [capacity, nKvHeads·headDim]), it attends over rows 0 … positions[r] of
   * them, and x [rows, dim] leaves as the residual stream after the last block. The same bits
   * as the per-op path (rmsnorm, linear, ropeBatch, the cache writes, attentionBatch, add,
   * linearSwiglu), row by row. Consecutive rows may share a cache (one sequence's consecutive
   * tokens: a prompt chunk, a speculative verify), at consecutive positions (a typed error
   * otherwise); rows that are not consecutive may not. A backend with worker threads gives each
   * thread whole rows (whole runs of a shared cache) through every layer: one hand-off per step. Returns false,
   * having done nothing, when an array is not where its kernels can read it in place (the
   * caller then takes the per-op path). Optional, with prepareDecodeLayers.
   */
  decodeLayers?(
    plan: DecodeLayersPlan, buffers: DecodeLayersBuffers, rows: number,
    keys: readonly Float32Array[], values: readonly Float32Array[], positions: Int32Array,
  ): boolean;

  /**
   * A plan for decodeLayers over these layers, made once per model: null when this backend cannot
   * run them as one step (an array not in its memory, a shape it does not take). `maxRows`, if
   * given, is the most rows a step will have: the backend may size its work memory for such a
   * step now, so that no step grows it later (a server counts its memory from the model's load).
   */
  prepareDecodeLayers?(shape: DecodeLayersShape, layers: readonly DecodeLayerWeights[], maxRows?: number): DecodeLayersPlan | null;

  /**
   * `attention` over a packed KV cache: k and v hold seqKv rows of nKvHeads · headDim values,
   * each row stored as `kType` / `vType` (f32, f16, q8_0, q4_0, q4_1: ggml's layouts, rows packed
   * whole with the last block zero-padded, kvRowBytes(type, nKvHeads · headDim) bytes apart;
   * src/quant/kv.ts). Scores and the value sum read the rows straight from those bytes. Same
   * shapes and causal rule as `attention`; K and V types are independent.
   */
  attentionPacked(
    out: Float32Array, q: Float32Array, k: Uint8Array, v: Uint8Array, kType: KvType, vType: KvType,
    seqQ: number, seqKv: number, nHeads: number, nKvHeads: number, headDim: number,
    opts?: { probs?: Float32Array },
  ): void;

  /**
   * Appends to a packed KV cache: `rows` rows of rowLen values, src[srcOffset + r · rowLen …],
   * stored as `type` at dst[dstOffset + r · kvRowBytes(type, rowLen) …], the layout
   * attentionPacked reads (ggml's reference quantizers for q8_0 / q4_0 / q4_1, blocks of 32 with
   * the last zero-padded; f16 rounded to nearest even; f32 as its bytes). The same bytes on
   * every backend (src/quant/kv-pack.ts).
   */
  packKvRows(type: KvType, src: Float32Array, srcOffset: number, rowLen: number, rows: number, dst: Uint8Array, dstOffset: number): void;

  /** Elementwise on contiguous arrays of equal length (out may alias an input). */
  add(out: Float32Array, a: Float32Array, b: Float32Array): void;
  mul(out: Float32Array, a: Float32Array, b: Float32Array): void;
  /** out = x · sigmoid(x) */
  silu(out: Float32Array, x: Float32Array): void;
  /** GELU, tanh approximation (GPT-2): 0.5x(1 + tanh(√(2/π)(x + 0.044715x³))) */
  gelu(out: Float32Array, x: Float32Array): void;
  /** out = silu(gate) · up: SwiGLU's fused step. */
  swiglu(out: Float32Array, gate: Float32Array, up: Float32Array): void;
}

/** One Adam(W) update's constants (see `TrainKernels.adam`). */
export interface AdamHyper {
  beta1: number;
  beta2: number;
  eps: number;
  /** lr / (1 − β1ᵗ) */
  stepSize: number;
  /** √(1 − β2ᵗ) */
  c2: number;
  /** 1 − lr·λ for AdamW's decoupled weight decay, 1 otherwise */
  shrink: number;
  /** λ for Adam's coupled L2 penalty, 0 otherwise */
  l2: number;
}

/**
 * The kernels of training: each forward kernel's derivative, the data movement the backward
 * rules need, and the optimizer update (used by @zero-llm/autograd). Outputs named `g…` are
 * gradients and accumulate (`+=`); a `null` gradient is not wanted. Row statistics are
 * recomputed from the forward inputs, so a forward pass saves nothing but those inputs.
 */
export interface TrainKernels {
  /** out[b, c, r] = x[b, r, c]: `batch` matrices [rows, cols] -> [cols, rows]. */
  transpose(out: Float32Array, x: Float32Array, batch: number, rows: number, cols: number): void;
  /** x [batch, seq, nSrc, d] -> out [batch, nHeads, seq, d]; head h reads source head ⌊h / (nHeads / nSrc)⌋. */
  gatherHeads(out: Float32Array, x: Float32Array, batch: number, seq: number, nSrc: number, nHeads: number, d: number): void;
  /** The transpose of gatherHeads: g [batch, seq, nDst, d] += Σ over each group of x [batch, nDst·group, seq, d]. */
  scatterHeadsAdd(g: Float32Array, x: Float32Array, batch: number, seq: number, nDst: number, group: number, d: number): void;
  /** out += alpha · x (equal lengths). */
  axpy(out: Float32Array, x: Float32Array, alpha: number): void;
  /** out += a ⊙ b (equal lengths). */
  mulAdd(out: Float32Array, a: Float32Array, b: Float32Array): void;
  /** x *= s in place. */
  scale(x: Float32Array, s: number): void;
  /** Σ x², accumulated in float64. */
  sumSquares(x: Float32Array): number;
  /** gx += dy · gelu'(x) (tanh approximation). */
  geluBackward(gx: Float32Array, x: Float32Array, dy: Float32Array): void;
  /** gx += dy · silu'(x). */
  siluBackward(gx: Float32Array, x: Float32Array, dy: Float32Array): void;
  /** gx += scale · y ⊙ (dy − Σ_c dy_c·y_c) per row of y = softmax(x) [rows, cols]. */
  softmaxBackward(gx: Float32Array, y: Float32Array, dy: Float32Array, rows: number, cols: number, scale: number): void;
  /** LayerNorm's backward per row (gain w, null = 1): into gx, gw and gb, any of them null. */
  layernormBackward(
    gx: Float32Array | null, gw: Float32Array | null, gb: Float32Array | null,
    x: Float32Array, w: Float32Array | null, dy: Float32Array, rows: number, cols: number, eps: number,
  ): void;
  /** RMSNorm's backward per row (gain w, null = 1): into gx and gw, either null. */
  rmsnormBackward(
    gx: Float32Array | null, gw: Float32Array | null,
    x: Float32Array, w: Float32Array | null, dy: Float32Array, rows: number, cols: number, eps: number,
  ): void;
  /**
   * Softmax cross-entropy backward per row of logits z [rows, cols] with lse[r] = log Σ e^z:
   * gz += scale · (e^(z − lse) − q), q = (1 − smoothing)·onehot(target) + smoothing/cols; a
   * negative target[r] (a float holding the class) skips the row.
   */
  crossEntropyBackward(
    gz: Float32Array, z: Float32Array, lse: Float32Array, target: Float32Array,
    rows: number, cols: number, scale: number, smoothing: number,
  ): void;
  /** Per row of z [rows, cols]: max[r] = max_c z_c, sum[r] = Σ_c e^(z_c − max[r]) (lse = max + log sum). */
  expSumRows(sum: Float32Array, max: Float32Array, z: Float32Array, rows: number, cols: number): void;
  /** One Adam(W) step on p in place, moments m and v updated (see AdamHyper). */
  adam(p: Float32Array, grad: Float32Array, m: Float32Array, v: Float32Array, hyper: AdamHyper): void;
}

/** The shape decodeLayers runs: a Llama block (RMSNorm, RoPE, SwiGLU, no biases), nHeads·headDim = dim. */
export interface DecodeLayersShape {
  readonly dim: number;
  readonly hiddenDim: number;
  readonly nHeads: number;
  readonly nKvHeads: number;
  readonly headDim: number;
  readonly eps: number;
  readonly ropeTheta: number;
  readonly ropeStyle: "interleaved" | "half";
}

/** One layer's f32 weights for decodeLayers, nn.Linear layout [out, in]: wq wo [dim, dim], wk wv [kvDim, dim], wGate wUp [hiddenDim, dim], wDown [dim, hiddenDim]. */
export interface DecodeLayerWeights {
  readonly attnNorm: Float32Array;
  readonly wq: Float32Array;
  readonly wk: Float32Array;
  readonly wv: Float32Array;
  readonly wo: Float32Array;
  readonly ffnNorm: Float32Array;
  readonly wGate: Float32Array;
  readonly wUp: Float32Array;
  readonly wDown: Float32Array;
}

/** decodeLayers' work buffers, row-major [rows, width] (a transformer's run state: @zero-llm/transformer's RowBuffers). */
export interface DecodeLayersBuffers {
  /** residual stream [rows, dim] */
  readonly x: Float32Array;
  /** normed input of a block, later the attention output [rows, dim] */
  readonly xb: Float32Array;
  /** output of a projection back into the residual [rows, dim] */
  readonly xb2: Float32Array;
  /** queries [rows, nHeads, headDim] */
  readonly q: Float32Array;
  /** this step's keys and values before they go into the cache [rows, nKvHeads, headDim] */
  readonly k: Float32Array;
  readonly v: Float32Array;
  /** MLP hidden activations [rows, hiddenDim] */
  readonly hb: Float32Array;
  readonly hb2: Float32Array;
}

/** What prepareDecodeLayers made: opaque to callers, used only by the backend that made it. */
export interface DecodeLayersPlan {
  readonly shape: DecodeLayersShape;
  readonly nLayers: number;
}
