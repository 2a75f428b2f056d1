import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { jsBackend } from "@zero-llm/tensor";
import { describe, expect, it } from "vitest";
import { KVCache, Model, TransformerError, allocateWeights, generate, type Config, type KVDType } from "../src/index";

const here = path.dirname(fileURLToPath(import.meta.url));
const fx = JSON.parse(readFileSync(path.join(here, "fixtures/tiny-llama-half.json"), "utf8")) as {
  config: Config; tokens: number[]; weights: Record<string, { data: number[] }>; logits: number[][];
};

/**
 * A bfloat16 store (top 16 bits of each float, round to nearest even), written here only to prove
 * that the element type is pluggable: rows are packed on write and unpacked into f32 on read.
 */
const bf16KV: KVDType = {
  name: "bf16",
  create(capacity, rowLen) {
    const packed = new Uint16Array(capacity * rowLen);
    const scratch = new Float32Array(capacity * rowLen);
    const one = new Float32Array(1);
    const bits = new Uint32Array(one.buffer);
    return {
      dtype: "bf16",
      write(row, src, srcOffset, nRows) {
        for (let i = 0; i < nRows * rowLen; i++) {
          one[0] = src[srcOffset + i];
          const u = bits[0];
          packed[row * rowLen + i] = (u + 0x7fff + ((u >>> 16) & 1)) >>> 16;
        }
      },
      read(nRows) {
        const out = new Uint32Array(scratch.buffer);
        for (let i = 0; i < nRows * rowLen; i++) out[i] = packed[i] << 16;
        return scratch;
      },
      bytes: () => packed.byteLength,
    };
  },
};

function tinyModel(): Model {
  const weights = allocateWeights(fx.config, jsBackend);
  for (const [name, { data }] of Object.entries(fx.weights)) weights.get(name).data.set(data);
  return new Model(fx.config, weights);
}

describe("KVCache", () => {
  it("reports capacity, length and bytes honestly", () => {
    const cache = new KVCache(fx.config, jsBackend, { capacity: 10 });
    // 2 layers × (K + V) × 10 positions × kvDim 8 × 4 bytes
    expect(cache.bytes()).toBe(2 * 2 * 10 * 8 * 4);
    expect(cache.length).toBe(0);
    expect(() => cache.truncate(1)).toThrowError(TransformerError);
    expect(() => new KVCache(fx.config, jsBackend, { capacity: 0 })).toThrow(/positive integer, found 0/);
  });

  it("takes a pluggable element type: a bf16 store halves the bytes and stays close to f32", () => {
    const model = tinyModel();
    const f32 = model.newCache();
    const bf16 = model.newCache({ kType: bf16KV, vType: bf16KV });
    expect(bf16.bytes()).toBe(f32.bytes() / 2);
    let worst = 0;
    fx.tokens.forEach((t, p) => {
      const exact = Float32Array.from(model.decode(t, f32));
      const rounded = model.decode(t, bf16);
      for (let i = 0; i < exact.length; i++) worst = Math.max(worst, Math.abs(exact[i] - rounded[i]));
      expect(Math.abs(exact[0] - fx.logits[p][0])).toBeLessThan(1e-5);
    });
    // bf16 keeps 8 mantissa bits: small but nonzero error
    expect(worst).toBeGreaterThan(0);
    expect(worst).toBeLessThan(0.05);
  });

  it("generate stops with contextFull when the cache fills, after yielding the last token", () => {
    const model = tinyModel();
    const cache = model.newCache({ capacity: 5 });
    const run = generate(model, [1, 2, 3], { cache, maxTokens: 10 });
    const ids = [...run];
    // prompt at positions 0-2, new tokens 1 and 2 fed back at 3-4; token 3 is yielded but has no room
    expect(ids.length).toBe(3);
    expect(cache.length).toBe(5);
    expect(run.stats.stopReason).toBe("contextFull");
    expect(() => [...run]).toThrow(/only once/);
  });
});
