import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Sampler } from "@zero-llm/sampling";
import { createWasmBackend } from "@zero-llm/tensor";
import { describe, expect, it } from "vitest";
import { TransformerError, generate, type Model } from "../src/index";
import { loadModel } from "../src/node/index";

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, "../../..");
const checkpoint = path.resolve(repoRoot, "../shared/fixtures/llama2c/stories260K.bin");
const haveCheckpoint = existsSync(checkpoint);

interface Fixture {
  config: { dim: number; hidden: number; n_layers: number; n_heads: number; n_kv_heads: number; vocab: number; seq_len: number };
  tokens: number[];
  logits: number[][];
  attention: number[][];
  greedy: { prompt: number[]; continuation: number[] };
}
const fixture = JSON.parse(readFileSync(path.join(here, "fixtures/stories260k.json"), "utf8")) as Fixture;

/** Largest |a - b| over two equal-length rows. */
function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

function argmax(row: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}

/** Logits after each token, through the decode (KV cache, matrix × vector) path. */
function decodeAll(model: Model, tokens: number[]): Float32Array[] {
  const cache = model.newCache();
  return tokens.map((t) => Float32Array.from(model.decode(t, cache)));
}

const title = haveCheckpoint
  ? "stories260K (llama2.c) against the float64 reference"
  : "stories260K: skipped, ../shared/fixtures/llama2c/stories260K.bin is absent";
describe.skipIf(!haveCheckpoint)(title, () => {
  const load = (maxBatchRows?: number): Promise<Model> => loadModel(checkpoint, { maxBatchRows });
  const { tokens } = fixture;
  const V = fixture.config.vocab;

  it("reads the header: dim 64, hidden 172, 5 layers, 8 heads / 4 KV heads, vocab 512, seq 512", async () => {
    const m = await load();
    expect(m.config).toMatchObject({
      arch: "llama", dim: 64, hiddenDim: 172, nLayers: 5, nHeads: 8, nKvHeads: 4, vocabSize: 512, seqLen: 512,
      tiedEmbeddings: true, ropeStyle: "interleaved", ropeTheta: 10000, normEps: 1e-5,
    });
    expect(m.config.hiddenDim).toBe(fixture.config.hidden);
    // tied classifier: one array under two names, counted once
    expect(m.weights.get("lm_head.weight").data).toBe(m.weights.get("model.embed_tokens.weight").data);
    // the file minus its header and its RoPE table (cos and sin: seq 512 × headDim/2 = 4 floats each)
    expect(m.weights.bytes()).toBe(1056540 - 28 - 4 * (2 * 512 * 4));
  });

  it("decode path (KV cache) matches the reference logits at every position", async () => {
    const rows = decodeAll(await load(), tokens);
    rows.forEach((row, p) => expect(maxAbsDiff(row, fixture.logits[p]), `position ${p}`).toBeLessThan(1e-4));
  });

  it("prefill (full recompute, matmul) matches the reference and the decode path", async () => {
    for (const maxBatchRows of [64, 5]) {
      const m = await load(maxBatchRows);
      const all = new Float32Array(tokens.length * V);
      const { logits } = m.prefill(tokens, m.newCache(), { allLogits: all });
      const decoded = decodeAll(m, tokens);
      for (let p = 0; p < tokens.length; p++) {
        const row = all.subarray(p * V, (p + 1) * V);
        expect(maxAbsDiff(row, fixture.logits[p]), `chunk ${maxBatchRows}, position ${p}`).toBeLessThan(1e-4);
        expect(maxAbsDiff(row, decoded[p]), `chunk ${maxBatchRows}, position ${p} vs decode`).toBeLessThan(2e-5);
      }
      expect(maxAbsDiff(logits, fixture.logits[tokens.length - 1])).toBeLessThan(1e-4);
    }
  });

  it("prefill of a prefix then decode continues the same sequence", async () => {
    const m = await load(4);
    const cache = m.newCache();
    const { logits } = m.prefill(tokens.slice(0, 7), cache);
    expect(maxAbsDiff(logits, fixture.logits[6])).toBeLessThan(1e-4);
    for (let p = 7; p < tokens.length; p++) {
      expect(maxAbsDiff(m.decode(tokens[p], cache), fixture.logits[p])).toBeLessThan(1e-4);
    }
    expect(cache.length).toBe(tokens.length);
  });

  it("captures attention maps equal to the reference softmax weights", async () => {
    const m = await load(5); // chunked: maps are stitched across chunks
    const { attention } = m.prefill(tokens, m.newCache(), { captureAttention: true });
    expect(attention).toBeDefined();
    if (!attention) return;
    expect(attention).toMatchObject({ nHeads: 8, queries: tokens.length, keys: tokens.length, firstPosition: 0 });
    attention.layers.forEach((map, l) => expect(maxAbsDiff(map, fixture.attention[l]), `layer ${l}`).toBeLessThan(1e-5));
  });

  it("greedy generation reproduces the reference continuation", async () => {
    const m = await load();
    const run = generate(m, fixture.greedy.prompt, { maxTokens: fixture.greedy.continuation.length });
    expect([...run]).toEqual(fixture.greedy.continuation);
    expect(run.stats).toMatchObject({
      promptTokens: 3, generatedTokens: fixture.greedy.continuation.length, stopReason: "maxTokens",
    });
    expect(run.stats.generateTokensPerSecond).toBeGreaterThan(0);
    expect(run.stats.timeToFirstTokenMs).toBeGreaterThanOrEqual(run.stats.promptMs);
  });

  it("generate stops at eos without yielding it, and a temperature-0 Sampler is greedy", async () => {
    const m = await load();
    const cont = fixture.greedy.continuation;
    const run = generate(m, fixture.greedy.prompt, { eos: cont[3], sampler: new Sampler({ temperature: 0 }) });
    expect([...run]).toEqual(cont.slice(0, 3));
    expect(run.stats.stopReason).toBe("eos");
  });

  it("batched decode of several sequences equals decoding each alone", async () => {
    const m = await load();
    const prompts = [[1, 100, 200], [1, 7], [1, 300, 301, 302, 303]];
    const steps = [[5, 9, 13], [44, 45, 46], [500, 0, 1]]; // steps[t][b]: token of sequence b at step t
    const caches = prompts.map((p) => {
      const c = m.newCache();
      m.prefill(p, c);
      return c;
    });
    const batched = steps.map((stepTokens) => Float32Array.from(m.decodeBatch(stepTokens, caches)));
    prompts.forEach((p, b) => {
      const alone = decodeAll(m, [...p, ...steps.map((s) => s[b])]).slice(p.length);
      alone.forEach((row, t) => {
        expect(maxAbsDiff(batched[t].subarray(b * V, (b + 1) * V), row), `sequence ${b}, step ${t}`).toBeLessThan(2e-5);
      });
    });
    expect(caches.map((c) => c.length)).toEqual([6, 5, 8]);
  });

  it("truncate then re-decode gives the original logits", async () => {
    const m = await load();
    const cache = m.newCache();
    const original = tokens.map((t) => Float32Array.from(m.decode(t, cache)));
    cache.truncate(4);
    m.decode(99, cache); // a different token at position 4, overwritten below
    cache.truncate(4);
    for (let p = 4; p < tokens.length; p++) {
      expect(maxAbsDiff(m.decode(tokens[p], cache), original[p])).toBe(0);
    }
  });

  it("overflowing the cache throws CONTEXT_OVERFLOW and leaves it usable", async () => {
    const m = await load();
    const cache = m.newCache({ capacity: 4 });
    expect(cache.bytes()).toBe(5 * 2 * 4 * 32 * 4); // layers × (K, V) × capacity × kvDim × 4 bytes
    m.prefill([1, 2, 3], cache);
    m.decode(4, cache);
    const overflow = (): unknown => m.decode(5, cache);
    expect(overflow).toThrowError(TransformerError);
    expect(overflow).toThrow(/expected room for 1 more position\(s\) \(capacity 4\), found 0 free/);
    try {
      m.prefill([1, 2], m.newCache({ capacity: 1 }));
    } catch (e) {
      expect((e as TransformerError).code).toBe("CONTEXT_OVERFLOW");
    }
    expect(() => m.prefill([1, 2], m.newCache({ capacity: 1 }))).toThrowError(TransformerError);
    expect(cache.length).toBe(4);
    cache.truncate(3);
    expect(maxAbsDiff(m.decode(4, cache), decodeAll(m, [1, 2, 3, 4])[3])).toBeLessThan(2e-5);
  });

  it("rejects bad tokens and mismatched batches with typed errors", async () => {
    const m = await load(2);
    const cache = m.newCache();
    expect(() => m.decode(512, cache)).toThrow(/expected an integer id in \[0, 512\), found 512/);
    expect(() => m.decodeBatch([1, 2, 3], [cache, m.newCache(), m.newCache()])).toThrow(/BATCH|at most 2/);
    expect(cache.length).toBe(0);
  });

  it.each([1, 2])("on the wasm backend (%i thread(s)): decode, prefill and attention maps match the reference", async (threads) => {
    // the fast kernels (row-streaming matvec, all-heads-per-key-row attention, rope from a table)
    // held to the same float64 reference as the js loops, with grouped-query heads (8 / 4)
    const backend = await createWasmBackend({ threads });
    try {
      const m = await loadModel(checkpoint, { backend, maxBatchRows: 5 });
      decodeAll(m, tokens).forEach((row, p) => expect(maxAbsDiff(row, fixture.logits[p]), `decode, position ${p}`).toBeLessThan(1e-4));
      const all = new Float32Array(tokens.length * V);
      const { attention } = m.prefill(tokens, m.newCache(), { allLogits: all, captureAttention: true });
      for (let p = 0; p < tokens.length; p++) {
        expect(maxAbsDiff(all.subarray(p * V, (p + 1) * V), fixture.logits[p]), `prefill, position ${p}`).toBeLessThan(1e-4);
      }
      attention?.layers.forEach((map, l) => expect(maxAbsDiff(map, fixture.attention[l]), `layer ${l}`).toBeLessThan(1e-5));
      expect(attention).toBeDefined();
    } finally {
      await backend.dispose();
    }
  });

  it("a greedy argmax over the reference logits agrees with ours at every position", async () => {
    const rows = decodeAll(await load(), tokens);
    rows.forEach((row, p) => expect(argmax(row)).toBe(argmax(fixture.logits[p])));
  });
});
