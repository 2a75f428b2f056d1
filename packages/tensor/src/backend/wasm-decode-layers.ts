import { TensorError } from "../errors";
import type { DecodeLayersBuffers, DecodeLayersPlan, DecodeLayersShape, DecodeLayerWeights } from "./backend";
import { checkPositions } from "./batch-checks";
import { need } from "./wasm-staging";
import type { WasmHeap } from "./wasm-heap";

// The host side of assembly/decode-rows.ts: the plan (a layer table of weight addresses, written
// once per model), the step descriptor a call writes in front of its per-row tables, and the cut
// of the rows into parts of near-equal estimated cost.

/** i32 slots of the step descriptor (assembly/decode-rows.ts: 21 used), rounded up so the entries after it stay 16-byte aligned. */
export const DESC_SLOTS = 24;
const LAYER_SLOTS = 9; // attnNorm wq wk wv wo ffnNorm wGate wUp wDown
const ENTRY_SLOTS = 4; // attentionBatch's | row | keys | values | seqKv |
/** The work buffers in the descriptor's slots 0–7 (assembly/decode-rows.ts), in that order. */
const BUFFER_SLOTS = ["x", "xb", "xb2", "q", "k", "v", "hb", "hb2"] as const;
/** Their names in errors, built once (a step's checks allocate nothing). */
const BUFFER_LABELS = BUFFER_SLOTS.map((name) => `decodeLayers ${name}`);

/**
 * A batched decode step's attention counted as this many multiply-adds of a product per
 * multiply-add (2·heads·keys·headDim a row) by the size rule (parallel): its scores pass through
 * a softmax (an exp per key and head) and it reads every row's own cache, so a multiply-add costs
 * ~3× one of the `linear` tile (measured on one thread, 2026-12-04: 32 rows over ~45 keys of 4 × 32
 * heads, 369 K multiply-adds, ~50 µs; linear 32 × 128 → 128, 524 K, ~24 µs). With it a 32-row
 * step of the embedded model (~1.1 M) is split and an 8-row one (~280 K) is not.
 */
export const ATTENTION_MAC_WEIGHT = 3;

/** A plan of the wasm backend: the layer table's address and the per-row costs of the cut. */
export class WasmDecodePlan implements DecodeLayersPlan {
  readonly kvDim: number;
  /** eps as the f32 the kernel reads, as i32 bits (computed once: no double per step). */
  readonly epsBits: number;
  /** Multiply-adds of one row's projections, every layer. */
  readonly projectionMacs: number;
  /** Weighted multiply-adds per cached key of one row's attention, every layer. */
  readonly attentionMacsPerKey: number;
  /** Floats per row of each work buffer, in BUFFER_SLOTS order. */
  readonly bufferWidths: readonly number[];

  constructor(readonly shape: DecodeLayersShape, readonly nLayers: number, readonly layerTable: number, readonly heap: WasmHeap) {
    const { dim, hiddenDim, nHeads, nKvHeads, headDim, eps } = shape;
    this.kvDim = nKvHeads * headDim;
    const bits = new Int32Array(1);
    new Float32Array(bits.buffer)[0] = eps;
    this.epsBits = bits[0];
    this.projectionMacs = nLayers * (2 * dim * dim + 2 * dim * this.kvDim + 3 * dim * hiddenDim);
    this.attentionMacsPerKey = nLayers * ATTENTION_MAC_WEIGHT * 2 * nHeads * headDim;
    this.bufferWidths = [dim, dim, dim, dim, this.kvDim, this.kvDim, hiddenDim, hiddenDim];
  }
}

/**
 * Checks the shape and weights and writes the layer table; null when a weight does not live in
 * `heap` (the plan holds addresses: a copy would have to be made per call).
 */
export function prepareDecodePlan(heap: WasmHeap, shape: DecodeLayersShape, layers: readonly DecodeLayerWeights[]): WasmDecodePlan | null {
  const { dim, hiddenDim, nHeads, nKvHeads, headDim } = shape;
  for (const [name, value] of [["dim", dim], ["hiddenDim", hiddenDim], ["nHeads", nHeads], ["nKvHeads", nKvHeads], ["headDim", headDim]] as const) {
    if (!Number.isInteger(value) || value < 1) {
      throw new TensorError("INVALID_ARGUMENT", `wasm prepareDecodeLayers: expected ${name} to be a positive integer, found ${value}`);
    }
  }
  if (nHeads * headDim !== dim || nHeads % nKvHeads !== 0 || headDim % 2 !== 0) {
    throw new TensorError(
      "INVALID_ARGUMENT",
      `wasm prepareDecodeLayers: expected nHeads · headDim = dim, nHeads divisible by nKvHeads and an even headDim, found dim ${dim}, nHeads ${nHeads}, nKvHeads ${nKvHeads}, headDim ${headDim}`,
    );
  }
  const kvDim = nKvHeads * headDim;
  for (const layer of layers) {
    const sized: ReadonlyArray<readonly [string, Float32Array, number]> = [
      ["attnNorm", layer.attnNorm, dim], ["wq", layer.wq, dim * dim], ["wk", layer.wk, kvDim * dim], ["wv", layer.wv, kvDim * dim],
      ["wo", layer.wo, dim * dim], ["ffnNorm", layer.ffnNorm, dim], ["wGate", layer.wGate, hiddenDim * dim],
      ["wUp", layer.wUp, hiddenDim * dim], ["wDown", layer.wDown, dim * hiddenDim],
    ];
    for (const [name, array, length] of sized) {
      need(`prepareDecodeLayers ${name}`, array, length);
      if (!heap.owns(array)) return null;
    }
  }
  const table = heap.alloc(Math.max(1, layers.length) * LAYER_SLOTS * 4);
  const view = new Int32Array(heap.memory.buffer, table, layers.length * LAYER_SLOTS);
  layers.forEach((layer, l) => {
    const order = [layer.attnNorm, layer.wq, layer.wk, layer.wv, layer.wo, layer.ffnNorm, layer.wGate, layer.wUp, layer.wDown];
    order.forEach((array, i) => (view[l * LAYER_SLOTS + i] = array.byteOffset));
  });
  return new WasmDecodePlan(shape, layers.length, table, heap);
}

/**
 * Checks a step's arguments against the plan: throws on a bad shape or a run of rows sharing a
 * cache that is not at consecutive positions, returns false when an array is not in `heap`, true
 * when the step can run. Allocates nothing.
 */
export function checkDecodeStep(
  heap: WasmHeap, plan: WasmDecodePlan, buffers: DecodeLayersBuffers, rows: number,
  keys: readonly Float32Array[], values: readonly Float32Array[], positions: Int32Array,
): boolean {
  const kvDim = plan.kvDim, layers = plan.nLayers;
  checkPositions("wasm", "decodeLayers", positions, rows, 0);
  for (let i = 0; i < BUFFER_SLOTS.length; i++) need(BUFFER_LABELS[i], buffers[BUFFER_SLOTS[i]], rows * plan.bufferWidths[i]);
  if (keys.length < layers * rows || values.length < layers * rows) {
    throw new TensorError("SHAPE_MISMATCH", `wasm decodeLayers: expected ${layers * rows} key and value caches (layers × rows), found ${keys.length} and ${values.length}`);
  }
  for (const name of BUFFER_SLOTS) if (!heap.owns(buffers[name])) return false;
  for (let i = 0; i < layers * rows; i++) {
    const r = i % rows, length = (positions[r] + 1) * kvDim;
    need("decodeLayers keys", keys[i], length);
    need("decodeLayers values", values[i], length);
    if (!heap.owns(keys[i]) || !heap.owns(values[i])) return false;
    if (r > 0) checkRun(keys, values, positions, rows, i);
  }
  return true;
}

/**
 * Row r = i mod rows continues row r − 1's run (the next token of one sequence: a prompt chunk, a
 * speculative verify) when it shares that row's key cache; then it must share its value cache, in
 * every layer alike (runLength reads layer 0), at the next position: the kernel writes a part's
 * keys before its attention, so row r reads the run's earlier keys of this step.
 */
function checkRun(keys: readonly Float32Array[], values: readonly Float32Array[], positions: Int32Array, rows: number, i: number): void {
  const r = i % rows, shared = keys[i] === keys[i - 1];
  if (shared !== (values[i] === values[i - 1]) || shared !== (keys[r] === keys[r - 1])) {
    throw new TensorError("INVALID_ARGUMENT", `wasm decodeLayers: expected rows ${r - 1} and ${r} to share both key and value caches in every layer or none, found layer ${(i - r) / rows} differing`);
  }
  if (shared && positions[r] !== positions[r - 1] + 1) {
    throw new TensorError("INVALID_ARGUMENT", `wasm decodeLayers: expected row ${r}, sharing row ${r - 1}'s cache, at position ${positions[r - 1] + 1}, found ${positions[r]}`);
  }
}

/** Rows from r on sharing keys[r] (layer 0): one sequence's tokens, which one part takes whole. */
function runLength(keys: readonly Float32Array[], r: number, rows: number): number {
  let n = 1;
  while (r + n < rows && keys[r + n] === keys[r]) n++;
  return n;
}

/**
 * Writes the step into `table` (an i32 view of wasm memory at table.byteOffset): the descriptor
 * (assembly/decode-rows.ts), layer-major attention entries, and the part bounds; returns the
 * number of parts. With parts > 1 the rows are cut where the running cost (projections, plus
 * attention by cache length) crosses each t/parts of the total: a part of long caches gets
 * fewer rows. A cut never falls inside a run of rows sharing a cache (its rows read each other's
 * keys within a layer): a run goes whole to one part, which may leave another part empty.
 */
export function writeDecodeStep(
  table: Int32Array, plan: WasmDecodePlan, buffers: DecodeLayersBuffers, rows: number,
  keys: readonly Float32Array[], values: readonly Float32Array[], positions: Int32Array,
  ropeTable: number, parts: number,
): number {
  const base = table.byteOffset, entries = DESC_SLOTS, boundsAt = entries + plan.nLayers * rows * ENTRY_SLOTS;
  const s = plan.shape;
  for (let i = 0; i < BUFFER_SLOTS.length; i++) table[i] = buffers[BUFFER_SLOTS[i]].byteOffset;
  table[8] = s.dim; table[9] = s.hiddenDim; table[10] = s.nHeads; table[11] = s.nKvHeads; table[12] = s.headDim; table[13] = plan.nLayers;
  table[14] = plan.epsBits; table[15] = ropeTable; table[16] = s.ropeStyle === "interleaved" ? 1 : 0;
  table[17] = plan.layerTable; table[18] = base + 4 * entries; table[19] = rows; table[20] = base + 4 * boundsAt;
  for (let l = 0, e = entries; l < plan.nLayers; l++) {
    for (let r = 0; r < rows; r++, e += ENTRY_SLOTS) {
      table[e] = r;
      table[e + 1] = keys[l * rows + r].byteOffset;
      table[e + 2] = values[l * rows + r].byteOffset;
      table[e + 3] = positions[r] + 1;
    }
  }
  const n = Math.max(1, Math.min(parts, rows));
  let total = 0;
  for (let r = 0; r < rows; r++) total += rowCost(plan, positions[r]);
  table[boundsAt] = 0;
  let r = 0, done = 0;
  for (let t = 1; t < n; t++) {
    const target = (total * t) / n;
    // a run (one row, or one sequence's consecutive rows) goes to the part where more than half of its cost falls
    while (r < rows) {
      const end = r + runLength(keys, r, rows);
      let cost = 0;
      for (let i = r; i < end; i++) cost += rowCost(plan, positions[i]);
      if (done + cost / 2 >= target) break;
      done += cost;
      r = end;
    }
    table[boundsAt + t] = r;
  }
  table[boundsAt + n] = rows;
  return n;
}

/** Slots writeDecodeStep needs for `rows` rows cut into up to `parts` parts. */
export function decodeStepSlots(plan: WasmDecodePlan, rows: number, parts: number): number {
  return DESC_SLOTS + plan.nLayers * rows * ENTRY_SLOTS + parts + 1;
}

/** Estimated multiply-adds of one row's step (projections plus weighted attention). */
export function rowCost(plan: WasmDecodePlan, position: number): number {
  return plan.projectionMacs + plan.attentionMacsPerKey * (position + 1);
}
