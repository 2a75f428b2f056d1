import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import {
  GgufFile, SafetensorsFile, createWasmBackend, f16ToF32, f32ToF16, jsBackend, serializeSafetensors, type SafetensorsTensorInput,
} from "@zero-llm/tensor";
import { describe, expect, it } from "vitest";
import {
  Model, allocateWeights, generate, ggufFromModel, halfToInterleaved, hfFromModel, interleavedToHalf, modelFromBytes, readGguf, readHf, readLlama2c, serializeGgufModel, serializeHfModel, serializeLlama2c, type Config,
} from "../src/index";
import { loadModel } from "../src/node/index";

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, "../../..");
const checkpoint = path.resolve(repoRoot, "../shared/fixtures/llama2c/stories260K.bin");
const haveCheckpoint = existsSync(checkpoint);

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

/** Logits at every position of `tokens`, through the KV-cache decode path. */
function decodeAll(model: Model, tokens: number[]): Float32Array[] {
  const cache = model.newCache();
  return tokens.map((t) => Float32Array.from(model.decode(t, cache)));
}

function greedy(model: Model, prompt: number[], n: number): number[] {
  return [...generate(model, prompt, { maxTokens: n })];
}

function hfBytes(model: Model): { json: unknown; st: Uint8Array } {
  const { configJson, safetensors } = serializeHfModel(model.config, model.weights);
  return { json: JSON.parse(configJson) as unknown, st: safetensors };
}

const TOKENS = [1, 403, 407, 261, 378, 291, 260, 411, 354, 275, 463, 284, 366, 300, 46, 499];

describe.skipIf(!haveCheckpoint)("stories260K through GGUF and Hugging Face safetensors (needs ../shared/fixtures/llama2c/stories260K.bin)", () => {
  it("GGUF (F32, interleaved RoPE) reproduces the llama2.c logits bit for bit", async () => {
    const original = await loadModel(checkpoint);
    const viaGguf = await modelFromBytes(serializeGgufModel(original.config, original.weights));
    expect(viaGguf.config).toEqual(original.config);
    const a = decodeAll(original, TOKENS), b = decodeAll(viaGguf, TOKENS);
    a.forEach((row, p) => expect(maxAbsDiff(row, b[p]), `position ${p}`).toBe(0));
  });

  it.each(["js", "wasm"] as const)("HF safetensors (q/k permuted, half RoPE) and GGUF (interleaved) give the same logits and greedy tokens (%s backend)", async (kind) => {
    const backend = kind === "js" ? jsBackend : await createWasmBackend();
    const original = await loadModel(checkpoint);
    const { json, st } = hfBytes(original);
    const hf = await readHf(json, [st], { backend });
    expect(hf.config.ropeStyle).toBe("half");
    expect({ ...hf.config, ropeStyle: "interleaved" }).toEqual(original.config);
    // the q rows really moved: row 1 of head 0 in half order is interleaved row 2
    const q0 = original.weights.get("model.layers.0.self_attn.q_proj.weight").data;
    const q1 = hf.weights.get("model.layers.0.self_attn.q_proj.weight").data;
    const dim = original.config.dim;
    expect(Array.from(q1.subarray(dim, 2 * dim))).toEqual(Array.from(q0.subarray(2 * dim, 3 * dim)));

    const hfModel = new Model(hf.config, hf.weights, { backend });
    const ggufModel = await modelFromBytes(serializeGgufModel(original.config, original.weights), { backend });
    const a = decodeAll(ggufModel, TOKENS), b = decodeAll(hfModel, TOKENS);
    let worst = 0;
    a.forEach((row, p) => (worst = Math.max(worst, maxAbsDiff(row, b[p]))));
    // q·k sums the same products in another order: equal up to rounding. Measured: js 0 (it
    // accumulates in f64); wasm 2.5e-5 on logits up to ~19, the size of wasm-vs-js itself (2.3e-5)
    expect(worst).toBeLessThan(1e-4);
    console.log(`HF half vs GGUF interleaved (${kind}): max |Δ logits| = ${worst}`);
    expect(greedy(hfModel, [1, 403], 40)).toEqual(greedy(ggufModel, [1, 403], 40));
  });

  it("the same model saved as GGUF and as safetensors loads back with identical logits", async () => {
    const original = await loadModel(checkpoint);
    const { json, st } = hfBytes(original);
    const fromHf = await readHf(json, [st]);
    // HF (half) → GGUF permutes the rows back: the GGUF file is byte-identical to the direct export
    const direct = serializeGgufModel(original.config, original.weights);
    const viaHf = serializeGgufModel(fromHf.config, fromHf.weights);
    expect(Buffer.from(viaHf).equals(Buffer.from(direct))).toBe(true);
    // and HF → HF is byte-identical too
    const again = serializeHfModel(fromHf.config, fromHf.weights).safetensors;
    expect(Buffer.from(again).equals(Buffer.from(st))).toBe(true);
    const a = decodeAll(await modelFromBytes(direct), TOKENS.slice(0, 6));
    const b = decodeAll(new Model((await readGguf(viaHf)).config, (await readGguf(viaHf)).weights), TOKENS.slice(0, 6));
    a.forEach((row, p) => expect(maxAbsDiff(row, b[p])).toBe(0));
  });

  it("F16 and BF16 GGUF hold the matrices rounded to 16 bits (norms stay F32) and stay close", async () => {
    const original = await loadModel(checkpoint);
    const ref = decodeAll(original, TOKENS);
    for (const [type, tolerance] of [["F16", 0.1], ["BF16", 1]] as const) {
      const bytes = serializeGgufModel(original.config, original.weights, { type });
      const file = GgufFile.parse(bytes);
      expect(file.tensorInfo("blk.0.attn_q.weight").type.name).toBe(type);
      expect(file.tensorInfo("blk.0.attn_norm.weight").type.name).toBe("F32");
      expect(file.get("general.file_type")).toBe(type === "F16" ? 1 : 32);
      const m = await modelFromBytes(bytes);
      if (type === "F16") {
        const w = original.weights.get("model.layers.0.mlp.down_proj.weight").data;
        const r = m.weights.get("model.layers.0.mlp.down_proj.weight").data;
        for (let i = 0; i < 200; i++) expect(r[i]).toBe(f16ToF32(f32ToF16(w[i])));
      }
      const got = decodeAll(m, TOKENS);
      let worst = 0;
      ref.forEach((row, p) => (worst = Math.max(worst, maxAbsDiff(row, got[p]))));
      expect(worst, type).toBeLessThan(tolerance);
      expect(worst, type).toBeGreaterThan(0);
      console.log(`${type} GGUF: max |Δ logits| vs f32 = ${worst}`);
    }
  });

  it("writes the metadata llama.cpp reads, and a 512-token byte-fallback vocabulary", async () => {
    const original = await loadModel(checkpoint);
    const file = GgufFile.parse(serializeGgufModel(original.config, original.weights));
    expect(file.get("general.architecture")).toBe("llama");
    expect(file.get("llama.embedding_length")).toBe(64);
    expect(file.get("llama.block_count")).toBe(5);
    expect(file.get("llama.attention.head_count")).toBe(8);
    expect(file.get("llama.attention.head_count_kv")).toBe(4);
    expect(file.get("llama.rope.dimension_count")).toBe(8);
    expect(file.get("llama.context_length")).toBe(512);
    const tokens = file.get("tokenizer.ggml.tokens") as string[];
    expect(tokens.length).toBe(512);
    expect(tokens.slice(0, 4)).toEqual(["<unk>", "<s>", "</s>", "<0x00>"]);
    expect(tokens[3 + 0x0a]).toBe("<0x0A>");
    expect(new Set(tokens).size).toBe(512);
    expect(file.tensors.some((t) => t.name === "output.weight")).toBe(false); // tied: no output.weight
    expect(file.tensorInfo("blk.0.attn_k.weight").dims).toEqual([64, 32]); // ne[0] = row length
  });
});

interface TinyFixture {
  config: Config;
  tokens: number[];
  weights: Record<string, { shape: number[]; data: number[] }>;
  logits: number[][];
}

function loadTiny(file: string): { model: Model; fx: TinyFixture } {
  const fx = JSON.parse(readFileSync(path.join(here, "fixtures", file), "utf8")) as TinyFixture;
  const weights = allocateWeights(fx.config, jsBackend);
  for (const [name, { data }] of Object.entries(fx.weights)) weights.get(name).data.set(data);
  return { model: new Model(fx.config, weights), fx };
}

// PyTorch float64 references (tools/fixtures/make_tiny_models.py), through each file format.
describe.each([
  ["tiny-gpt2.json", "gpt2: fused attn_qkv in GGUF; Conv1D [in, out] + c_attn in HF"],
  ["tiny-llama-half.json", "llama: half RoPE model; GGUF permutes to interleaved, HF keeps half; GQA 4/2, untied head"],
])("%s through GGUF and HF (%s)", (file) => {
  it("GGUF round trip matches PyTorch at every position", async () => {
    const { model, fx } = loadTiny(file);
    const m = await modelFromBytes(serializeGgufModel(model.config, model.weights));
    expect(m.config.ropeStyle).toBe("interleaved");
    expect(m.config.tiedEmbeddings).toBe(fx.config.tiedEmbeddings);
    decodeAll(m, fx.tokens).forEach((row, p) => expect(maxAbsDiff(row, fx.logits[p]), `position ${p}`).toBeLessThan(1e-5));
  });

  it("HF round trip matches PyTorch at every position", async () => {
    const { model, fx } = loadTiny(file);
    const { json, st } = hfBytes(model);
    const { config, weights } = await readHf(json, [st]);
    decodeAll(new Model(config, weights), fx.tokens).forEach((row, p) => expect(maxAbsDiff(row, fx.logits[p]), `position ${p}`).toBeLessThan(1e-5));
  });
});

describe("layouts inside the files", () => {
  it("gpt2 GGUF fuses q|k|v rows into attn_qkv; HF stores Conv1D [in, out] with c_attn columns q|k|v", async () => {
    const { model } = loadTiny("tiny-gpt2.json");
    const dim = model.config.dim;
    const q = model.weights.get("model.layers.1.self_attn.q_proj.weight").data;
    const k = model.weights.get("model.layers.1.self_attn.k_proj.weight").data;
    const vb = model.weights.get("model.layers.1.self_attn.v_proj.bias").data;

    const gguf = GgufFile.parse(serializeGgufModel(model.config, model.weights));
    expect(gguf.tensorInfo("blk.1.attn_qkv.weight").shape).toEqual([3 * dim, dim]);
    const qkv = gguf.tensorToFloat32("blk.1.attn_qkv.weight");
    expect(Array.from(qkv.subarray(dim * dim, dim * dim + dim))).toEqual(Array.from(k.subarray(0, dim)));
    expect(Array.from(gguf.tensorToFloat32("blk.1.attn_qkv.bias").subarray(2 * dim))).toEqual(Array.from(vb));
    expect(gguf.tensors.some((t) => t.name === "output.weight")).toBe(false);

    const st = SafetensorsFile.parse(serializeHfModel(model.config, model.weights).safetensors);
    const cAttn = st.tensorInfo("transformer.h.1.attn.c_attn.weight");
    expect(cAttn.shape).toEqual([dim, 3 * dim]);
    const w = st.tensorToFloat32("transformer.h.1.attn.c_attn.weight");
    // Conv1D: w[i][o] = q_proj[o][i] for o < dim, k_proj[o - dim][i] next
    expect(w[2 * 3 * dim + 5]).toBe(q[5 * dim + 2]);
    expect(w[3 * 3 * dim + dim + 4]).toBe(k[4 * dim + 3]);
    expect(st.tensorInfo("transformer.h.0.mlp.c_fc.weight").shape).toEqual([dim, model.config.hiddenDim]);
    expect(st.tensors.some((t) => t.name === "lm_head.weight")).toBe(false);
    // names without the "transformer." prefix (GPT2Model) load too
    const ck = hfFromModel(model.config, model.weights);
    const unprefixed = new Map([...(ck.safetensors.tensors as Map<string, never>)].map(([n, t]) => [n.replace(/^transformer\./, ""), t]));
    await expect(readHf(ck.config, [serializeHfSt(unprefixed)])).resolves.toBeDefined();
  });

  it("RoPE row permutations match the HF and llama.cpp converter formulas (numpy fixture)", async () => {
    const fx = JSON.parse(readFileSync(path.join(here, "fixtures/rope-permute.json"), "utf8")) as {
      nHeads: number; headDim: number; cols: number; interleaved: number[]; half: number[];
    };
    const inter = Float32Array.from(fx.interleaved);
    expect(Array.from(interleavedToHalf(inter, fx.nHeads, fx.headDim, fx.cols))).toEqual(fx.half);
    expect(Array.from(halfToInterleaved(Float32Array.from(fx.half), fx.nHeads, fx.headDim, fx.cols))).toEqual(fx.interleaved);
  });

  it("ggufFromModel lists every tensor once with ggml dims", async () => {
    const { model } = loadTiny("tiny-llama-half.json");
    const input = ggufFromModel(model.config, model.weights);
    const names = (input.tensors ?? []).map((t) => t.name);
    expect(new Set(names).size).toBe(names.length);
    expect(names).toContain("output.weight"); // untied
    expect(names.length).toBe(3 + 9 * model.config.nLayers);
  });
});

function serializeHfSt(tensors: Map<string, SafetensorsTensorInput>): Uint8Array {
  return serializeSafetensors({ tensors });
}

describe.skipIf(!haveCheckpoint)("llama2.c export (needs stories260K.bin)", () => {
  it("writes stories260K back: header and weights byte-identical, RoPE tables within f32 rounding", async () => {
    const file = new Uint8Array(readFileSync(checkpoint));
    const { config, weights } = await readLlama2c(file);
    const out = serializeLlama2c(config, weights);
    expect(out.length).toBe(file.length);
    const c = config, headDim = c.dim / c.nHeads;
    const tableFloats = 2 * c.seqLen * (headDim / 2);
    const tableStart = out.length - 4 * tableFloats; // tied: the RoPE tables end the file
    expect(Buffer.from(out.subarray(0, tableStart)).equals(Buffer.from(file.subarray(0, tableStart)))).toBe(true);
    const a = new Float32Array(out.buffer.slice(tableStart)), b = new Float32Array(file.buffer.slice(file.byteOffset + tableStart, file.byteOffset + file.length));
    expect(maxAbsDiff(a, b)).toBeLessThan(1e-3); // cos/sin of angles up to 511 rad, f32 vs f64 arithmetic
  });

  it("refuses what run.c cannot run (it hard-codes theta 10000 and eps 1e-5, and is llama only)", async () => {
    const { model } = loadTiny("tiny-llama-half.json"); // theta 500
    expect(() => serializeLlama2c(model.config, model.weights)).toThrow(/ropeTheta 10000/);
    const gpt2 = loadTiny("tiny-gpt2.json").model;
    expect(() => serializeLlama2c(gpt2.config, gpt2.weights)).toThrow(/arch "llama"/);
  });

  it("a half-RoPE (Hugging Face) model is written with q/k in run.c's interleaved order: same logits", async () => {
    const { model: half } = loadTiny("tiny-llama-half.json");
    const config = { ...half.config, ropeTheta: 10000, normEps: 1e-5 };
    const source = new Model(config, half.weights);
    const back = await readLlama2c(serializeLlama2c(config, half.weights));
    expect(back.config.ropeStyle).toBe("interleaved");
    const restored = new Model(back.config, back.weights);
    const [a, b] = [source.newCache(), restored.newCache()];
    for (const token of [1, 5, 3, 7, 2]) expect(maxAbsDiff(source.decode(token, a), restored.decode(token, b))).toBeLessThan(1e-5);
  });
});
