// A batched decode step's layers as one backend call (src/infer/decode-layers.ts, the wasm
// backend's decodeLayers: each thread takes whole rows through every layer) against the per-op
// path of block.ts, bit for bit: logits and every cached key and value, over several steps of
// rows whose caches have different lengths, on odd shapes, on 1 and 2 threads (rows split by
// estimated cost), with runs of rows sharing a cache (prompt chunks, a verify) against the per-op
// path and token-by-token decoding, and the cases that must fall back to the per-op path.
import { createWasmBackend, jsBackend, type WasmBackend } from "@zero-llm/tensor";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { Model, type Config, type KVCache } from "../src/index";
import { bits, cacheBits } from "./bits";
import { seededWeights } from "./seeded-weights";

type CacheBits = ReturnType<typeof cacheBits>;

// odd widths everywhere: hiddenDim and kvDim not multiples of 4, grouped-query heads, HF rope
const ODD: Config = {
  arch: "llama", dim: 36, hiddenDim: 71, nLayers: 3, nHeads: 6, nKvHeads: 2, vocabSize: 97, seqLen: 64,
  normEps: 1e-5, ropeTheta: 500, ropeStyle: "half", tiedEmbeddings: false,
};
// the embedded model's block shape (dim 128, 4 heads of 32), interleaved rope, tied embeddings
const WIDE: Config = {
  arch: "llama", dim: 128, hiddenDim: 344, nLayers: 2, nHeads: 4, nKvHeads: 4, vocabSize: 256, seqLen: 96,
  normEps: 1e-5, ropeTheta: 10000, ropeStyle: "interleaved", tiedEmbeddings: true,
};

/** `rows` sequences prefilled to different lengths (row r: 1 + (5r mod 23) tokens), then `steps` batched steps. */
function run(model: Model, rows: number, steps: number): { logits: number[][]; caches: CacheBits[] } {
  const v = model.config.vocabSize;
  const caches = Array.from({ length: rows }, (_, r) => {
    const cache = model.newCache();
    model.prefill(Array.from({ length: 1 + ((5 * r) % 23) }, (_, i) => (7 * r + 3 * i + 1) % v), cache);
    return cache;
  });
  const logits: number[][] = [];
  const tokens = new Int32Array(rows);
  for (let step = 0; step < steps; step++) {
    for (let r = 0; r < rows; r++) tokens[r] = (11 * r + 13 * step + 2) % v;
    logits.push(bits(model.decodeBatch(tokens, caches)));
  }
  return { logits, caches: caches.map(cacheBits) };
}

/**
 * Steps mixing single decode rows with runs of rows sharing a cache, as the serve engine and a
 * speculative verify feed them: a prompt chunk into an empty cache, a chunk continuing a cache, a
 * verify-style run, and a run of 20 rows, longer than a part's share of a 26-row step. Row r of a
 * step is caches[r] and tokens[r].
 */
const MIXED_CACHES = { a: 5, b: 17, c: 1, e: 0, f: 9, g: 6, h: 3 } as const; // name → prompt length
type CacheName = keyof typeof MIXED_CACHES;
const MIXED_STEPS: readonly (readonly CacheName[])[] = [
  ["a", "e", "e", "e", "e", "b", "f", "f", "f", "c", "g", "g", "g"],
  ["a", "b", ...Array.from({ length: 20 }, () => "h" as const), "c", "e", "f", "g"],
  ["h", "g", "f", "e", "c", "b", "a"],
];

/** The mixed steps through decodeBatch (`tokenByToken`: each row alone, in order, as its own step). */
function runMixed(model: Model, tokenByToken = false): { logits: number[][]; caches: CacheBits[] } {
  const v = model.config.vocabSize;
  const caches = new Map<CacheName, KVCache>();
  for (const [name, length] of Object.entries(MIXED_CACHES) as [CacheName, number][]) {
    const cache = model.newCache();
    if (length > 0) model.prefill(Array.from({ length }, (_, i) => (5 * length + 3 * i + 1) % v), cache);
    caches.set(name, cache);
  }
  const logits: number[][] = [];
  MIXED_STEPS.forEach((names, step) => {
    const rows = names.map((name) => caches.get(name) as KVCache);
    const tokens = names.map((_, r) => (17 * r + 29 * step + 3) % v);
    if (!tokenByToken) {
      const out = model.decodeBatch(tokens, rows);
      for (let r = 0; r < rows.length; r++) logits.push(bits(out.subarray(r * v, (r + 1) * v)));
    } else for (let r = 0; r < rows.length; r++) logits.push(bits(model.decodeBatch([tokens[r]], [rows[r]])));
  });
  return { logits, caches: [...caches.values()].map(cacheBits) };
}

describe.each([
  ["1 thread", 1, undefined],
  ["2 threads", 2, undefined],
  // every step split, however small (the cut by cost on few rows)
  ["2 threads, every step split", 2, 1],
] as const)("decodeLayers = the per-op path, bit for bit (wasm, %s)", (_label, threads, parallelMinMacs) => {
  let backend: WasmBackend;
  beforeAll(async () => {
    backend = await createWasmBackend({ threads, parallelMinMacs });
  });
  afterAll(async () => {
    await backend.dispose();
  });

  for (const [name, config] of [["odd shapes", ODD], ["embedded-model block", WIDE]] as const) {
    for (const rows of [1, 2, 7, 32]) {
      it(`${name}, ${rows} rows`, () => {
        const weights = seededWeights(config, backend, 5);
        const spy = vi.spyOn(backend, "decodeLayers");
        try {
          const fused = run(new Model(config, weights, { backend, maxBatchRows: 32 }), rows, 3);
          expect(spy).toHaveBeenCalledTimes(3); // the path under test did run, once per step
          expect(spy.mock.results.every((result) => result.value === true)).toBe(true);
          spy.mockClear();
          const perOp = run(new Model(config, weights, { backend, maxBatchRows: 32, decodeLayersStep: false }), rows, 3);
          expect(spy).not.toHaveBeenCalled();
          expect(fused.logits).toEqual(perOp.logits);
          expect(fused.caches).toEqual(perOp.caches);
        } finally {
          spy.mockRestore();
        }
      });
    }
    it(`${name}, runs of rows sharing a cache (prompt chunks, a verify, a run longer than a part)`, () => {
      const weights = seededWeights(config, backend, 7);
      const spy = vi.spyOn(backend, "decodeLayers");
      try {
        const fused = runMixed(new Model(config, weights, { backend, maxBatchRows: 32 }));
        expect(spy).toHaveBeenCalledTimes(MIXED_STEPS.length); // every step took decodeLayers, no fallback
        expect(spy.mock.results.every((result) => result.value === true)).toBe(true);
        spy.mockClear();
        const perOp = runMixed(new Model(config, weights, { backend, maxBatchRows: 32, decodeLayersStep: false }));
        expect(spy).not.toHaveBeenCalled();
        const alone = runMixed(new Model(config, weights, { backend, maxBatchRows: 32 }), true);
        expect(fused.logits).toEqual(perOp.logits);
        expect(fused.caches).toEqual(perOp.caches);
        expect(fused.logits).toEqual(alone.logits);
        expect(fused.caches).toEqual(alone.caches);
      } finally {
        spy.mockRestore();
      }
    });
  }
});

describe("decodeLayers falls back to the per-op path where it does not apply", () => {
  let backend: WasmBackend;
  beforeAll(async () => {
    backend = await createWasmBackend({ threads: 2, parallelMinMacs: 1 });
  });
  afterAll(async () => {
    await backend.dispose();
  });

  it("is never asked for a step with a packed KV cache, and gives the same bits", () => {
    const weights = seededWeights(ODD, backend, 9);
    const spy = vi.spyOn(backend, "decodeLayers");
    try {
      const [fused, perOp] = [{}, { decodeLayersStep: false }].map((options) => {
        const model = new Model(ODD, weights, { backend, ...options });
        const a = model.newCache(), b = model.newCache(), packed = model.newCache({ kType: "q8_0" });
        model.prefill([1, 2, 3], a);
        model.prefill([4, 5], b);
        model.prefill([6], packed);
        return [bits(model.decodeBatch([10, 11, 12], [a, packed, b])), bits(model.decodeBatch([7, 8, 9], [packed, packed, b]))];
      });
      expect(spy).not.toHaveBeenCalled();
      expect(fused).toEqual(perOp);
    } finally {
      spy.mockRestore();
    }
  });

  it("is not planned for gpt2, for biases, or on a backend without decodeLayers", () => {
    const spy = vi.spyOn(backend, "prepareDecodeLayers");
    try {
      const gpt2: Config = { ...ODD, arch: "gpt2", nKvHeads: 6, ropeStyle: "interleaved" };
      new Model(gpt2, seededWeights(gpt2, backend, 1), { backend });
      new Model(ODD, seededWeights(ODD, backend, 1, () => true), { backend });
      expect(spy).not.toHaveBeenCalled();
      new Model(ODD, seededWeights(ODD, backend, 1), { backend });
      expect(spy).toHaveBeenCalledTimes(1);
    } finally {
      spy.mockRestore();
    }
    const js = new Model(ODD, seededWeights(ODD, jsBackend, 1));
    const cache = js.newCache();
    expect(js.decodeBatch([1], [cache]).length).toBeGreaterThan(0);
  });
});

describe("wasm decodeLayers: arguments", () => {
  let backend: WasmBackend;
  beforeAll(async () => {
    backend = await createWasmBackend({ threads: 1 });
  });
  afterAll(async () => {
    await backend.dispose();
  });
  const shape = { dim: 8, hiddenDim: 12, nHeads: 2, nKvHeads: 1, headDim: 4, eps: 1e-5, ropeTheta: 10000, ropeStyle: "half" as const };
  const layer = (alloc: (n: number) => Float32Array) => ({
    attnNorm: alloc(8), wq: alloc(64), wk: alloc(32), wv: alloc(32), wo: alloc(64), ffnNorm: alloc(8), wGate: alloc(96), wUp: alloc(96), wDown: alloc(96),
  });
  const buffers = () => ({
    x: backend.allocF32(16), xb: backend.allocF32(16), xb2: backend.allocF32(16), q: backend.allocF32(16),
    k: backend.allocF32(8), v: backend.allocF32(8), hb: backend.allocF32(24), hb2: backend.allocF32(24),
  });

  it("plans only weights in its memory, and checks shapes", () => {
    expect(backend.prepareDecodeLayers(shape, [layer((n) => new Float32Array(n))])).toBeNull();
    expect(() => backend.prepareDecodeLayers({ ...shape, headDim: 3 }, [layer((n) => backend.allocF32(n))])).toThrow(/nHeads · headDim = dim/);
    expect(() => backend.prepareDecodeLayers(shape, [{ ...layer((n) => backend.allocF32(n)), wDown: backend.allocF32(95) }])).toThrow(/wDown: expected at least 96/);
    expect(() => backend.prepareDecodeLayers(shape, [layer((n) => backend.allocF32(n))], 0)).toThrow(/maxRows to be a positive integer, found 0/);
  });

  it("sizes the step table for maxRows with the plan: the largest step then takes no new work memory", async () => {
    const fresh = await createWasmBackend({ threads: 1 });
    try {
      const rows = 300;
      const alloc = (n: number): Float32Array => fresh.allocF32(n);
      const weights = layer(alloc);
      const keys = Array.from({ length: rows }, () => alloc(4)), values = Array.from({ length: rows }, () => alloc(4));
      const big = {
        x: alloc(8 * rows), xb: alloc(8 * rows), xb2: alloc(8 * rows), q: alloc(8 * rows),
        k: alloc(4 * rows), v: alloc(4 * rows), hb: alloc(12 * rows), hb2: alloc(12 * rows),
      };
      const before = fresh.usedBytes;
      const plan = fresh.prepareDecodeLayers(shape, [weights], rows);
      if (!plan) throw new Error("expected a plan");
      expect(fresh.usedBytes).toBeGreaterThan(before + 4 * rows * 4); // the table (rows × 4 slots a layer)
      expect(fresh.decodeLayers(plan, big, 1, keys, values, new Int32Array(rows))).toBe(true); // the rope table and scratch: any step makes them
      const ready = fresh.usedBytes;
      expect(fresh.decodeLayers(plan, big, rows, keys, values, new Int32Array(rows))).toBe(true);
      expect(fresh.usedBytes).toBe(ready);
    } finally {
      await fresh.dispose();
    }
  });

  it("declines caches outside its memory and rejects bad positions, short caches and another backend's plan", async () => {
    const plan = backend.prepareDecodeLayers(shape, [layer((n) => backend.allocF32(n))]);
    if (!plan) throw new Error("expected a plan");
    const positions = Int32Array.of(0, 3);
    const cache = (): Float32Array => backend.allocF32(4 * 4);
    expect(backend.decodeLayers(plan, buffers(), 2, [cache(), new Float32Array(16)], [cache(), cache()], positions)).toBe(false);
    expect(backend.decodeLayers(plan, buffers(), 2, [cache(), cache()], [cache(), cache()], positions)).toBe(true);
    expect(() => backend.decodeLayers(plan, buffers(), 2, [cache(), cache()], [cache(), cache()], Int32Array.of(0, -1))).toThrow(/position to be ≥ 0/);
    expect(() => backend.decodeLayers(plan, buffers(), 2, [cache(), cache()], [cache(), cache()], Int32Array.of(0, 4))).toThrow(/keys: expected at least 20/);
    expect(() => backend.decodeLayers(plan, buffers(), 2, [cache()], [cache()], positions)).toThrow(/expected 2 key and value caches/);
    // rows sharing a cache: consecutive tokens of one sequence, keys and values alike
    const [k, v] = [cache(), cache()];
    expect(backend.decodeLayers(plan, buffers(), 2, [k, k], [v, v], Int32Array.of(2, 3))).toBe(true);
    expect(() => backend.decodeLayers(plan, buffers(), 2, [k, k], [v, v], Int32Array.of(2, 2))).toThrow(/row 1, sharing row 0's cache, at position 3, found 2/);
    expect(() => backend.decodeLayers(plan, buffers(), 2, [k, k], [v, cache()], Int32Array.of(2, 3))).toThrow(/share both key and value caches/);
    expect(() => backend.decodeLayers({ shape, nLayers: 1 }, buffers(), 2, [cache(), cache()], [cache(), cache()], positions)).toThrow(/plan from this backend/);
    const other = await createWasmBackend({ threads: 1 });
    try {
      const foreign = other.prepareDecodeLayers(shape, [layer((n) => other.allocF32(n))]);
      if (!foreign) throw new Error("expected a plan");
      expect(() => backend.decodeLayers(foreign, buffers(), 2, [cache(), cache()], [cache(), cache()], positions)).toThrow(/plan from this backend/);
    } finally {
      await other.dispose();
    }
  });
});
