import { TensorError, type Backend } from "@zero-llm/tensor";
import { TransformerError } from "../errors";
import { headDimOf, kvDimOf, type Config } from "./config";
import { f32KV, kvDType, type KVTypeName, type PackedRows } from "./kv-types";

export { f32KV };

/**
 * Storage for one layer's keys (or values): `capacity` rows of `rowLen` = nKvHeads · headDim
 * numbers, row p holding the token at position p.
 *
 * Layout (per layer, for K and for V):   [capacity, nKvHeads, headDim]   position-major
 *
 *   row 0:  | kv head 0: headDim | kv head 1: headDim | … |
 *   row 1:  | kv head 0: headDim | kv head 1: headDim | … |
 *
 * Why position-major rather than the head-major [nKvHeads, seq, headDim] of PyTorch code: a
 * token's k (or v) projection comes out of the matmul as one contiguous row [nKvHeads · headDim],
 * so appending a token is one contiguous copy (a prompt of n tokens: n consecutive rows), and a
 * decode step's attention reads each cached row once, front to back, for all heads of the query
 * (one pass in address order is what a hardware prefetcher streams best). Head-major would
 * scatter every append into nKvHeads places. llama2.c's key_cache has this layout too. For a
 * per-head view (the playground's attention explorer) use KVCache.keys(layer, head).
 *
 * The element type is pluggable (KVDType; the built-in ones, f32 f16 q8_0 q4_0 q4_1, are in
 * kv-types.ts). Three ways to read a store:
 * - `f32Rows`: a store that keeps plain float32 rows exposes them; the attention kernel then
 *   reads the cache in place (no copy, no allocation): the fast path for f32.
 * - `packed`: a store in a layout of backend.attentionPacked (f16, Q8_0, Q4_0, Q4_1 rows packed
 *   on `write`, ggml's blocks) exposes its bytes, and attention reads them in place too.
 * - `readRows`: every store unpacks any range of positions into a caller's f32 buffer. A store of
 *   any other layout (a bf16 one, say) is read that way a chunk of positions at a time into a
 *   small buffer of the model's run state, so no store needs a full-size f32 copy of itself.
 */
export interface KVStore {
  readonly dtype: string;
  /** Positions this store has room for. */
  readonly capacity: number;
  /** Numbers per position: nKvHeads · headDim. */
  readonly rowLen: number;
  /** Stores `nRows` rows from src (starting at float offset srcOffset) at rows [row, row + nRows). */
  write(row: number, src: Float32Array, srcOffset: number, nRows: number): void;
  /** Unpacks rows [start, start + nRows) as f32 into dst from float offset dstOffset (row stride rowLen). */
  readRows(start: number, nRows: number, dst: Float32Array, dstOffset: number): void;
  /** The rows as plain f32 [capacity, rowLen], read in place by the attention kernel; null when packed. */
  readonly f32Rows: Float32Array | null;
  /**
   * The rows in one of the layouts backend.attentionPacked reads (f32, f16, q8_0, q4_0, q4_1):
   * attention then runs straight from these bytes. Absent for a store of another layout, which
   * attention reads through readRows a chunk at a time.
   */
  readonly packed?: PackedRows | null;
  /** Bytes this store really holds: its whole allocation (packed data, scales, any buffer it keeps). */
  bytes(): number;
}

/** A KV element type: how to make a store of `capacity` rows of `rowLen` numbers. */
export interface KVDType {
  readonly name: string;
  create(capacity: number, rowLen: number, backend: Backend): KVStore;
}

export interface KVCacheOptions {
  /** Positions the cache can hold. Default config.seqLen; more is CONTEXT_OVERFLOW unless allowContextOverflow. */
  capacity?: number;
  /**
   * Let a llama (RoPE) model run past its trained context: the rotary angles are computed for any
   * position, so the arithmetic is defined there, but the model never saw such positions and its
   * outputs degrade. A gpt2 model cannot: it has exactly seqLen learned position embeddings, and
   * a capacity past them is CONTEXT_OVERFLOW even with this set.
   */
  allowContextOverflow?: boolean;
  /**
   * Element type of keys and of values, independently (default f32 for both): a KVDType, or the
   * name of one of KV_DTYPES ("f32", "f16", "q8_0", "q4_0", "q4_1": llama.cpp's --cache-type-k/v).
   */
  kType?: KVDType | KVTypeName;
  vType?: KVDType | KVTypeName;
}

/**
 * The keys and values of every layer for one sequence. `length` is the number of positions
 * filled; the next token goes to position `length`. Writing past `capacity` throws
 * CONTEXT_OVERFLOW (no silent sliding: dropping the oldest keys would change what the model
 * attends to, and RoPE positions would no longer match). The capacity itself is at most the
 * model's trained context (seqLen) unless `allowContextOverflow` (RoPE models only), so every
 * path through the model (decode, prefill, batched decode, generate) has the same limit.
 */
export class KVCache {
  readonly capacity: number;
  readonly rowLen: number;
  readonly nKvHeads: number;
  readonly headDim: number;
  readonly layers: ReadonlyArray<{ readonly k: KVStore; readonly v: KVStore }>;
  private filled = 0;

  constructor(config: Config, backend: Backend, options: KVCacheOptions = {}) {
    const capacity = options.capacity ?? config.seqLen;
    if (!Number.isInteger(capacity) || capacity <= 0) {
      throw new TransformerError("BAD_CACHE", `KV cache capacity: expected a positive integer, found ${capacity}`);
    }
    if (capacity > config.seqLen) {
      // one rule for every entry point: past the trained context is an error unless asked for
      if (config.arch === "gpt2") {
        throw new TransformerError(
          "CONTEXT_OVERFLOW",
          `KV cache capacity: expected ≤ ${config.seqLen}, the model's context (gpt2 has that many learned position embeddings, none past them), found ${capacity}`,
        );
      }
      if (options.allowContextOverflow !== true) {
        throw new TransformerError(
          "CONTEXT_OVERFLOW",
          `KV cache capacity: expected ≤ ${config.seqLen}, the model's trained context, found ${capacity} (pass allowContextOverflow: true to run a RoPE model past it; outputs there are not trained)`,
        );
      }
    }
    this.capacity = capacity;
    this.rowLen = kvDimOf(config);
    this.nKvHeads = config.nKvHeads;
    this.headDim = headDimOf(config);
    const kType = typeof options.kType === "string" ? kvDType(options.kType) : options.kType ?? f32KV;
    const vType = typeof options.vType === "string" ? kvDType(options.vType) : options.vType ?? f32KV;
    const layers: { k: KVStore; v: KVStore }[] = [];
    try {
      for (let l = 0; l < config.nLayers; l++) {
        layers.push({ k: kType.create(capacity, this.rowLen, backend), v: vType.create(capacity, this.rowLen, backend) });
      }
    } catch (e) {
      // an allocation the engine cannot make (a Float32Array past the engine's limit, wasm memory
      // exhausted) becomes a typed error that says which knob to turn
      if (!(e instanceof RangeError) && !(e instanceof TensorError && e.code === "OUT_OF_MEMORY")) throw e;
      const f32Bytes = 2 * config.nLayers * capacity * this.rowLen * 4;
      throw new TransformerError(
        "BAD_CACHE",
        `KV cache: expected to allocate ${config.nLayers} layers × K,V × ${capacity} positions × ${this.rowLen} numbers ` +
          `(${f32Bytes} bytes as f32), found the allocation refused (${e.message}); pass a smaller { capacity }`,
        { cause: e },
      );
    }
    for (const { k, v } of layers) {
      for (const store of [k, v]) {
        if (store.capacity !== capacity || store.rowLen !== this.rowLen) {
          throw new TransformerError(
            "BAD_CACHE",
            `KV store ${store.dtype}: expected capacity ${capacity} and rowLen ${this.rowLen}, found ${store.capacity} and ${store.rowLen}`,
          );
        }
      }
    }
    this.layers = layers;
  }

  /** Positions filled so far. */
  get length(): number {
    return this.filled;
  }

  /** Throws CONTEXT_OVERFLOW unless `n` more positions fit. */
  reserve(n: number): void {
    if (this.filled + n > this.capacity) {
      throw new TransformerError(
        "CONTEXT_OVERFLOW",
        `KV cache: expected room for ${n} more position(s) (capacity ${this.capacity}), found ${this.capacity - this.filled} free`,
      );
    }
  }

  /** Marks `n` more positions as filled (called by the forward pass after every layer wrote them). */
  advance(n: number): void {
    this.reserve(n);
    this.filled += n;
  }

  /** Rewinds to the first `n` positions; later rows are overwritten by the next tokens. */
  truncate(n: number): void {
    if (!Number.isInteger(n) || n < 0 || n > this.filled) {
      throw new TransformerError("BAD_CACHE", `truncate: expected an integer in [0, ${this.filled}], found ${n}`);
    }
    this.filled = n;
  }

  reset(): void {
    this.filled = 0;
  }

  /** Bytes really held by all layers' K and V stores (the whole allocation, not just `length`). */
  bytes(): number {
    return this.layers.reduce((sum, { k, v }) => sum + k.bytes() + v.bytes(), 0);
  }

  /**
   * The head-major view of one kv head's keys: a new array [length, headDim], row p = the key
   * of position p (after RoPE). For inspection (the playground), not for the decode loop: it copies.
   */
  keys(layer: number, head: number): Float32Array {
    return this.headRows("k", layer, head);
  }

  /** Like keys(), for the values. */
  values(layer: number, head: number): Float32Array {
    return this.headRows("v", layer, head);
  }

  private headRows(which: "k" | "v", layer: number, head: number): Float32Array {
    if (!Number.isInteger(layer) || layer < 0 || layer >= this.layers.length) {
      throw new TransformerError("BAD_CACHE", `KV cache: expected a layer in [0, ${this.layers.length}), found ${layer}`);
    }
    if (!Number.isInteger(head) || head < 0 || head >= this.nKvHeads) {
      throw new TransformerError("BAD_CACHE", `KV cache: expected a kv head in [0, ${this.nKvHeads}), found ${head}`);
    }
    const store = this.layers[layer][which];
    const { headDim, rowLen, filled } = this;
    const out = new Float32Array(filled * headDim);
    const row = new Float32Array(rowLen);
    for (let p = 0; p < filled; p++) {
      store.readRows(p, 1, row, 0);
      out.set(row.subarray(head * headDim, (head + 1) * headDim), p * headDim);
    }
    return out;
  }
}
