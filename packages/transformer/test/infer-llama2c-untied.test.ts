import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { jsBackend } from "@zero-llm/tensor";
import { describe, expect, it } from "vitest";
import { allocateWeights, generate, modelFromBytes, readLlama2c, serializeLlama2c, type Config } from "../src/index";

// A llama2.c file with a separate classifier (vocab_size < 0 in the header, wcls after the RoPE
// tables), built from stories260K with our serializer, against the float64 numpy reference of
// tools/fixtures/make_llama2c_untied.py (which builds the same file its own way and reads it with
// its own reader).
const here = path.dirname(fileURLToPath(import.meta.url));
const checkpoint = path.resolve(here, "../../../../shared/fixtures/llama2c/stories260K.bin");
const have = existsSync(checkpoint);
const fixture = JSON.parse(readFileSync(path.join(here, "fixtures/stories260k-untied.json"), "utf8")) as {
  fileBytes: number; tokens: number[]; logits: number[][]; greedy: { prompt: number[]; continuation: number[] };
};

async function untiedStories(): Promise<{ bytes: Uint8Array; original: Uint8Array }> {
  const original = new Uint8Array(readFileSync(checkpoint));
  const { config, weights } = await readLlama2c(original);
  const untied: Config = { ...config, tiedEmbeddings: false };
  const w = allocateWeights(untied, jsBackend);
  for (const name of weights.names()) if (name !== "lm_head.weight") w.get(name).data.set(weights.get(name).data);
  const tok = weights.get("model.embed_tokens.weight").data, cls = w.get("lm_head.weight").data;
  const { vocabSize: V, dim: D } = config;
  // wcls[v, d] = (-1)^(v + d) · tok[(7v + 3) mod V, (d + 1) mod D]: exact in float32
  for (let v = 0; v < V; v++) {
    for (let d = 0; d < D; d++) cls[v * D + d] = ((v + d) % 2 ? -1 : 1) * tok[((7 * v + 3) % V) * D + ((d + 1) % D)];
  }
  return { bytes: serializeLlama2c(untied, w), original };
}

describe.skipIf(!have)(have ? "llama2.c with an unshared classifier (stories260K + a permuted wcls)" : "llama2.c unshared classifier: skipped, ../shared/fixtures/llama2c/stories260K.bin is absent", () => {
  it("is written in the legacy layout: negative vocab_size, the same weights, wcls at the end", async () => {
    const { bytes, original } = await untiedStories();
    expect(bytes.length).toBe(fixture.fileBytes);
    const view = new DataView(bytes.buffer, bytes.byteOffset);
    expect(view.getInt32(20, true)).toBe(-512);
    // everything between the header and the RoPE tables is byte-identical to the original file
    const tables = 4 * 2 * 512 * 4;
    expect(Buffer.from(bytes.subarray(28, original.length - tables)).equals(Buffer.from(original.subarray(28, original.length - tables)))).toBe(true);
  });

  it("loads with tiedEmbeddings false and matches the numpy reference at every position, and its greedy continuation", async () => {
    const model = await modelFromBytes((await untiedStories()).bytes);
    expect(model.config.tiedEmbeddings).toBe(false);
    expect(model.weights.get("lm_head.weight").data).not.toBe(model.weights.get("model.embed_tokens.weight").data);
    const cache = model.newCache();
    fixture.tokens.forEach((t, p) => {
      const logits = model.decode(t, cache);
      let worst = 0;
      for (let i = 0; i < logits.length; i++) worst = Math.max(worst, Math.abs(logits[i] - fixture.logits[p][i]));
      expect(worst, `position ${p}`).toBeLessThan(1e-4);
    });
    expect([...generate(model, fixture.greedy.prompt, { maxTokens: fixture.greedy.continuation.length })]).toEqual(fixture.greedy.continuation);
    // and the classifier is really used: the tied file's logits are far from these
    const tied = await modelFromBytes(new Uint8Array(readFileSync(checkpoint)));
    const a = tied.decode(fixture.tokens[0], tied.newCache());
    expect(Math.max(...a.map((x, i) => Math.abs(x - fixture.logits[0][i])))).toBeGreaterThan(1);
  });
});
