import type { Backend } from "@zero-llm/tensor";
import { TransformerError } from "../errors";
import { kvDimOf, type Config } from "./config";

/**
 * Storage for one layer's keys (or values): `capacity` rows of `rowLen` = nKvHeads · headDim
 * numbers, row p holding the token at position p.
 *
 * Layout (per layer, for K and for V):   [capacity, nKvHeads, headDim]   position-major
 *
 *   row 0:  | kv head 0: headDim | kv head 1: headDim | … |
 *   row 1:  | kv head 0: headDim | kv head 1: headDim | … |
 *
 * Why position-major rather than [nKvHeads, seq, headDim]: a token's k (or v) projection comes
 * out of the matmul as one contiguous row [nKvHeads · headDim], so appending a token is a single
 * contiguous copy (a prompt of n tokens: n consecutive rows), and the backend's attention kernel
 * takes k/v as [seqKv, nKvHeads, headDim] with a row stride, so it reads the cache in place. This
 * is llama2.c's key_cache layout too.
 *
 * The element type is pluggable: f32 stores the rows as they are; a quantized store (Q8_0,
 * Q4_0) packs each row on `write` and unpacks into f32 scratch on `read`.
 */
export interface KVStore {
  readonly dtype: string;
  /** Store `nRows` rows from src (starting at float offset srcOffset) at rows [row, row + nRows). */
  write(row: number, src: Float32Array, srcOffset: number, nRows: number): void;
  /**
   * Rows [0, nRows) as f32, row-major with stride rowLen, for the attention kernel. The returned
   * array may be longer than nRows · rowLen (f32 returns its whole buffer: no copy, no allocation).
   */
  read(nRows: number): Float32Array;
  /** Bytes this store really holds (its allocation, whatever the cache length). */
  bytes(): number;
}

/** A KV element type: how to make a store of `capacity` rows of `rowLen` numbers. */
export interface KVDType {
  readonly name: string;
  create(capacity: number, rowLen: number, backend: Backend): KVStore;
}

/** Plain float32 rows, allocated by the backend so its attention kernel reads them in place. */
export const f32KV: KVDType = {
  name: "f32",
  create(capacity, rowLen, backend) {
    const data = backend.allocF32(capacity * rowLen);
    return {
      dtype: "f32",
      write(row, src, srcOffset, nRows) {
        const dst = row * rowLen;
        const n = nRows * rowLen;
        // a plain loop rather than data.set(src.subarray(…)): no view object per token
        for (let i = 0; i < n; i++) data[dst + i] = src[srcOffset + i];
      },
      read() {
        return data;
      },
      bytes() {
        return data.byteLength;
      },
    };
  },
};

export interface KVCacheOptions {
  /** Positions the cache can hold. Default config.seqLen. */
  capacity?: number;
  /** Element type of keys and of values (default f32 for both). */
  kType?: KVDType;
  vType?: KVDType;
}

/**
 * The keys and values of every layer for one sequence. `length` is the number of positions
 * filled; the next token goes to position `length`. Writing past `capacity` throws
 * CONTEXT_OVERFLOW (no silent sliding: dropping the oldest keys would change what the model
 * attends to, and RoPE positions would no longer match).
 */
export class KVCache {
  readonly capacity: number;
  readonly rowLen: number;
  readonly layers: ReadonlyArray<{ readonly k: KVStore; readonly v: KVStore }>;
  private filled = 0;

  constructor(config: Config, backend: Backend, options: KVCacheOptions = {}) {
    const capacity = options.capacity ?? config.seqLen;
    if (!Number.isInteger(capacity) || capacity <= 0) {
      throw new TransformerError("BAD_CACHE", `KV cache capacity: expected a positive integer, found ${capacity}`);
    }
    if (config.arch === "gpt2" && capacity > config.seqLen) {
      throw new TransformerError(
        "BAD_CACHE",
        `KV cache capacity: expected ≤ ${config.seqLen} (gpt2 has that many learned positions), found ${capacity}`,
      );
    }
    this.capacity = capacity;
    this.rowLen = kvDimOf(config);
    const kType = options.kType ?? f32KV;
    const vType = options.vType ?? f32KV;
    this.layers = Array.from({ length: config.nLayers }, () => ({
      k: kType.create(capacity, this.rowLen, backend),
      v: vType.create(capacity, this.rowLen, backend),
    }));
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
}
