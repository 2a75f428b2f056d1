import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import {
  GgufError, GgufFile, SafetensorsError, ggufValue, jsBackend, serializeGguf, serializeSafetensors,
  type GgufValue, type GgufWriteInput, type SafetensorsTensorInput,
} from "@zero-llm/tensor";
import { afterAll, describe, expect, it } from "vitest";
import {
  Model, TransformerError, allocateWeights, ggufFromModel, hfConfig, hfFromModel, modelFromBytes, readHf, serializeHfModel, type Config,
} from "../src/index";
import { loadModel, writeGgufModel, writeHfModel } from "../src/node/index";

const here = path.dirname(fileURLToPath(import.meta.url));

function tinyGpt2(): Model {
  const fx = JSON.parse(readFileSync(path.join(here, "fixtures/tiny-gpt2.json"), "utf8")) as {
    config: Config; weights: Record<string, { data: number[] }>;
  };
  const weights = allocateWeights(fx.config, jsBackend);
  for (const [name, { data }] of Object.entries(fx.weights)) weights.get(name).data.set(data);
  return new Model(fx.config, weights);
}

function tinyLlama(): Model {
  const fx = JSON.parse(readFileSync(path.join(here, "fixtures/tiny-llama-half.json"), "utf8")) as {
    config: Config; weights: Record<string, { data: number[] }>;
  };
  const weights = allocateWeights(fx.config, jsBackend);
  for (const [name, { data }] of Object.entries(fx.weights)) weights.get(name).data.set(data);
  return new Model(fx.config, weights);
}

/** The tiny llama's GGUF with its metadata edited (value undefined: key removed). */
function ggufWith(edit: Record<string, GgufValue | undefined>, dropTensor?: string): Uint8Array {
  const m = tinyLlama();
  const input = ggufFromModel(m.config, m.weights);
  const metadata = [...(input.metadata as Iterable<readonly [string, GgufValue]>)]
    .filter(([k]) => !(k in edit))
    .concat(Object.entries(edit).filter((e): e is [string, GgufValue] => e[1] !== undefined));
  const out: GgufWriteInput = { metadata, tensors: (input.tensors ?? []).filter((t) => t.name !== dropTensor) };
  return serializeGguf(out);
}

/** What `fn` throws or rejects with (loaders are async: a rejection counts as a throw). */
async function caught(fn: () => unknown): Promise<unknown> {
  try {
    await fn();
  } catch (e) {
    return e;
  }
  throw new Error("expected a throw, found none");
}

async function expectTyped(fn: () => unknown, cls: typeof TransformerError | typeof GgufError | typeof SafetensorsError, code: string, message: RegExp): Promise<void> {
  const e = (await caught(fn)) as { code: string; message: string };
  expect(e).toBeInstanceOf(cls);
  expect(e.code).toBe(code);
  expect(e.message).toMatch(message);
}

describe("corrupt or unsupported GGUF files give typed errors that name the problem", () => {
  it("wrong magic is not a GGUF at all (llama2.c then rejects the size)", async () => {
    const bytes = ggufWith({});
    bytes[0] = 0x58;
    await expectTyped(() => modelFromBytes(bytes), TransformerError, "LLAMA2C_BAD_HEADER", /llama2\.c header/);
    await expectTyped(() => GgufFile.parse(bytes), GgufError, "GGUF_BAD_MAGIC", /expected magic "GGUF"/);
  });

  it("truncated tensor data", async () => {
    const bytes = ggufWith({});
    await expectTyped(() => modelFromBytes(bytes.subarray(0, bytes.length - 100)), GgufError, "GGUF_TENSOR_OUT_OF_RANGE", /to end within the file/);
  });

  it("every truncation and 500 single-byte corruptions throw only typed errors", async () => {
    const bytes = ggufWith({});
    const typed = (e: unknown) => e instanceof TransformerError || e instanceof GgufError;
    for (let n = 0; n < bytes.length; n += 97) {
      expect(typed(await caught(() => modelFromBytes(bytes.slice(0, n)))), `prefix ${n}`).toBe(true);
    }
    let seed = 7;
    for (let i = 0; i < 500; i++) {
      const copy = bytes.slice();
      seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
      const at = seed % 2000; // the header region
      copy[at] ^= 1 + (seed >>> 24) % 255;
      try {
        await modelFromBytes(copy);
      } catch (e) {
        expect(typed(e), `byte ${at}: ${String(e)}`).toBe(true);
      }
    }
  });

  it("unknown architecture", async () => {
    await expectTyped(() => modelFromBytes(ggufWith({ "general.architecture": ggufValue.string("mamba") })), TransformerError, "UNSUPPORTED_ARCHITECTURE", /expected general\.architecture "llama" or "gpt2", found "mamba"/);
  });

  it("missing metadata keys are named", async () => {
    for (const key of ["llama.embedding_length", "llama.block_count", "llama.attention.head_count", "llama.context_length", "llama.attention.layer_norm_rms_epsilon", "llama.feed_forward_length", "general.architecture"]) {
      await expectTyped(() => modelFromBytes(ggufWith({ [key]: undefined })), TransformerError, "MISSING_METADATA", new RegExp(`expected metadata key ${key.replace(/\./g, "\\.")}`));
    }
  });

  it("metadata of the wrong type or value", async () => {
    await expectTyped(() => modelFromBytes(ggufWith({ "llama.block_count": ggufValue.string("two") })), TransformerError, "BAD_METADATA", /llama\.block_count to be an integer, found string two/);
    await expectTyped(() => modelFromBytes(ggufWith({ "llama.attention.head_count": ggufValue.u32(3) })), TransformerError, "BAD_METADATA", /dim divisible by nHeads/);
    await expectTyped(() => modelFromBytes(ggufWith({ "llama.context_length": ggufValue.u64(1n << 40n) })), TransformerError, "BAD_METADATA", /context_length ≤ 16777216/);
    await expectTyped(() => modelFromBytes(ggufWith({ "llama.attention.head_count_kv": ggufValue.array("i32", new Int32Array([2, 2])) })), TransformerError, "BAD_METADATA", /per-layer values are not supported/);
  });

  it("llama variants the forward pass does not implement are refused by name", async () => {
    await expectTyped(() => modelFromBytes(ggufWith({ "llama.rope.scaling.type": ggufValue.string("yarn") })), TransformerError, "UNSUPPORTED_ARCHITECTURE", /rope\.scaling\.type "yarn"/);
    await expectTyped(() => modelFromBytes(ggufWith({ "llama.expert_count": ggufValue.u32(8) })), TransformerError, "UNSUPPORTED_ARCHITECTURE", /mixture of experts/);
    await expectTyped(() => modelFromBytes(ggufWith({ "llama.rope.dimension_count": ggufValue.u32(2) })), TransformerError, "UNSUPPORTED_ARCHITECTURE", /partial rotary/);
  });

  it("a missing tensor or a metadata/tensor shape disagreement, before any weight is allocated", async () => {
    await expectTyped(() => modelFromBytes(ggufWith({}, "blk.1.ffn_down.weight")), TransformerError, "MISSING_WEIGHT", /blk\.1\.ffn_down\.weight/);
    // a huge claimed width must not allocate: the shape check against the tensors fails first
    await expectTyped(() => modelFromBytes(ggufWith({ "llama.feed_forward_length": ggufValue.u32(1 << 30) })), TransformerError, "WEIGHT_SHAPE_MISMATCH", /blk\.0\.ffn_gate\.weight of shape \[1073741824, 16\], found \[40, 16\]/);
  });

  it("tensor types without an f32 expansion here are refused by name", async () => {
    const m = tinyLlama();
    const input = ggufFromModel(m.config, m.weights);
    const tensors = (input.tensors ?? []).map((t) =>
      t.name === "blk.0.attn_q.weight" ? { name: t.name, type: "I32", shape: [16, 16], data: new Int32Array(256) } : t,
    );
    await expectTyped(() => modelFromBytes(serializeGguf({ metadata: input.metadata, tensors })), TransformerError, "UNSUPPORTED_TENSOR_TYPE", /blk\.0\.attn_q\.weight to be one of F32, F16, BF16, F64, Q8_0, Q4_0 \(or a type given in weightTypes\), found I32/);
  });
});

describe("corrupt or unsupported Hugging Face checkpoints", () => {
  const m = tinyLlama();
  const { configJson, safetensors } = serializeHfModel(m.config, m.weights);
  const json = JSON.parse(configJson) as Record<string, unknown>;

  it("config.json: unknown model_type, missing and wrong keys", async () => {
    await expectTyped(() => hfConfig({ ...json, model_type: "mistral" }), TransformerError, "UNSUPPORTED_ARCHITECTURE", /model_type "llama" or "gpt2", found "mistral"/);
    const { hidden_size: _, ...noHidden } = json;
    await expectTyped(() => hfConfig(noHidden), TransformerError, "MISSING_METADATA", /"hidden_size"/);
    await expectTyped(() => hfConfig({ ...json, num_hidden_layers: "2" }), TransformerError, "BAD_METADATA", /"num_hidden_layers" to be a positive integer, found "2"/);
    await expectTyped(() => hfConfig({ ...json, rope_scaling: { type: "llama3" } }), TransformerError, "UNSUPPORTED_ARCHITECTURE", /rope_scaling/);
    await expectTyped(() => hfConfig([1]), TransformerError, "BAD_METADATA", /JSON object/);
    // null is not "absent": transformers would keep None and fail later, so no silent default
    await expectTyped(() => hfConfig({ ...json, rms_norm_eps: null }), TransformerError, "BAD_METADATA", /"rms_norm_eps" to be a positive number \(or the key left out for the default 0\.000001\), found null/);
    await expectTyped(() => hfConfig({ ...json, rope_theta: null }), TransformerError, "BAD_METADATA", /"rope_theta" to be a positive number .*found null/);
    const { rms_norm_eps: _eps, ...noEps } = json;
    expect(hfConfig(noEps).normEps).toBe(1e-6);
  });

  it("safetensors: truncated, missing tensor, wrong shape, wrong dtype", async () => {
    await expectTyped(() => readHf(json, [safetensors.subarray(0, safetensors.length - 8)]), SafetensorsError, "SAFETENSORS_BAD_OFFSETS", /./);
    await expectTyped(() => readHf({ ...json, num_hidden_layers: 3 }, [safetensors]), TransformerError, "MISSING_WEIGHT", /model\.layers\.2\./);
    await expectTyped(() => readHf({ ...json, intermediate_size: 41 }, [safetensors]), TransformerError, "WEIGHT_SHAPE_MISMATCH", /gate_proj\.weight of shape \[41, 16\] \(from config\.json intermediate_size, hidden_size\), found \[40, 16\]/);
    const ck = hfFromModel(m.config, m.weights);
    const tensors = new Map(ck.safetensors.tensors as ReadonlyMap<string, SafetensorsTensorInput>);
    tensors.set("model.norm.weight", { dtype: "I32", shape: [16], data: new Int32Array(16) });
    await expectTyped(() => readHf(json, [serializeSafetensors({ tensors })]), TransformerError, "UNSUPPORTED_TENSOR_TYPE", /model\.norm\.weight to be one of F32, F16, BF16, F64, found I32/);
  });
});

describe("no header field sizes an allocation unchecked", () => {
  const m = tinyLlama();
  const { configJson, safetensors } = serializeHfModel(m.config, m.weights);
  const json = JSON.parse(configJson) as Record<string, unknown>;
  const quick = async (fn: () => unknown, cls: typeof TransformerError, code: string, message: RegExp): Promise<void> => {
    // CPU time, not wall-clock: a loaded CI machine stretches the latter 10x, never the former
    const t0 = process.cpuUsage();
    await expectTyped(fn, cls, code, message);
    const { user, system } = process.cpuUsage(t0);
    expect((user + system) / 1000).toBeLessThan(1000); // ms: refused up front, not after a huge loop
  };

  it("Hugging Face: the context length is capped like GGUF's (2^24), naming the key; newCache never sees it", async () => {
    await quick(() => hfConfig({ ...json, max_position_embeddings: 2 ** 40 }), TransformerError, "BAD_METADATA", /"max_position_embeddings" ≤ 16777216, found 1099511627776/);
    await quick(() => readHf({ ...json, max_position_embeddings: 2 ** 40 }, [safetensors]), TransformerError, "BAD_METADATA", /max_position_embeddings/);
    const gpt2 = hfFromModel(tinyGpt2().config, tinyGpt2().weights).config;
    await quick(() => hfConfig({ ...gpt2, n_positions: 2 ** 25 }), TransformerError, "BAD_METADATA", /"n_positions" ≤ 16777216/);
    // at the cap itself the config is valid, and the cache is sized only when asked for
    expect(hfConfig({ ...json, max_position_embeddings: 2 ** 24 }).seqLen).toBe(2 ** 24);
  });

  it("Hugging Face: every field that sizes an allocation is checked against the tensors present, naming the key", async () => {
    await quick(() => readHf({ ...json, num_hidden_layers: 1e12 }, [safetensors]), TransformerError, "BAD_METADATA", /"num_hidden_layers" ≤ the 21 tensors in the checkpoint.*found 1000000000000/);
    await quick(() => readHf({ ...json, hidden_size: 2 ** 30, num_attention_heads: 4, num_key_value_heads: 2, head_dim: 2 ** 28 }, [safetensors]), TransformerError, "WEIGHT_SHAPE_MISMATCH", /embed_tokens\.weight of shape \[40, 1073741824\] \(from config\.json vocab_size, hidden_size\)/);
    await quick(() => readHf({ ...json, vocab_size: 2 ** 40 }, [safetensors]), TransformerError, "WEIGHT_SHAPE_MISMATCH", /\(from config\.json vocab_size, hidden_size\), found \[40, 16\]/);
    await quick(() => readHf({ ...json, intermediate_size: 2 ** 40 }, [safetensors]), TransformerError, "WEIGHT_SHAPE_MISMATCH", /\(from config\.json intermediate_size, hidden_size\)/);
    await quick(() => readHf({ ...json, num_key_value_heads: 4 }, [safetensors]), TransformerError, "WEIGHT_SHAPE_MISMATCH", /k_proj\.weight of shape \[16, 16\] \(from config\.json num_key_value_heads, hidden_size\), found \[8, 16\]/);
  });

  it("GGUF: block_count is bounded by the tensors in the file before any per-layer list is built", async () => {
    await quick(() => modelFromBytes(ggufWith({ "llama.block_count": ggufValue.u64(1n << 40n) })), TransformerError, "BAD_METADATA", /block_count ≤ the 21 tensors in the file.*found 1099511627776/);
  });

  it("llama2.c: a header claiming 10^8 layers is a size mismatch, not a crash (no per-layer list is built first)", async () => {
    const header = new Int32Array([8, 12, 100_000_000, 2, 1, 10, 4]);
    const bytes = new Uint8Array(1000);
    bytes.set(new Uint8Array(header.buffer));
    await quick(() => modelFromBytes(bytes), TransformerError, "LLAMA2C_SIZE_MISMATCH", /layers 100000000.*found 1000/);
    const longSeq = new Int32Array([8, 12, 2, 2, 1, 10, 1 << 25]);
    bytes.set(new Uint8Array(longSeq.buffer));
    await quick(() => modelFromBytes(bytes), TransformerError, "LLAMA2C_BAD_HEADER", /seqLen ≤ 16777216/);
  });
});

describe("files on disk: loadModel dispatches on what the path holds", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "zllm-formats-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("GGUF file, HF directory, config.json, .safetensors file; missing config.json named", async () => {
    const m = tinyLlama();
    await writeGgufModel(path.join(dir, "tiny.gguf"), m);
    await writeHfModel(dir, m);
    const cache = (x: Model) => Float32Array.from(x.decode(3, x.newCache()));
    const want = cache(m);
    for (const p of ["tiny.gguf", ".", "config.json", "model.safetensors"]) {
      const got = cache(await loadModel(path.join(dir, p)));
      for (let i = 0; i < want.length; i++) expect(Math.abs(got[i] - want[i]), p).toBeLessThan(1e-6);
    }
    const lone = mkdtempSync(path.join(os.tmpdir(), "zllm-lone-"));
    writeFileSync(path.join(lone, "model.safetensors"), serializeHfModel(m.config, m.weights).safetensors);
    await expect(loadModel(path.join(lone, "model.safetensors"))).rejects.toThrow(/expected a Hugging Face config\.json/);
    await expect(loadModel(path.join(lone, "nothing.bin"))).rejects.toThrow(/found nothing/);
    rmSync(lone, { recursive: true, force: true });
    await expect(modelFromBytes(serializeHfModel(m.config, m.weights).safetensors)).rejects.toThrow(/expected config\.json beside the safetensors file/);
  });

  it("sharded Hugging Face checkpoints (model.safetensors.index.json); shard names may not leave the directory", async () => {
    const m = tinyLlama();
    const shardDir = mkdtempSync(path.join(os.tmpdir(), "zllm-shards-"));
    const ck = hfFromModel(m.config, m.weights);
    const all = [...(ck.safetensors.tensors as ReadonlyMap<string, SafetensorsTensorInput>)];
    const half = Math.ceil(all.length / 2);
    const shards = [all.slice(0, half), all.slice(half)];
    const weightMap: Record<string, string> = {};
    shards.forEach((entries, i) => {
      const name = `model-0000${i + 1}-of-00002.safetensors`;
      writeFileSync(path.join(shardDir, name), serializeSafetensors({ tensors: new Map(entries) }));
      for (const [t] of entries) weightMap[t] = name;
    });
    writeFileSync(path.join(shardDir, "config.json"), JSON.stringify(ck.config));
    writeFileSync(path.join(shardDir, "model.safetensors.index.json"), JSON.stringify({ metadata: {}, weight_map: weightMap }));
    const got = (await loadModel(shardDir)).decode(3, m.newCache());
    const want = Float32Array.from(m.decode(3, m.newCache()));
    for (let i = 0; i < want.length; i++) expect(Math.abs(got[i] - want[i])).toBeLessThan(1e-6);
    writeFileSync(path.join(shardDir, "model.safetensors.index.json"), JSON.stringify({ weight_map: { "lm_head.weight": "../evil.safetensors" } }));
    await expect(loadModel(shardDir)).rejects.toThrow(/expected weight_map entries to be \.safetensors file names/);
    rmSync(shardDir, { recursive: true, force: true });
  });
});
