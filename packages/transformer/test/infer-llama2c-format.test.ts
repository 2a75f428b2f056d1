import { describe, expect, it } from "vitest";
import {
  TransformerError, detectFormat, llama2cFileBytes, modelFromBytes, readLlama2c, readLlama2cConfig,
} from "../src/index";

/** A small llama2.c legacy file whose float i holds the value i (so every tensor's origin is visible). */
function makeFile(header: number[], extraFloats = 0, prefixBytes = 0): Uint8Array {
  const { config, sharedClassifier } = readLlama2cConfig(new Uint8Array(new Int32Array(header).buffer));
  const size = llama2cFileBytes(config, sharedClassifier) + 4 * extraFloats;
  const buf = new Uint8Array(prefixBytes + size);
  const bytes = buf.subarray(prefixBytes);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  header.forEach((v, i) => view.setInt32(4 * i, v, true));
  for (let i = 0, off = 28; off < size; i++, off += 4) view.setFloat32(off, i, true);
  return bytes;
}

const expectCode = (fn: () => unknown, code: string, message: RegExp): void => {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(TransformerError);
  expect((caught as TransformerError).code).toBe(code);
  expect((caught as TransformerError).message).toMatch(message);
};

/** expectCode for the async readers: a rejection counts as the throw. */
const expectCodeAsync = async (fn: () => Promise<unknown>, code: string, message: RegExp): Promise<void> => {
  let caught: unknown;
  try {
    await fn();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(TransformerError);
  expect((caught as TransformerError).code).toBe(code);
  expect((caught as TransformerError).message).toMatch(message);
};

describe("llama2.c legacy reader", () => {
  // dim 8, hidden 12, 2 layers, 2 heads, 1 kv head, vocab 10, seq 4 → headDim 4, kvDim 4
  const header = [8, 12, 2, 2, 1, 10, 4];

  it("places every tensor at its offset (shared classifier)", async () => {
    const { config, weights } = await readLlama2c(makeFile(header));
    expect(config).toMatchObject({ dim: 8, hiddenDim: 12, nLayers: 2, nHeads: 2, nKvHeads: 1, vocabSize: 10, seqLen: 4 });
    const first = (name: string): number => weights.get(name).data[0];
    // file order: embed 80, rms_att 2×8, wq 2×64, wk 2×32, wv 2×32, wo 2×64, rms_ffn 2×8, w1 2×96, w2 2×96, w3 2×96, final 8
    expect(first("model.embed_tokens.weight")).toBe(0);
    expect(first("model.layers.0.input_layernorm.weight")).toBe(80);
    expect(first("model.layers.1.input_layernorm.weight")).toBe(88);
    expect(first("model.layers.0.self_attn.q_proj.weight")).toBe(96);
    expect(first("model.layers.1.self_attn.k_proj.weight")).toBe(96 + 128 + 32);
    expect(first("model.layers.0.self_attn.v_proj.weight")).toBe(96 + 128 + 64);
    expect(first("model.layers.0.self_attn.o_proj.weight")).toBe(96 + 128 + 64 + 64);
    expect(first("model.layers.0.post_attention_layernorm.weight")).toBe(480);
    expect(first("model.layers.0.mlp.gate_proj.weight")).toBe(496);
    expect(first("model.layers.0.mlp.down_proj.weight")).toBe(496 + 192);
    expect(first("model.layers.1.mlp.up_proj.weight")).toBe(496 + 384 + 96);
    expect(first("model.norm.weight")).toBe(496 + 576);
    expect(weights.get("lm_head.weight").data).toBe(weights.get("model.embed_tokens.weight").data);
  });

  it("reads an unshared classifier after the RoPE table (negative vocab_size)", async () => {
    const { config, weights } = await readLlama2c(makeFile([8, 12, 2, 2, 1, -10, 4]));
    expect(config.tiedEmbeddings).toBe(false);
    // final norm ends at 1080; RoPE table 2 × 4 × 2 = 16 floats; wcls starts at 1096
    expect(weights.get("lm_head.weight").data[0]).toBe(1096);
    expect(weights.get("lm_head.weight").data[79]).toBe(1096 + 79);
  });

  it("reads identically from an unaligned buffer", async () => {
    const aligned = (await readLlama2c(makeFile(header))).weights;
    const unaligned = (await readLlama2c(makeFile(header, 0, 1))).weights;
    for (const name of aligned.names()) expect(unaligned.get(name).data).toEqual(aligned.get(name).data);
  });

  it("checks the header against the file size before allocating", async () => {
    const file = makeFile(header);
    await expectCodeAsync(() => readLlama2c(file.subarray(0, file.length - 4)), "LLAMA2C_SIZE_MISMATCH", /implies 4412 bytes, found 4408/);
    await expectCodeAsync(() => readLlama2c(makeFile(header, 1)), "LLAMA2C_SIZE_MISMATCH", /implies 4412 bytes, found 4416/);
    // a corrupt header claiming a huge model must fail on size, not on a giant allocation
    const huge = new Uint8Array(new Int32Array([4096, 11008, 32, 32, 32, 32000, 4096, 0]).buffer);
    await expectCodeAsync(() => readLlama2c(huge), "LLAMA2C_SIZE_MISMATCH", /bytes, found 32$/);
  });

  it("rejects impossible headers, short files and the v1 format with typed errors", async () => {
    await expectCodeAsync(() => readLlama2c(new Uint8Array(10)), "LLAMA2C_BAD_HEADER", /expected at least 28 header bytes, found 10/);
    expectCode(() => readLlama2cConfig(new Uint8Array(new Int32Array([8, 12, 2, 3, 1, 10, 4]).buffer)),
      "LLAMA2C_BAD_HEADER", /dim divisible by nHeads/);
    expectCode(() => readLlama2cConfig(new Uint8Array(new Int32Array([8, 12, 2, 2, 0, 10, 4]).buffer)),
      "LLAMA2C_BAD_HEADER", /nKvHeads to be a positive integer/);
    const v1 = new Uint8Array(256);
    new DataView(v1.buffer).setUint32(0, 0x616b3432, true);
    new DataView(v1.buffer).setInt32(4, 1, true);
    await expectCodeAsync(() => readLlama2c(v1), "LLAMA2C_UNSUPPORTED_VERSION", /found magic "ak42" version 1/);
  });

  it("detects other formats and hands them to their readers", async () => {
    const gguf = new TextEncoder().encode("GGUF\x03\0\0\0");
    expect(detectFormat(gguf)).toBe("gguf");
    await expect(modelFromBytes(gguf)).rejects.toThrow(/tensor_count/); // the GGUF reader: header truncated
    const safetensors = new Uint8Array([2, 0, 0, 0, 0, 0, 0, 0, 0x7b, 0x7d]);
    expect(detectFormat(safetensors)).toBe("safetensors");
    await expectCodeAsync(() => modelFromBytes(safetensors), "MISSING_METADATA", /config\.json/);
    expect(detectFormat(makeFile(header))).toBe("llama2c");
    const model = await modelFromBytes(makeFile(header));
    expect(model.config.dim).toBe(8);
  });
});
