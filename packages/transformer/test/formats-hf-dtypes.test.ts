import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { SafetensorsFile, jsBackend } from "@zero-llm/tensor";
import { fromTokenizerJson } from "@zero-llm/tokenizer-bpe";
import { afterAll, describe, expect, it } from "vitest";
import { Model, TransformerError, allocateWeights, readHf, serializeHfModel, type Config } from "../src/index";
import { loadModel, writeHfModel } from "../src/node/index";

const here = path.dirname(fileURLToPath(import.meta.url));
const stories260K = path.resolve(here, "../../../../shared/fixtures/llama2c/stories260K.bin");
const defaultModel = path.resolve(here, "../../../models/default");

/** f32 → nearest binary16 value (ties to even), computed from the definition, not by bit tricks. */
function roundF16(x: number): number {
  if (x === 0 || !Number.isFinite(x)) return x;
  const e = Math.max(Math.floor(Math.log2(Math.abs(x))), -14); // subnormals share exponent −14
  const ulp = 2 ** (e - 10);
  const q = x / ulp, f = Math.floor(q);
  const r = q - f > 0.5 || (q - f === 0.5 && f % 2 !== 0) ? f + 1 : f;
  return r * ulp;
}

/** f32 → nearest bfloat16 value: 8 significant bits, ties to even. */
function roundBf16(x: number): number {
  if (x === 0 || !Number.isFinite(x)) return x;
  const ulp = 2 ** (Math.floor(Math.log2(Math.abs(x))) - 7);
  const q = x / ulp, f = Math.floor(q);
  const r = q - f > 0.5 || (q - f === 0.5 && f % 2 !== 0) ? f + 1 : f;
  return r * ulp;
}

function tinyLlama(): Model {
  const fx = JSON.parse(readFileSync(path.join(here, "fixtures/tiny-llama-half.json"), "utf8")) as { config: Config; weights: Record<string, { data: number[] }> };
  const weights = allocateWeights(fx.config, jsBackend);
  for (const [name, { data }] of Object.entries(fx.weights)) weights.get(name).data.set(data);
  return new Model(fx.config, weights);
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

describe("F16 and BF16 Hugging Face safetensors load as the rounded weights", () => {
  it.each([["F16", roundF16], ["BF16", roundBf16]] as const)("%s: every tensor stored in that dtype holds exactly the rounded f32 values", async (dtype, round) => {
    const m = tinyLlama();
    const { configJson, safetensors } = serializeHfModel(m.config, m.weights, { dtype });
    const json = JSON.parse(configJson) as { torch_dtype: string };
    expect(json.torch_dtype).toBe(dtype === "F16" ? "float16" : "bfloat16");
    const file = SafetensorsFile.parse(safetensors);
    expect(file.tensors.every((t) => t.dtype === dtype)).toBe(true);
    const loaded = await readHf(json, [safetensors]);
    for (const name of ["model.layers.1.mlp.down_proj.weight", "model.norm.weight", "lm_head.weight", "model.layers.0.self_attn.v_proj.weight"]) {
      const want = m.weights.get(name).data, got = loaded.weights.get(name).data;
      let changed = 0;
      for (let i = 0; i < want.length; i++) {
        expect(got[i], `${name}[${i}]`).toBe(round(want[i]));
        if (got[i] !== want[i]) changed++;
      }
      if (name !== "model.norm.weight") expect(changed, name).toBeGreaterThan(0); // rounding really happened
    }
  });

  it.skipIf(!existsSync(stories260K))("stories260K: F16 / BF16 safetensors logits stay within 0.1 / 1 of the f32 model (measured 0.066 / 0.49)", async () => {
    const f32 = await loadModel(stories260K);
    const tokens = [1, 403, 407, 261, 378, 291, 260, 411, 354, 275, 463, 284, 366, 300, 46, 499];
    const decodeAll = (model: Model): Float32Array[] => {
      const cache = model.newCache();
      return tokens.map((t) => Float32Array.from(model.decode(t, cache)));
    };
    const ref = decodeAll(f32);
    for (const [dtype, tolerance] of [["F16", 0.1], ["BF16", 1]] as const) {
      const { configJson, safetensors } = serializeHfModel(f32.config, f32.weights, { dtype });
      const { config, weights } = await readHf(JSON.parse(configJson), [safetensors]);
      const got = decodeAll(new Model(config, weights));
      const worst = Math.max(...ref.map((row, p) => maxAbsDiff(row, got[p])));
      console.log(`${dtype} safetensors: max |Δ logits| vs f32 = ${worst}`);
      expect(worst, dtype).toBeGreaterThan(0);
      expect(worst, dtype).toBeLessThan(tolerance);
    }
  });
});

describe("writeHfModel", () => {
  const root = mkdtempSync(path.join(os.tmpdir(), "zllm-write-hf-"));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it("creates the directory (nested) and loads back; the dtype option reaches the file", async () => {
    const m = tinyLlama();
    const dir = path.join(root, "a", "b", "model");
    await writeHfModel(dir, m, { dtype: "BF16" });
    const back = await loadModel(dir);
    expect(back.config).toEqual(m.config);
    expect(SafetensorsFile.parse(new Uint8Array(readFileSync(path.join(dir, "model.safetensors")))).tensors[0].dtype).toBe("BF16");
    expect(existsSync(path.join(dir, "tokenizer.json"))).toBe(false);
  });

  it.skipIf(!existsSync(path.join(defaultModel, "tokenizer.json")))("writes tokenizer.json beside the model, from a BpeTokenizer or as given text", async () => {
    const m = tinyLlama();
    const text = readFileSync(path.join(defaultModel, "tokenizer.json"), "utf8");
    const tokenizer = fromTokenizerJson(text);
    const sample = "The jury said it was ``a fair trial'' -- 1961.";

    const fromObject = path.join(root, "with-tokenizer");
    await writeHfModel(fromObject, m, { tokenizer });
    const written = fromTokenizerJson(readFileSync(path.join(fromObject, "tokenizer.json"), "utf8"));
    expect(written.encode(sample)).toEqual(tokenizer.encode(sample));
    expect(written.vocabSize).toBe(tokenizer.vocabSize);

    const fromText = path.join(root, "with-text");
    await writeHfModel(fromText, m, { tokenizer: text });
    expect(readFileSync(path.join(fromText, "tokenizer.json"), "utf8")).toBe(text);

    let caught: unknown;
    await writeHfModel(path.join(root, "bad"), m, { tokenizer: "{ not json" }).catch((e: unknown) => (caught = e));
    expect(caught).toBeInstanceOf(TransformerError);
    expect((caught as TransformerError).code).toBe("BAD_METADATA");
    expect(existsSync(path.join(root, "bad"))).toBe(false); // refused before anything was written
  });

  it("a path blocked by a file is a typed error, not ENOENT/EEXIST", async () => {
    const file = path.join(root, "a-file");
    writeFileSync(file, "x");
    let caught: unknown;
    await writeHfModel(path.join(file, "model"), tinyLlama()).catch((e: unknown) => (caught = e));
    expect(caught).toBeInstanceOf(TransformerError);
    expect((caught as TransformerError).message).toMatch(/expected to create the directory/);
  });
});
