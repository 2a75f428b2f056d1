// Model files as an attacker or a careless user hands them over (issue 12): reads bounded by
// what the file really is (#4), every tensor used (#6), non-finite weights refused at load and
// non-finite logits stopping generation (#8); and each tensor read once, straight into the
// memory it lives in (issue 11: no second copy of the weights while loading).
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, symlinkSync, truncateSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import {
  bytesSource, createWasmBackend, f16ArrayToF32, jsBackend, serializeGguf, serializeSafetensors,
  type ByteSource, type GgufValue, type GgufWriteInput, type SafetensorsTensorInput,
} from "@zero-llm/tensor";
import { afterAll, describe, expect, it } from "vitest";
import {
  Model, TransformerError, allocateWeights, generate, ggufFromModel, hfFromModel, modelFromBytes, perplexity, readGguf, readHf, readLlama2c,
  serializeGgufModel, serializeHfModel, serializeLlama2c, type Config,
} from "../src/index";
import { loadModel } from "../src/node/index";

const here = path.dirname(fileURLToPath(import.meta.url));
const dir = mkdtempSync(path.join(os.tmpdir(), "zllm-hardening-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function fixtureModel(file: string): Model {
  const fx = JSON.parse(readFileSync(path.join(here, "fixtures", file), "utf8")) as { config: Config; weights: Record<string, { data: number[] }> };
  const weights = allocateWeights(fx.config, jsBackend);
  for (const [name, { data }] of Object.entries(fx.weights)) weights.get(name).data.set(data);
  return new Model(fx.config, weights);
}
const tinyLlama = (): Model => fixtureModel("tiny-llama-half.json"); // 2 layers, untied
const tinyGpt2 = (): Model => fixtureModel("tiny-gpt2.json");

async function codeOf(fn: () => unknown): Promise<string> {
  try {
    await fn();
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    return `${typeof code === "string" ? code : "untyped"}: ${(e as Error).message}`;
  }
  return "no error";
}

/** A GGUF input with some metadata replaced and the tensors mapped. */
function ggufEdit(input: GgufWriteInput, meta: Record<string, GgufValue>, tensors = input.tensors ?? []): Uint8Array {
  const metadata = [...(input.metadata as Iterable<readonly [string, GgufValue]>)].map(([k, v]) => [k, meta[k] ?? v] as const);
  return serializeGguf({ metadata, tensors });
}

describe("#4: only regular files, only what the header declares", () => {
  it("a device, a fifo or a directory where a model file is expected is NOT_A_FILE, before a byte is read", async () => {
    for (const device of ["/dev/zero", "/dev/urandom"]) expect(await codeOf(() => loadModel(device))).toMatch(/^NOT_A_FILE: .*character device/);
    const fifo = path.join(dir, "model.gguf");
    try {
      execFileSync("mkfifo", [fifo]);
      expect(await codeOf(() => loadModel(fifo))).toMatch(/^NOT_A_FILE: .*fifo/);
    } finally {
      rmSync(fifo, { force: true });
    }
  });

  it("Hugging Face directories: a config.json or shard that is a device or a fifo, a config.json past 64 MiB", async () => {
    const m = tinyLlama();
    const hf = path.join(dir, "hf");
    execFileSync("mkdir", ["-p", hf]);
    const { configJson, safetensors } = serializeHfModel(m.config, m.weights);
    writeFileSync(path.join(hf, "config.json"), configJson);
    symlinkSync("/dev/zero", path.join(hf, "model.safetensors"));
    expect(await codeOf(() => loadModel(hf))).toMatch(/^NOT_A_FILE: /);
    rmSync(path.join(hf, "model.safetensors"));
    writeFileSync(path.join(hf, "model.safetensors"), safetensors);
    expect((await loadModel(hf)).config).toEqual(m.config);
    rmSync(path.join(hf, "config.json"));
    symlinkSync("/dev/urandom", path.join(hf, "config.json"));
    expect(await codeOf(() => loadModel(hf))).toMatch(/^NOT_A_FILE: /);
    rmSync(path.join(hf, "config.json"));
    writeFileSync(path.join(hf, "config.json"), configJson);
    truncateSync(path.join(hf, "config.json"), 65 << 20); // sparse: no disk used
    expect(await codeOf(() => loadModel(hf))).toMatch(/^FILE_TOO_LARGE: /);
  });
});

describe("#6: every tensor in the file is used", () => {
  it("GGUF: block_count 1 over a file with 2 blocks names the extra block's tensors", async () => {
    const m = tinyLlama();
    const bytes = ggufEdit(ggufFromModel(m.config, m.weights), { "llama.block_count": { type: "u32", value: 1 } });
    const found = await codeOf(() => modelFromBytes(bytes));
    expect(found).toMatch(/^UNUSED_WEIGHT: gguf: .*found 9 it does not use: blk\.1\.attn_norm\.weight, blk\.1\.attn_q\.weight/);
  });

  it("GGUF: an unknown tensor is named; llama's optional biases are used, not extra", async () => {
    const m = tinyLlama();
    const input = ggufFromModel(m.config, m.weights);
    const extra = ggufEdit(input, {}, [...(input.tensors ?? []), { name: "blk.0.attn_sinks.weight", type: "F32", shape: [2], data: new Float32Array(2) }]);
    expect(await codeOf(() => modelFromBytes(extra))).toMatch(/^UNUSED_WEIGHT: .*blk\.0\.attn_sinks\.weight$/);
    const bias = Float32Array.from({ length: 16 }, (_, i) => 0.1 * i);
    const biased = ggufEdit(input, {}, [...(input.tensors ?? []), { name: "blk.0.attn_q.bias", type: "F32", shape: [16], data: bias }]);
    const { weights } = await readGguf(biased);
    expect(Array.from(weights.get("model.layers.0.self_attn.q_proj.bias").data)).toEqual(Array.from(bias));
  });

  it("Hugging Face: a config that says 1 layer of a 2-layer checkpoint names the rest; non-weight buffers are ignored", async () => {
    const m = tinyLlama();
    const { configJson, safetensors } = serializeHfModel(m.config, m.weights);
    const json = JSON.parse(configJson) as Record<string, unknown>;
    expect(await codeOf(() => readHf({ ...json, num_hidden_layers: 1 }, [safetensors]))).toMatch(/^UNUSED_WEIGHT: hf safetensors: .*model\.layers\.1\./);
    // GPT-2's causal-mask buffers and a tied head's saved duplicate are not weights: accepted
    const g = tinyGpt2();
    const ck = hfFromModel(g.config, g.weights);
    const tensors = new Map(ck.safetensors.tensors as ReadonlyMap<string, SafetensorsTensorInput>);
    tensors.set("transformer.h.0.attn.bias", { dtype: "F32", shape: [1, 1, 16, 16], data: new Float32Array(256) });
    tensors.set("transformer.h.1.attn.masked_bias", { dtype: "F32", shape: [], data: new Float32Array([-1e4]) });
    tensors.set("lm_head.weight", { dtype: "F32", shape: [g.config.vocabSize, g.config.dim], data: g.weights.get("lm_head.weight").data });
    const loaded = await readHf(ck.config, [serializeSafetensors({ tensors })]);
    expect(loaded.weights.get("lm_head.weight").data).toBe(loaded.weights.get("model.embed_tokens.weight").data);
    tensors.set("transformer.h.0.attn.c_attn.lora_A", { dtype: "F32", shape: [2], data: new Float32Array(2) });
    expect(await codeOf(() => readHf(ck.config, [serializeSafetensors({ tensors })]))).toMatch(/^UNUSED_WEIGHT: .*transformer\.h\.0\.attn\.c_attn\.lora_A$/);
  });

  it("a Weights map with tensors the model does not use is refused by the Model too", async () => {
    const m = tinyLlama();
    m.weights.set("model.layers.2.input_layernorm.weight", [16], new Float32Array(16));
    expect(await codeOf(() => new Model(m.config, m.weights))).toMatch(/^UNUSED_WEIGHT: weights: .*model\.layers\.2\.input_layernorm\.weight/);
  });
});

describe("#8: non-finite weights and logits", () => {
  it("a GGUF whose F32 tensor is relabelled F16 decodes to NaN: refused at load, naming the tensor", async () => {
    const m = tinyLlama();
    const input = ggufFromModel(m.config, m.weights);
    const tensors = (input.tensors ?? []).map((t) => {
      if (t.name !== "blk.0.attn_q.weight") return t;
      const f32 = t.data as Float32Array;
      return { name: t.name, type: "F16", shape: [16, 16], data: new Uint16Array(f32.buffer, f32.byteOffset, 256) };
    });
    const relabelled = tensors.find((t) => t.name === "blk.0.attn_q.weight")?.data as Uint16Array;
    expect(f16ArrayToF32(relabelled).some((x) => !Number.isFinite(x))).toBe(true); // what the file now says
    expect(await codeOf(() => modelFromBytes(serializeGguf({ metadata: input.metadata, tensors })))).toMatch(
      /^NONFINITE_WEIGHT: gguf blk\.0\.attn_q\.weight: expected finite weights, found (NaN|-?Infinity) at element \d+ of 256/,
    );
  });

  it("NaN or infinity in f32 weights of llama2.c and Hugging Face files, named", async () => {
    const m = tinyLlama();
    const interleaved = { ...m.config, ropeStyle: "interleaved" as const, normEps: 1e-5, ropeTheta: 10000 };
    const bad = new Model(interleaved, m.weights);
    bad.weights.get("model.layers.1.mlp.up_proj.weight").data[7] = Number.NaN;
    expect(await codeOf(() => readLlama2c(serializeLlama2c(bad.config, bad.weights)))).toMatch(/^NONFINITE_WEIGHT: llama2\.c model\.layers\.1\.mlp\.up_proj\.weight .*found NaN at element 7 of 640/);
    bad.weights.get("model.layers.1.mlp.up_proj.weight").data[7] = Number.POSITIVE_INFINITY;
    const { configJson, safetensors } = serializeHfModel(bad.config, bad.weights);
    expect(await codeOf(() => readHf(JSON.parse(configJson), [safetensors]))).toMatch(/^NONFINITE_WEIGHT: hf model\.layers\.1\.mlp\.up_proj\.weight: .*found Infinity at element 7/);
  });

  it("logits that become non-finite stop generation with a typed error, before any token", () => {
    const m = tinyLlama();
    m.weights.get("model.norm.weight").data[3] = Number.NaN; // a model built in memory: no load check
    const run = generate(m, [1, 2, 3], { maxTokens: 5 });
    let yielded = 0;
    let caught: unknown;
    try {
      for (const _ of run) yielded++;
    } catch (e) {
      caught = e;
    }
    expect(yielded).toBe(0);
    expect(caught).toBeInstanceOf(TransformerError);
    expect((caught as TransformerError).code).toBe("NONFINITE_LOGITS");
    expect((caught as Error).message).toMatch(/expected finite logits at position 2, found NaN for token id 0/);
  });
});

describe("issue 11: each tensor read once, straight into its final home", () => {
  /** A source that records, for every read, how many bytes and whether they landed in `memory`. */
  function watched(bytes: Uint8Array, memory: ArrayBufferLike): { source: ByteSource; reads: { length: number; inPlace: boolean }[] } {
    const inner = bytesSource(bytes);
    const reads: { length: number; inPlace: boolean }[] = [];
    return {
      reads,
      source: { ...inner, name: "watched", read: (offset, target) => { reads.push({ length: target.length, inPlace: target.buffer === memory }); return inner.read(offset, target); } },
    };
  }

  it("llama2.c and F32 GGUF on the wasm backend: every weight byte read once, directly into wasm memory", async () => {
    const wasm = await createWasmBackend({ threads: 1 });
    try {
      const m = tinyLlama();
      const config = { ...m.config, ropeStyle: "interleaved" as const, normEps: 1e-5, ropeTheta: 10000 };
      const memory = wasm.allocF32(1).buffer;
      const llama2c = serializeLlama2c(config, m.weights);
      const a = watched(llama2c, memory);
      await readLlama2c(a.source, { backend: wasm });
      const weightBytes = m.weights.bytes();
      const inPlace = a.reads.filter((r) => r.inPlace).reduce((n, r) => n + r.length, 0);
      expect(inPlace).toBe(weightBytes);
      expect(a.reads.filter((r) => !r.inPlace).reduce((n, r) => n + r.length, 0)).toBe(28); // the header
      const gguf = serializeGgufModel(config, m.weights);
      const b = watched(gguf, memory);
      await readGguf(b.source, { backend: wasm });
      expect(b.reads.filter((r) => r.inPlace).reduce((n, r) => n + r.length, 0)).toBe(weightBytes);
      expect(b.reads.filter((r) => !r.inPlace).every((r) => r.length <= 1 << 20)).toBe(true); // header prefixes only
    } finally {
      await wasm.dispose();
    }
  });
});

describe("llama's optional biases survive every file format that can hold them", () => {
  const fx = JSON.parse(readFileSync(path.join(here, "fixtures/tiny-llama-bias.json"), "utf8")) as {
    config: Config; tokens: number[]; weights: Record<string, { shape: number[]; data: number[] }>; logits: number[][];
  };
  function biased(): Model {
    const w = allocateWeights(fx.config, jsBackend);
    for (const [name, { shape, data }] of Object.entries(fx.weights)) {
      if (w.has(name)) w.get(name).data.set(data);
      else w.set(name, shape, Float32Array.from(data));
    }
    return new Model(fx.config, w);
  }
  const logitsOf = (m: Model): Float32Array[] => {
    const cache = m.newCache();
    return fx.tokens.map((t) => Float32Array.from(m.decode(t, cache)));
  };
  const worst = (got: Float32Array[]): number =>
    Math.max(...got.map((row, p) => Math.max(...row.map((x, i) => Math.abs(x - fx.logits[p][i])))));

  it("GGUF (llama.cpp's attn_q.bias … ffn_down.bias) and Hugging Face (attention_bias, mlp_bias) load back to the PyTorch logits", async () => {
    const m = biased();
    expect(worst(logitsOf(m))).toBeLessThan(1e-5);
    const viaGguf = await modelFromBytes(serializeGgufModel(m.config, m.weights));
    expect(viaGguf.weights.names().filter((n) => n.endsWith(".bias")).length).toBe(14);
    expect(worst(logitsOf(viaGguf))).toBeLessThan(1e-5);
    const { configJson, safetensors } = serializeHfModel(m.config, m.weights);
    const json = JSON.parse(configJson) as Record<string, unknown>;
    expect([json.attention_bias, json.mlp_bias]).toEqual([true, true]);
    const viaHf = await readHf(json, [safetensors]);
    expect(viaHf.config.ropeStyle).toBe("half"); // q/k rows and their biases permuted together
    expect(worst(logitsOf(new Model(viaHf.config, viaHf.weights)))).toBeLessThan(1e-5);
  });

  it("a Qwen2-style model (q/k/v biases only) is written to Hugging Face with a zero o bias, the same model", async () => {
    const m = biased();
    for (const name of m.weights.names()) if (/(o_proj|mlp\.\w+)\.bias$/.test(name)) expect(m.weights.has(name)).toBe(true);
    const w = allocateWeights(fx.config, jsBackend);
    for (const [name, { shape, data }] of Object.entries(fx.weights)) {
      if (w.has(name)) w.get(name).data.set(data);
      else if (/\.[qkv]_proj\.bias$/.test(name)) w.set(name, shape, Float32Array.from(data));
    }
    const qwenLike = new Model(fx.config, w);
    const { configJson, safetensors } = serializeHfModel(qwenLike.config, qwenLike.weights);
    const json = JSON.parse(configJson) as Record<string, unknown>;
    expect([json.attention_bias, json.mlp_bias]).toEqual([true, false]);
    const back = await readHf(json, [safetensors]);
    expect(Array.from(back.weights.get("model.layers.0.self_attn.o_proj.bias").data).every((x) => x === 0)).toBe(true);
    const a = logitsOf(qwenLike), b = logitsOf(new Model(back.config, back.weights));
    expect(Math.max(...a.map((row, p) => Math.max(...row.map((x, i) => Math.abs(x - b[p][i])))))).toBeLessThan(1e-5);
  });

  it("llama2.c has no place for biases: the export refuses instead of dropping them", async () => {
    expect(await codeOf(() => serializeLlama2c(fx.config, biased().weights))).toMatch(/^BAD_CONFIG: llama2\.c export: expected a model without biases .*model\.layers\.0\.self_attn\.q_proj\.bias/);
  });
});

describe("a model with weights the training engine has no place for", () => {
  it("perplexity of a llama with biases is refused, not computed without them", async () => {
    const fx = JSON.parse(readFileSync(path.join(here, "fixtures/tiny-llama-bias.json"), "utf8")) as {
      config: Config; weights: Record<string, { shape: number[]; data: number[] }>;
    };
    const w = allocateWeights(fx.config, jsBackend);
    for (const [name, { shape, data }] of Object.entries(fx.weights)) {
      if (w.has(name)) w.get(name).data.set(data);
      else w.set(name, shape, Float32Array.from(data));
    }
    expect(await codeOf(() => perplexity(new Model(fx.config, w), [1, 2, 3, 4, 5]))).toMatch(/^UNSUPPORTED_ARCHITECTURE: TransformerLM: .*model\.layers\.0\.self_attn\.q_proj\.bias/);
  });
});
