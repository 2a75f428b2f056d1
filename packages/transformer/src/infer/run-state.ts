import type { Backend, DecodeLayersBuffers } from "@zero-llm/tensor";
import { kvDimOf, type Config } from "./config";

/**
 * Views of the run-state buffers for a block of rows (one row per token in flight): a block's
 * work buffers, the ones a backend's decodeLayers takes (x, xb, xb2, q, k, v, hb, hb2), and the logits.
 */
export interface RowBuffers extends DecodeLayersBuffers {
  /** [rows, vocabSize] */
  readonly logits: Float32Array;
}

/**
 * Per-row arguments of a batched decode step's RoPE and attention (block.ts), filled per layer:
 * row r's position, its cache length after this step (position + 1), and its layer's f32 keys
 * and values (emptied again after the call, so a finished sequence's cache is not kept alive).
 */
export interface BatchRows {
  readonly positions: Int32Array;
  readonly lengths: Int32Array;
  readonly keys: Float32Array[];
  readonly values: Float32Array[];
}

/** Positions of a packed KV store unpacked at a time by the chunked attention path (attend.ts). */
export const KV_CHUNK_POSITIONS = 64;

/** Buffers of the chunked attention path over packed KV stores. */
export interface ChunkBuffers {
  /** one chunk of unpacked keys and values [KV_CHUNK_POSITIONS, nKvHeads, headDim] */
  readonly kChunk: Float32Array;
  readonly vChunk: Float32Array;
  /** scores of one query head over the chunk [KV_CHUNK_POSITIONS] */
  readonly scores: Float64Array;
  /** online-softmax state per (query row, head) [maxRows · nHeads] */
  readonly runningMax: Float64Array;
  readonly runningSum: Float64Array;
}

/** What BatchRows' keys and values hold between steps. */
export const NO_ROWS = new Float32Array(0);

/**
 * Every buffer the forward pass writes, allocated once (through the backend) for up to `maxRows`
 * tokens in flight: 1 for decode, a chunk of the prompt for prefill, one row per sequence for a
 * batched decode. Elementwise kernels work on whole arrays, so the forward pass asks for views of
 * exactly the rows it uses; those views are made on first use and then reused, so a steady
 * decode loop allocates nothing.
 */
export class RunState {
  readonly maxRows: number;
  private readonly full: RowBuffers;
  private readonly widths: Record<keyof RowBuffers, number>;
  private readonly prefixViews = new Map<number, RowBuffers>();
  private readonly rowViews = new Map<number, RowBuffers>();
  private readonly config: Config;
  private chunks: ChunkBuffers | null = null;
  /** Per-row arguments of batched decode steps, [maxRows] each. */
  readonly batch: BatchRows;

  constructor(c: Config, backend: Backend, maxRows: number) {
    this.maxRows = maxRows;
    this.config = c;
    const kvDim = kvDimOf(c);
    this.widths = {
      x: c.dim, xb: c.dim, xb2: c.dim, q: c.dim, k: kvDim, v: kvDim,
      hb: c.hiddenDim, hb2: c.hiddenDim, logits: c.vocabSize,
    };
    this.full = this.map((_, width) => backend.allocF32(maxRows * width));
    this.batch = {
      positions: new Int32Array(maxRows),
      lengths: new Int32Array(maxRows),
      keys: Array.from({ length: maxRows }, () => NO_ROWS),
      values: Array.from({ length: maxRows }, () => NO_ROWS),
    };
  }

  /** The first n rows of every buffer. */
  rows(n: number): RowBuffers {
    return this.prefixViews.get(n) ?? this.makePrefix(n);
  }

  /** Row r alone of every buffer. */
  row(r: number): RowBuffers {
    return this.rowViews.get(r) ?? this.makeRow(r);
  }

  // The closures live here, not in rows()/row(): a function whose parameter is captured by a
  // closure allocates that closure's context on every call, even when the cache hit returns early.
  private makePrefix(n: number): RowBuffers {
    const views = this.map((name, width) => this.full[name].subarray(0, n * width));
    this.prefixViews.set(n, views);
    return views;
  }

  private makeRow(r: number): RowBuffers {
    const views = this.map((name, width) => this.full[name].subarray(r * width, (r + 1) * width));
    this.rowViews.set(r, views);
    return views;
  }

  /**
   * The chunked attention path's buffers, allocated on the first attention over a packed KV
   * store (a model that only ever sees f32 caches never pays for them), then reused.
   */
  chunkBuffers(): ChunkBuffers {
    if (!this.chunks) {
      const kvDim = kvDimOf(this.config);
      const rows = this.maxRows * this.config.nHeads;
      this.chunks = {
        kChunk: new Float32Array(KV_CHUNK_POSITIONS * kvDim),
        vChunk: new Float32Array(KV_CHUNK_POSITIONS * kvDim),
        scores: new Float64Array(KV_CHUNK_POSITIONS),
        runningMax: new Float64Array(rows),
        runningSum: new Float64Array(rows),
      };
    }
    return this.chunks;
  }

  /** Bytes held by the buffers (views excluded: they share memory), the chunk buffers once allocated. */
  bytes(): number {
    let total = Object.values(this.full).reduce((sum: number, a: Float32Array) => sum + a.byteLength, 0);
    total += this.batch.positions.byteLength + this.batch.lengths.byteLength;
    if (this.chunks) for (const a of Object.values(this.chunks) as (Float32Array | Float64Array)[]) total += a.byteLength;
    return total;
  }

  private map(make: (name: keyof RowBuffers, width: number) => Float32Array): RowBuffers {
    const out = {} as Record<keyof RowBuffers, Float32Array>;
    for (const name of Object.keys(this.widths) as (keyof RowBuffers)[]) out[name] = make(name, this.widths[name]);
    return out;
  }
}
