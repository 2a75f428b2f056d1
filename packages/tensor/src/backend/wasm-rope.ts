import type { WasmHeap } from "./wasm-heap";

/** Positions of a new table: enough for a prompt and a short generation, grown by doubling after. */
const MIN_POSITIONS = 32;

interface Table {
  ptr: number;
  positions: number;
}

/**
 * Rotary angles, computed once: for each (theta, headDim) a table in wasm memory of
 * [position, pair i, (cos, sin)] as f32, where the angle is pos · theta^(−2i/headDim) in f64, the
 * expression the js reference evaluates. It covers positions 0 … n−1 and doubles when a call
 * reaches past n (so a long generation grows it O(log n) times, each time copying the rows it has
 * and computing only the new ones); it is headDim·4 bytes per position, far less than one
 * layer's KV cache for the same positions. It starts at MIN_POSITIONS rather than the model's
 * context: a table is computed before V8 optimizes the loop, where every angle, cosine and sine
 * is a heap number of garbage (~0.4 MB for 256 positions of the stories15M head), and a short
 * generation needs a few dozen positions.
 */
export class RopeTables {
  private readonly tables = new Map<string, Table>();
  // the decode loop asks for the same table a dozen times per token: skip the key string then
  private last: { theta: number; headDim: number; table: Table } | null = null;

  constructor(private readonly heap: WasmHeap) {}

  /** Address of the table for (theta, headDim) covering positions [0, positions). */
  get(theta: number, headDim: number, positions: number): number {
    const last = this.last;
    if (last && last.theta === theta && last.headDim === headDim && last.table.positions >= positions) return last.table.ptr;
    const key = `${theta}/${headDim}`;
    let table = this.tables.get(key);
    if (!table || table.positions < positions) {
      const size = Math.max(positions, 2 * (table?.positions ?? 0), MIN_POSITIONS);
      const grown = { ptr: this.build(theta, headDim, size, table), positions: size };
      if (table) this.heap.release(table.ptr);
      table = grown;
      this.tables.set(key, table);
    }
    this.last = { theta, headDim, table };
    return table.ptr;
  }

  /** A table of `positions` rows: the rows of `previous` (a smaller table of the same key) copied, the rest computed. */
  private build(theta: number, headDim: number, positions: number, previous: Table | undefined): number {
    const half = headDim >> 1;
    const ptr = this.heap.alloc(positions * half * 8);
    const cosSin = this.heap.f32(ptr, positions * half * 2);
    const kept = previous?.positions ?? 0;
    if (previous) cosSin.set(this.heap.f32(previous.ptr, kept * half * 2));
    const inverseFrequency = new Float64Array(half);
    for (let i = 0; i < half; i++) inverseFrequency[i] = Math.pow(theta, (-2 * i) / headDim);
    for (let pos = kept; pos < positions; pos++) {
      for (let i = 0; i < half; i++) {
        const angle = pos * inverseFrequency[i];
        cosSin[2 * (pos * half + i)] = Math.cos(angle);
        cosSin[2 * (pos * half + i) + 1] = Math.sin(angle);
      }
    }
    return ptr;
  }
}
