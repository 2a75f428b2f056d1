import { jsBackend, type Backend } from "@zero-llm/tensor";
import { TransformerError } from "../errors";
import { validateConfig, type Config } from "./config";
import { decodeStep } from "./decode";
import { DecodeLayersStep } from "./decode-layers";
import { KVCache, type KVCacheOptions } from "./kv-cache";
import { kvDType } from "./kv-types";
import { resolveWeights } from "./layers";
import { forwardRows, gatherRows, logitsForRow, logitsForRows } from "./rows";
import { RunState } from "./run-state";
import { boundKernels, checkToken, checkTokens, type Runtime } from "./steps";
import { checkWeights, type Weights } from "./weights";

export interface ModelOptions {
  /** Kernels to run on (default: the reference jsBackend). Weights should come from its allocF32. */
  backend?: Backend;
  /** Most tokens in flight in one pass: the prefill chunk and the largest decode batch. Default 64. */
  maxBatchRows?: number;
  /**
   * The KV element types every cache of this model gets unless newCache says otherwise (llama.cpp
   * sets --cache-type-k/v per context the same way): "f32" (default), "f16", "q8_0", "q4_0", "q4_1".
   */
  cacheTypes?: Pick<KVCacheOptions, "kType" | "vType">;
  /**
   * Whether decodeBatch may run every layer of a step as one backend call (Backend.decodeLayers:
   * on the wasm backend, each thread takes whole rows through all the layers) where the model
   * allows it (decode-layers.ts). The same bits either way; false keeps the per-op path, for
   * comparisons. Default true.
   */
  decodeLayersStep?: boolean;
}

export interface PrefillOptions {
  /** If given ([tokens.length, vocabSize]), receives the logits at every prompt position. */
  allLogits?: Float32Array;
  /** Capture every layer's attention weights for the prompt (see AttentionMaps). */
  captureAttention?: boolean;
  /**
   * If given ([tokens.length, dim]), receives the final hidden state at every prompt position:
   * the residual stream after the last block and the final norm, the vector lm_head reads
   * (what llama.cpp pools for embeddings).
   */
  hiddenStates?: Float32Array;
}

/**
 * Softmaxed attention weights captured during a prefill: layers[l] is [nHeads, queries, keys]
 * where query i is the prompt token at position firstPosition + i and keys are positions
 * 0 … keys-1 (keys = firstPosition + queries; entries above the diagonal are 0).
 */
export interface AttentionMaps {
  readonly nHeads: number;
  readonly queries: number;
  readonly keys: number;
  readonly firstPosition: number;
  readonly layers: Float32Array[];
}

export interface PrefillResult {
  /** Logits after the last prompt token [vocabSize] (a run-state view: valid until the next call). */
  readonly logits: Float32Array;
  readonly attention?: AttentionMaps;
}

/**
 * A decoder-only transformer ready for inference. The weights are read in place; the run state
 * is allocated once here; each sequence keeps its own KVCache (`newCache()`).
 *
 * - `decode(token, cache)`: one token, matrix × vector (the llama2.c `forward`).
 * - `prefill(tokens, cache)`: a prompt, matrix × matrix in chunks of maxBatchRows, causal
 *   attention over the cache.
 * - `decodeBatch(tokens, caches)`: the next token of several sequences in one matrix × matrix pass.
 */
/** decodeBatch's onRows: rows [r0, r1) of `logits` [batch, vocabSize] are final. */
export type BatchRowsListener = (logits: Float32Array, r0: number, r1: number) => void;

/**
 * logitsForRows with onRows told as rows are final. Its own function on purpose: the closure's
 * captured variables live in a context V8 allocates when the enclosing function is entered, so
 * inside decodeBatch it would cost every step (48 bytes, test/infer-allocation-batch.test.ts),
 * not only those given onRows.
 */
function logitsHandingRows(rt: Runtime, n: number, onRows: BatchRowsListener): Float32Array {
  const logits = rt.state.rows(n).logits;
  return logitsForRows(rt, n, (r0, r1) => onRows(logits, r0, r1));
}

export class Model {
  readonly config: Config;
  readonly weights: Weights;
  readonly backend: Backend;
  readonly maxBatchRows: number;
  private readonly rt: Runtime;
  private readonly cacheTypes: Pick<KVCacheOptions, "kType" | "vType">;

  constructor(config: Config, weights: Weights, options: ModelOptions = {}) {
    this.config = validateConfig(config);
    checkWeights(config, weights);
    this.weights = weights;
    this.backend = options.backend ?? jsBackend;
    this.maxBatchRows = options.maxBatchRows ?? 64;
    this.cacheTypes = { ...options.cacheTypes };
    if (typeof this.cacheTypes.kType === "string") kvDType(this.cacheTypes.kType); // BAD_CACHE now, not at the first cache
    if (typeof this.cacheTypes.vType === "string") kvDType(this.cacheTypes.vType);
    if (!Number.isInteger(this.maxBatchRows) || this.maxBatchRows < 1) {
      throw new TransformerError("BAD_CONFIG", `maxBatchRows: expected a positive integer, found ${this.maxBatchRows}`);
    }
    const w = resolveWeights(config, weights, this.backend);
    this.rt = {
      config,
      backend: this.backend,
      w,
      state: new RunState(config, this.backend, this.maxBatchRows),
      ...boundKernels(config, this.backend),
      layersStep: options.decodeLayersStep === false ? null : DecodeLayersStep.plan(config, w, this.backend, this.maxBatchRows),
    };
  }

  /** A KV cache for one sequence, allocated by this model's backend (element types: options, else ModelOptions.cacheTypes). */
  newCache(options: KVCacheOptions = {}): KVCache {
    return new KVCache(this.config, this.backend, { ...this.cacheTypes, ...options });
  }

  /** Bytes of the preallocated run-state buffers. */
  runStateBytes(): number {
    return this.rt.state.bytes();
  }

  /** Logits [vocabSize] for the token after `token`, which goes to position cache.length. */
  decode(token: number, cache: KVCache): Float32Array {
    checkToken(this.config, token);
    this.checkCache(cache);
    return decodeStep(this.rt, token, cache);
  }

  /** Runs a prompt through the model, appending it to `cache`. */
  prefill(tokens: ArrayLike<number>, cache: KVCache, options: PrefillOptions = {}): PrefillResult {
    const c = this.config;
    const n = tokens.length;
    if (n === 0) throw new TransformerError("BAD_TOKEN", "prefill: expected at least 1 token, found 0");
    checkTokens(c, tokens);
    this.checkCache(cache);
    cache.reserve(n);
    const { allLogits, hiddenStates } = options;
    if (allLogits && allLogits.length < n * c.vocabSize) {
      throw new TransformerError(
        "BAD_CONFIG",
        `allLogits: expected at least ${n * c.vocabSize} floats, found ${allLogits.length}`,
      );
    }
    if (hiddenStates && hiddenStates.length < n * c.dim) {
      throw new TransformerError("BAD_CONFIG", `hiddenStates: expected at least ${n * c.dim} floats, found ${hiddenStates.length}`);
    }
    const firstPosition = cache.length;
    const maps: AttentionMaps | undefined = options.captureAttention
      ? {
          nHeads: c.nHeads, queries: n, keys: firstPosition + n, firstPosition,
          layers: Array.from({ length: c.nLayers }, () => new Float32Array(c.nHeads * n * (firstPosition + n))),
        }
      : undefined;

    let logits = this.rt.state.row(0).logits;
    for (let start = 0; start < n; start += this.maxBatchRows) {
      const rows = Math.min(this.maxBatchRows, n - start);
      const sink = maps
        ? (layer: number, probs: Float32Array, seqQ: number, seqKv: number) => {
            // chunk probs [nHeads, seqQ, seqKv] → map [nHeads, queries, keys] at query rows start…
            const out = maps.layers[layer];
            for (let h = 0; h < c.nHeads; h++) {
              for (let i = 0; i < seqQ; i++) {
                const src = (h * seqQ + i) * seqKv;
                out.set(probs.subarray(src, src + seqKv), (h * n + start + i) * maps.keys);
              }
            }
          }
        : undefined;
      forwardRows(this.rt, tokens, start, rows, cache, sink);
      if (hiddenStates) {
        // the final norm of rows [0, rows): [rows, dim], at prompt positions start…
        const s = this.rt.state.rows(rows);
        this.rt.norm(s.xb, s.x, this.rt.w.finalNorm, this.rt.w.finalNormBias, rows);
        hiddenStates.set(s.xb.subarray(0, rows * c.dim), start * c.dim);
      }
      if (allLogits) {
        const chunk = logitsForRows(this.rt, rows);
        allLogits.set(chunk, start * c.vocabSize);
        logits = this.rt.state.row(rows - 1).logits;
      } else if (start + rows === n) {
        logits = logitsForRow(this.rt, rows - 1); // only the last position's logits are needed
      }
    }
    return maps ? { logits, attention: maps } : { logits };
  }

  /**
   * The next token of several sequences at once: tokens[r] goes to caches[r] at position
   * caches[r].length. Consecutive rows may share a cache: they are consecutive tokens of that
   * sequence (a speculative verify of several sequences in one pass: [last, d₁ … d_k] of each),
   * at positions caches[r].length, +1, …. Returns logits [batch, vocabSize] (a run-state view),
   * each row bit for bit what decoding its token alone gives (batch-invariant kernels).
   *
   * `onRows(logits, r0, r1)`, if given, is called for consecutive row ranges covering the batch,
   * in order, as soon as their logits are final: with a threaded backend the last product (the
   * lm_head) goes on for later rows while the caller samples earlier ones. `logits` is the array
   * decodeBatch returns; rows not yet handed to onRows are still being written.
   *
   * `logitRows`, if given, lists the rows whose logits are wanted (increasing row indices): the
   * logits are then [logitRows.length, vocabSize], entry j for row logitRows[j], and onRows counts
   * in those entries. A server puts prompt tokens in the batch beside decode rows (one forward
   * pass for both) and needs the logits of a prompt's last token only: the lm_head of the others
   * (a quarter of a small model's work per row) is skipped, each kept row's logits the same bits.
   */
  decodeBatch(tokens: ArrayLike<number>, caches: readonly KVCache[], onRows?: BatchRowsListener, logitRows?: ArrayLike<number>): Float32Array {
    const n = tokens.length;
    if (n !== caches.length || n === 0) {
      throw new TransformerError("BAD_CACHE", `decodeBatch: expected one cache per token (${n}), found ${caches.length}`);
    }
    if (n > this.maxBatchRows) {
      throw new TransformerError("BATCH_TOO_LARGE", `decodeBatch: expected at most ${this.maxBatchRows} sequences (maxBatchRows), found ${n}`);
    }
    checkTokens(this.config, tokens);
    for (let r = 0; r < n; r++) {
      this.checkCache(caches[r]);
      if (r > 0 && caches[r] === caches[r - 1]) continue; // the next token of the same sequence
      for (let q = 0; q < r - 1; q++) {
        if (caches[q] === caches[r]) {
          throw new TransformerError("BAD_CACHE", `decodeBatch: expected the rows of one cache to be consecutive, found rows ${q} and ${r} sharing one with others between`);
        }
      }
    }
    if (logitRows) checkLogitRows(logitRows, n);
    forwardRows(this.rt, tokens, 0, n, caches);
    const m = logitRows ? gatherRows(this.rt, logitRows) : n;
    if (m === 0) return this.rt.state.rows(0).logits;
    return onRows ? logitsHandingRows(this.rt, m, onRows) : logitsForRows(this.rt, m);
  }

  private checkCache(cache: KVCache): void {
    if (cache.layers.length !== this.config.nLayers || cache.rowLen !== this.rt.state.row(0).k.length) {
      throw new TransformerError(
        "BAD_CACHE",
        `KV cache: expected ${this.config.nLayers} layers of rows ${this.rt.state.row(0).k.length} wide, found ${cache.layers.length} of ${cache.rowLen}`,
      );
    }
  }
}

/** decodeBatch's logitRows: integers in [0, n), strictly increasing (a typed error otherwise). */
function checkLogitRows(logitRows: ArrayLike<number>, n: number): void {
  for (let j = 0; j < logitRows.length; j++) {
    const r = logitRows[j];
    if (!Number.isInteger(r) || r < 0 || r >= n || (j > 0 && r <= logitRows[j - 1])) {
      throw new TransformerError("BAD_CONFIG", `logitRows: expected increasing row indices in [0, ${n}), found ${r} at ${j}`);
    }
  }
}
