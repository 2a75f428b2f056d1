import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Model, serializeLlama2c, type Config } from "@zero-llm/transformer";
import { loadModel, writeGgufModel, writeHfModel } from "@zero-llm/transformer/node";
import { afterAll, describe, expect, it } from "vitest";
import { mergeAdapters, mergedWeights, withAdapters } from "../src/index";
import { TOKENS, allLogits, maxAbs, maxAbsDiff, randomAdapter, tinyConfig, tinyModel } from "./helpers";

/**
 * A merged model is a model like any other: it saves in every format the transformer package
 * writes (GGUF, a Hugging Face directory, llama2.c) and loads back
 * running what the base + adapter ran.
 */

const dir = mkdtempSync(path.join(os.tmpdir(), "zllm-lora-merge-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.each([
  ["llama", tinyConfig("llama")],
  ["gpt2", tinyConfig("gpt2")],
] as const)("%s: merged, saved, loaded", (_name, config: Config) => {
  const base = tinyModel(config);
  const adapter = randomAdapter(config, { targetModules: "all-linear", r: 4, alpha: 8 });
  const expected = allLogits(withAdapters(base, [{ adapter }]), TOKENS);
  const merged = { config, weights: mergedWeights(base, [{ adapter }]) };
  const formats: [string, () => Promise<string>][] = [
    ["GGUF", async () => {
      const file = path.join(dir, `${config.arch}.gguf`);
      await writeGgufModel(file, merged);
      return file;
    }],
    ["Hugging Face directory", async () => {
      const hf = path.join(dir, `${config.arch}-hf`);
      await writeHfModel(hf, merged);
      return hf;
    }],
  ];
  if (config.arch === "llama") {
    formats.push(["llama2.c", async () => {
      const file = path.join(dir, "llama.bin");
      writeFileSync(file, serializeLlama2c(config, merged.weights));
      return file;
    }]);
  }

  it.each(formats)("%s: loads back and runs the adapted model", async (_format, write) => {
    const loaded = await loadModel(await write());
    const got = allLogits(loaded, TOKENS);
    expect(maxAbsDiff(got, expected)).toBeLessThan(3e-5 * maxAbs(expected));
  });

  it("in place, into the model's own arrays: the same model the copy gives", () => {
    const copy = tinyModel(config);
    mergeAdapters(copy.weights, config, [{ adapter }]);
    expect(allLogits(copy, TOKENS)).toEqual(allLogits(new Model(config, merged.weights), TOKENS));
  });
});
