import type { WasmHeap } from "./wasm-heap";

/** Positions a new table is allocated for (it doubles when a call reaches past its end). */
const MIN_TABLE_POSITIONS = 256;
/** Rows computed at the first call: enough for a prompt and a short generation. */
const MIN_COMPUTED_POSITIONS = 32;

interface Table {
  ptr: number;
  /** Rows allocated. */
  positions: number;
  /** Rows [0, computed) hold their angles; the rest are computed when first asked for. */
  computed: number;
}

/**
 * Rotary angles, computed once: for each (theta, headDim) a table in wasm memory of
 * [position, pair i, (cos, sin)] as f32, where the angle is pos · theta^(−2i/headDim) in f64, the
 * expression the js reference evaluates. It is allocated for positions 0 … n−1 (n ≥ 256) and
 * doubles when a call reaches past n (so a long generation reallocates it O(log n) times); it is
 * headDim·4 bytes per position, far less than one layer's KV cache for the same positions.
 *
 * Its rows are computed as calls reach them (32 first, then doubling up to the allocation), not
 * all n at once: the first ones are computed before V8 optimizes the loop, where every angle,
 * cosine and sine is a heap number of garbage (~0.4 MB for 256 positions of the stories15M head),
 * and the rows never written never become resident. The allocation is as before, so the
 * backend's used bytes are too.
 */
export class RopeTables {
  private readonly tables = new Map<string, Table>();
  // the decode loop asks for the same table a dozen times per token: skip the key string then
  private last: { theta: number; headDim: number; table: Table } | null = null;

  constructor(private readonly heap: WasmHeap) {}

  /** Address of the table for (theta, headDim) covering positions [0, positions). */
  get(theta: number, headDim: number, positions: number): number {
    const last = this.last;
    if (last && last.theta === theta && last.headDim === headDim && last.table.computed >= positions) return last.table.ptr;
    const key = `${theta}/${headDim}`;
    let table = this.tables.get(key);
    if (!table || table.positions < positions) {
      const size = Math.max(positions, 2 * (table?.positions ?? 0), MIN_TABLE_POSITIONS);
      const grown = this.allocate(headDim, size, table);
      if (table) this.heap.release(table.ptr);
      table = grown;
      this.tables.set(key, table);
    }
    if (table.computed < positions) {
      this.compute(theta, headDim, table, Math.min(table.positions, Math.max(positions, 2 * table.computed, MIN_COMPUTED_POSITIONS)));
    }
    this.last = { theta, headDim, table };
    return table.ptr;
  }

  /** A table of `positions` rows holding the computed rows of `previous` (a smaller table of the same key). */
  private allocate(headDim: number, positions: number, previous: Table | undefined): Table {
    const half = headDim >> 1;
    const ptr = this.heap.alloc(positions * half * 8);
    const computed = previous?.computed ?? 0;
    if (previous) this.heap.f32(ptr, computed * half * 2).set(this.heap.f32(previous.ptr, computed * half * 2));
    return { ptr, positions, computed };
  }

  /** Computes rows [table.computed, upTo). */
  private compute(theta: number, headDim: number, table: Table, upTo: number): void {
    const half = headDim >> 1;
    const cosSin = this.heap.f32(table.ptr, upTo * half * 2);
    const inverseFrequency = new Float64Array(half);
    for (let i = 0; i < half; i++) inverseFrequency[i] = Math.pow(theta, (-2 * i) / headDim);
    for (let pos = table.computed; pos < upTo; pos++) {
      for (let i = 0; i < half; i++) {
        const angle = pos * inverseFrequency[i];
        cosSin[2 * (pos * half + i)] = Math.cos(angle);
        cosSin[2 * (pos * half + i) + 1] = Math.sin(angle);
      }
    }
    table.computed = upTo;
  }
}
