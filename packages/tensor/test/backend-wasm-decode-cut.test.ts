// How a decodeLayers step is cut into parts (src/backend/wasm-decode-layers.ts writeDecodeStep):
// rows of one sequence in consecutive rows (a server's prompt chunk, a speculative verify) read
// each other's keys within a layer, so a cut must never fall inside such a run. Two threads racing
// on a cut run would not reliably show in the bits, so the bounds themselves are checked here.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createWasmBackend, type WasmBackend } from "../src/backend/index";
import { WasmDecodePlan, decodeStepSlots, rowCost, writeDecodeStep } from "../src/backend/wasm-decode-layers";

const shape = { dim: 8, hiddenDim: 12, nHeads: 2, nKvHeads: 1, headDim: 4, eps: 1e-5, ropeTheta: 10000, ropeStyle: "half" as const };

describe("wasm decodeLayers: the cut of a step into parts", () => {
  let backend: WasmBackend;
  let plan: WasmDecodePlan;
  beforeAll(async () => {
    backend = await createWasmBackend({ threads: 1 });
    const alloc = (n: number): Float32Array => backend.allocF32(n);
    const made = backend.prepareDecodeLayers(shape, [{
      attnNorm: alloc(8), wq: alloc(64), wk: alloc(32), wv: alloc(32), wo: alloc(64), ffnNorm: alloc(8), wGate: alloc(96), wUp: alloc(96), wDown: alloc(96),
    }]);
    if (!(made instanceof WasmDecodePlan)) throw new Error("expected a wasm plan");
    plan = made;
  });
  afterAll(async () => {
    await backend.dispose();
  });

  /**
   * The part bounds for rows given as run lengths (each run one cache, its rows at consecutive
   * positions from `start`), cut into `parts`; writeDecodeStep reads only the arrays' identity
   * and byteOffset, so the caches need not be in wasm memory.
   */
  function cut(runs: readonly number[], parts: number, start = (run: number) => 3 * run): { bounds: number[]; runStarts: Set<number>; costs: number[] } {
    const rows = runs.reduce((a, b) => a + b, 0);
    const keys: Float32Array[] = [], values: Float32Array[] = [];
    const positions = new Int32Array(rows);
    const runStarts = new Set<number>();
    let r = 0;
    runs.forEach((length, run) => {
      const [k, v] = [new Float32Array(1), new Float32Array(1)];
      const first = start(run);
      runStarts.add(r);
      for (let i = 0; i < length; i++, r++) {
        keys.push(k);
        values.push(v);
        positions[r] = first + i;
      }
    });
    const table = new Int32Array(decodeStepSlots(plan, rows, parts));
    const n = writeDecodeStep(table, plan, { x: new Float32Array(0), xb: new Float32Array(0), xb2: new Float32Array(0), q: new Float32Array(0), k: new Float32Array(0), v: new Float32Array(0), hb: new Float32Array(0), hb2: new Float32Array(0) }, rows, keys, values, positions, 0, parts);
    const at = table.length - parts - 1;
    const bounds = Array.from(table.subarray(at, at + n + 1));
    const costs = bounds.slice(1).map((end, t) => {
      let cost = 0;
      for (let i = bounds[t]; i < end; i++) cost += rowCost(plan, positions[i]);
      return cost;
    });
    return { bounds, runStarts, costs };
  }

  it("keeps a run longer than a part's share whole, and cuts only between runs", () => {
    const { bounds, runStarts } = cut([1, 1, 20, 1, 1, 1], 4);
    expect(bounds[0]).toBe(0);
    expect(bounds[bounds.length - 1]).toBe(25);
    for (const b of bounds) expect(runStarts.has(b) || b === 25).toBe(true);
    // the run of 20 (rows 2 … 21) is one part's: no bound strictly inside it
    expect(bounds.filter((b) => b > 2 && b < 22)).toEqual([]);
  });

  it("never cuts inside a run, over many layouts, and covers every row in order", () => {
    let seed = 12345;
    const next = (n: number): number => {
      seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
      return seed % n;
    };
    for (let trial = 0; trial < 300; trial++) {
      const runs = Array.from({ length: 1 + next(12) }, () => (next(3) === 0 ? 1 + next(9) : 1));
      const parts = 2 + next(3);
      const rows = runs.reduce((a, b) => a + b, 0);
      const { bounds, runStarts } = cut(runs, parts, () => next(40));
      expect(bounds[0]).toBe(0);
      expect(bounds[bounds.length - 1]).toBe(rows);
      for (let t = 1; t < bounds.length; t++) expect(bounds[t]).toBeGreaterThanOrEqual(bounds[t - 1]);
      for (const b of bounds) expect(b === rows || runStarts.has(b)).toBe(true);
    }
  });

  it("still balances single rows by cost: a part of long caches gets fewer rows", () => {
    const { bounds, costs } = cut(Array.from({ length: 16 }, () => 1), 2, (run) => (run < 8 ? 200 : 0));
    expect(bounds[1]).toBeLessThan(8);
    expect(Math.max(...costs) / Math.min(...costs)).toBeLessThan(1.5);
  });
});
