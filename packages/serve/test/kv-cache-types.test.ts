// `zllm serve --cache-type-k/v` (issue 14): a served model's caches take the chosen element types,
// the KV budget counts their true bytes, and the prefix cache copies packed rows byte for byte
// (unpacking and packing again could round).
import { createWasmBackend, jsBackend } from "@zero-llm/tensor";
import { describe, expect, it } from "vitest";
import { copyPrefix, kvBytesPerPosition, loadServedModel, releaseCache } from "../src/index";
import { DEFAULT_MODEL as defaultModel, haveDefaultModel } from "./helpers";

describe.skipIf(!haveDefaultModel)("KV cache types of a served model", () => {
  it("newCache, the per-position bytes and prefix copies follow cacheTypes", async () => {
    const f32 = await loadServedModel(defaultModel, { backend: jsBackend });
    const served = await loadServedModel(defaultModel, { backend: jsBackend, cacheTypes: { kType: "q8_0", vType: "q4_0" } });
    const { model } = served;
    const cache = model.newCache({ capacity: 16 });
    expect(cache.layers[0].k.dtype).toBe("q8_0");
    expect(cache.layers[0].v.dtype).toBe("q4_0");
    expect(kvBytesPerPosition(model) / kvBytesPerPosition(f32.model)).toBeCloseTo((34 / 32 + 18 / 32) / 8, 10);

    model.prefill([5, 17, 250, 3, 99, 42, 7], cache);
    const copy = model.newCache({ capacity: 16 });
    copyPrefix(cache, copy, 5);
    expect(copy.length).toBe(5);
    for (let l = 0; l < cache.layers.length; l++) {
      for (const which of ["k", "v"] as const) {
        const a = cache.layers[l][which].packed?.bytes, b = copy.layers[l][which].packed?.bytes;
        if (!a || !b) throw new Error("expected packed stores");
        const rowBytes = a.length / cache.capacity;
        expect(Buffer.from(b.subarray(0, 5 * rowBytes)).equals(Buffer.from(a.subarray(0, 5 * rowBytes)))).toBe(true);
      }
    }
    // the copy continues exactly as the original would
    const next = Array.from(model.decode(42, copy));
    const again = model.newCache({ capacity: 16 });
    model.prefill([5, 17, 250, 3, 99], again);
    expect(next).toEqual(Array.from(model.decode(42, again)));
  });

  it("releaseCache hands a packed cache's bytes back to the wasm allocator at once, not at the next garbage collection", async () => {
    const backend = await createWasmBackend({ threads: 1 });
    try {
      const { model } = await loadServedModel(defaultModel, { backend, cacheTypes: { kType: "q8_0", vType: "f32" } });
      // a first prefill allocates the backend's scratch and activations: not part of the cache
      const warm = model.newCache({ capacity: 64 });
      model.prefill([5, 17, 250, 3], warm);
      releaseCache(warm, backend);
      const idle = backend.usedBytes;
      const cache = model.newCache({ capacity: 64 });
      model.prefill([5, 17, 250, 3], cache);
      expect(backend.usedBytes - idle).toBe(cache.bytes());
      releaseCache(cache, backend);
      expect(backend.usedBytes).toBe(idle);
      // the memory is reused as it was: the next cache of the same shape lands on the freed blocks, zeroed
      const next = model.newCache({ capacity: 64 });
      expect(backend.usedBytes - idle).toBe(next.bytes());
      const packed = next.layers[0].k.packed?.bytes;
      if (!packed) throw new Error("expected a packed K store");
      expect(packed.every((b) => b === 0)).toBe(true);
      releaseCache(next, backend);
    } finally {
      await backend.dispose();
    }
  });
});
