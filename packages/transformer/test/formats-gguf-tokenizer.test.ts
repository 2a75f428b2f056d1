import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { GgufFile, jsBackend } from "@zero-llm/tensor";
import { BpeTokenizer, TOKEN_TYPE, TokenizerError, fromGgufMetadata, fromTokenizerJson } from "@zero-llm/tokenizer-bpe";
import { describe, expect, it } from "vitest";
import { Model, TransformerError, allocateWeights, ggufFromModel, modelFromBytes, readGguf, serializeGgufModel, type Config } from "../src/index";
import { loadModel, openCheckpoint } from "../src/node/index";

const here = path.dirname(fileURLToPath(import.meta.url));
const defaultModel = path.resolve(here, "../../../models/default");
const haveDefault = existsSync(path.join(defaultModel, "tokenizer.json"));

/**
 * A trained BPE tokenizer in the GGUF files we export. The entries themselves are
 * @zero-llm/tokenizer-bpe's (toGgufMetadata, tested there against llama.cpp's own files);
 * llama.cpp reading our files is formats-llama-cpp.test.ts.
 */
describe("a trained BPE tokenizer as GGUF tokenizer.ggml.* metadata", () => {
  it.skipIf(!haveDefault)("the default model's tokenizer: every field, and our own GGUF reader gives the same tokenizer back", async () => {
    const tokenizer = fromTokenizerJson(readFileSync(path.join(defaultModel, "tokenizer.json"), "utf8"));
    const model = await loadModel(defaultModel);
    const file = GgufFile.parse(serializeGgufModel(model.config, model.weights, { tokenizer, tokenizerOptions: { addBosToken: true } }));
    expect(file.get("tokenizer.ggml.model")).toBe("gpt2");
    expect(file.get("tokenizer.ggml.pre")).toBe("llama-bpe");
    const tokens = file.get("tokenizer.ggml.tokens") as string[];
    const types = file.get("tokenizer.ggml.token_type") as Int32Array;
    expect(tokens.length).toBe(2048);
    expect(tokens[2047]).toBe("<|endoftext|>");
    expect(types[2047]).toBe(TOKEN_TYPE.control);
    expect(types.slice(0, 2047).every((t) => t === TOKEN_TYPE.normal)).toBe(true);
    expect(tokens.indexOf("Ġthe")).toBe(tokenizer.encode(" the")[0]);
    const merges = file.get("tokenizer.ggml.merges") as string[];
    expect(merges.length).toBe(1791);
    expect(merges[0]).toBe("Ġ t"); // tokenizer.json's first merge, same spelling
    expect(file.get("tokenizer.ggml.bos_token_id")).toBe(2047);
    expect(file.get("tokenizer.ggml.eos_token_id")).toBe(2047);
    expect(file.get("tokenizer.ggml.add_bos_token")).toBe(true);

    const back = fromGgufMetadata(new Map([...file.metadata].map(([k, v]) => [k, v.value])));
    const text = "The jury said it was ``a fair trial'' -- in 1961, didn't they?\n\n  Yes.";
    expect(back.encode(text)).toEqual(tokenizer.encode(text));
  });

  it("a tokenizer the writer refuses (larger than the model, no llama.cpp name) is BAD_CONFIG, with the tokenizer's error as cause", () => {
    const fx = JSON.parse(readFileSync(path.join(here, "fixtures/tiny-gpt2.json"), "utf8")) as { config: Config };
    const model = new Model(fx.config, allocateWeights(fx.config, jsBackend));
    const bytes = Array.from({ length: 256 }, (_, b) => new Uint8Array([b]));
    const tooLarge = new BpeTokenizer({ tokens: bytes, merges: [], pattern: "gpt2", specialTokens: [["<|endoftext|>", fx.config.vocabSize + 5]] });
    const unnamed = new BpeTokenizer({ tokens: bytes, merges: [], pattern: String.raw`\w+|\s+` });
    for (const tokenizer of [tooLarge, unnamed]) {
      let error: unknown;
      try {
        ggufFromModel(model.config, model.weights, { tokenizer });
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(TransformerError);
      expect((error as TransformerError).code).toBe("BAD_CONFIG");
      expect((error as TransformerError).cause).toBeInstanceOf(TokenizerError);
    }
  });

  // A model's weights need none of the vocabulary: @zero-llm/tensor keeps GGUF string arrays as
  // their bytes until asked (32,000 JS strings cost the stories15M model ~6 MB of peak memory).
  it.skipIf(!haveDefault)("loading a GGUF model leaves its vocabulary undecoded until a tokenizer asks for it", async () => {
    const tokenizer = fromTokenizerJson(readFileSync(path.join(defaultModel, "tokenizer.json"), "utf8"));
    const model = await loadModel(defaultModel);
    const bytes = serializeGgufModel(model.config, model.weights, { tokenizer });
    const { config, file } = await readGguf(bytes, { backend: jsBackend });
    expect(config.vocabSize).toBe(model.config.vocabSize);
    for (const key of ["tokenizer.ggml.tokens", "tokenizer.ggml.merges"]) {
      expect(file.stringArray(key)?.materialized, key).toBe(false);
    }
    const back = fromGgufMetadata(new Map([...file.metadata].map(([k, v]) => [k, v.value])));
    expect(file.stringArray("tokenizer.ggml.tokens")?.materialized).toBe(true);
    const text = "Once upon a time, a little fox found a shiny stone.";
    expect(back.encode(text)).toEqual(tokenizer.encode(text));
  });

  // loadModel and modelFromBytes return only the model: they skip the tokenizer's keys (checked,
  // not copied); openCheckpoint, which hands the metadata on for a tokenizer, keeps them.
  it.skipIf(!haveDefault)("loadModel skips the tokenizer metadata, openCheckpoint keeps it; the same model either way", async () => {
    const tokenizer = fromTokenizerJson(readFileSync(path.join(defaultModel, "tokenizer.json"), "utf8"));
    const source = await loadModel(defaultModel);
    const bytes = serializeGgufModel(source.config, source.weights, { tokenizer });
    const dir = mkdtempSync(path.join(os.tmpdir(), "zllm-keep-tokenizer-"));
    try {
      const file = path.join(dir, "model.gguf");
      writeFileSync(file, bytes);
      const kept = await openCheckpoint(file);
      expect(kept.ggufMetadata?.has("tokenizer.ggml.tokens")).toBe(true);
      const skipped = await openCheckpoint(file, { keepTokenizer: false });
      expect([...(skipped.ggufMetadata?.keys() ?? [])].filter((k) => k.startsWith("tokenizer."))).toEqual([]);
      expect(skipped.ggufMetadata?.get("general.architecture")).toEqual(kept.ggufMetadata?.get("general.architecture"));
      const tokens = [5, 17, 300, 2];
      const logits = (m: Model): Float32Array => m.prefill(tokens, m.newCache()).logits.slice();
      const expected = logits(kept.model);
      expect(logits(skipped.model)).toEqual(expected);
      expect(logits(await loadModel(file))).toEqual(expected);
      expect(logits(await modelFromBytes(bytes))).toEqual(expected);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
