import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { GgufError, GgufFile, ggufValue, parseGgufHeader, serializeGguf } from "../src/io/index";

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, "../../..");
const vocabDir = path.resolve(repoRoot, "../shared/fixtures/ggml-vocab");
const pythonBytes = new Uint8Array(readFileSync(path.join(here, "fixtures/gguf-python.gguf")));

function gguf(fn: () => unknown): GgufError {
  try {
    fn();
  } catch (error) {
    if (error instanceof GgufError) return error;
    throw new Error(`expected a GgufError, got ${String(error)}`, { cause: error });
  }
  throw new Error("expected a GgufError, nothing was thrown");
}

function indexOfAscii(bytes: Uint8Array, text: string): number {
  const needle = new TextEncoder().encode(text);
  outer: for (let i = 0; i + needle.length <= bytes.length; i++) {
    for (let j = 0; j < needle.length; j++) if (bytes[i + j] !== needle[j]) continue outer;
    return i;
  }
  throw new Error(`"${text}" not found`);
}

const setU32 = (b: Uint8Array, at: number, v: number) => new DataView(b.buffer, b.byteOffset).setUint32(at, v, true);
const setU64 = (b: Uint8Array, at: number, v: bigint) => new DataView(b.buffer, b.byteOffset).setBigUint64(at, v, true);

/** Two small tensors and a string kv: every field below is patched at an offset found by name. */
function sample(): Uint8Array {
  return serializeGguf({
    metadata: [["general.name", ggufValue.string("x")], ["ids", ggufValue.array("i32", new Int32Array([1, 2, 3]))]],
    tensors: [
      { name: "tensor.a", type: "F32", dims: [4], data: new Float32Array(4) },
      { name: "tensor.b", type: "F32", dims: [4], data: new Float32Array(4) },
    ],
  });
}
// tensor info: | name len: u64 | name | n_dims: u32 | dims | type: u32 | offset: u64 |
const infoOf = (b: Uint8Array, name: string) => {
  const nameAt = indexOfAscii(b, name);
  const nDimsAt = nameAt + name.length;
  return { nDimsAt, typeAt: nDimsAt + 4 + 8, offsetAt: nDimsAt + 4 + 8 + 4 };
};

describe("GGUF reader on corrupt input: typed errors only, never a crash or a huge allocation", () => {
  it("throws a GgufError for every truncated prefix of a valid file", () => {
    const whole = GgufFile.parse(pythonBytes);
    const last = whole.tensors[whole.tensors.length - 1];
    const dataEnd = last.fileOffset + last.byteLength;
    for (let n = 0; n < dataEnd; n++) {
      const error = gguf(() => GgufFile.parse(pythonBytes.slice(0, n)));
      expect(["GGUF_TRUNCATED", "GGUF_BAD_MAGIC", "GGUF_TENSOR_OUT_OF_RANGE"]).toContain(error.code);
    }
    // Only the zero padding after the last tensor may be missing (the reader does not need it).
    for (let n = dataEnd; n <= pythonBytes.length; n++) expect(GgufFile.parse(pythonBytes.slice(0, n)).tensors.length).toBe(6);
  });

  it("throws nothing but GgufError under 3000 random byte corruptions", () => {
    let state = 12345;
    const random = () => ((state = (Math.imul(state, 1103515245) + 12345) >>> 0) / 2 ** 32);
    const codes = new Set<string>();
    for (let trial = 0; trial < 3000; trial++) {
      const bytes = pythonBytes.slice();
      const flips = 1 + Math.floor(random() * 4);
      for (let f = 0; f < flips; f++) bytes[Math.floor(random() * 900)] = Math.floor(random() * 256);
      try {
        GgufFile.parse(bytes);
      } catch (error) {
        if (!(error instanceof GgufError)) throw new Error(`trial ${trial}: ${String(error)}`);
        codes.add(error.code);
      }
    }
    expect(codes.size).toBeGreaterThan(3);
  });

  it("rejects a bad magic, version 1, unknown versions and big-endian files", () => {
    const bad = sample();
    bad[0] = 0x46;
    expect(gguf(() => GgufFile.parse(bad)).code).toBe("GGUF_BAD_MAGIC");
    const v1 = sample();
    setU32(v1, 4, 1);
    expect(gguf(() => GgufFile.parse(v1))).toMatchObject({ code: "GGUF_UNSUPPORTED_VERSION", message: expect.stringContaining("version 1") });
    const v4 = sample();
    setU32(v4, 4, 4);
    expect(gguf(() => GgufFile.parse(v4)).code).toBe("GGUF_UNSUPPORTED_VERSION");
    const bigEndian = sample();
    bigEndian.set([0, 0, 0, 3], 4);
    expect(gguf(() => GgufFile.parse(bigEndian)).code).toBe("GGUF_BIG_ENDIAN");
  });

  it("turns a 2^60 string length or array count into GGUF_TRUNCATED before allocating", () => {
    const longString = sample();
    setU64(longString, 24, 2n ** 60n); // the first key's length
    expect(gguf(() => GgufFile.parse(longString)).code).toBe("GGUF_TRUNCATED");
    const manyItems = sample();
    setU64(manyItems, indexOfAscii(manyItems, "ids") + 3 + 4 + 4, 2n ** 60n); // | key | type | item type | count |
    expect(gguf(() => GgufFile.parse(manyItems)).code).toBe("GGUF_TRUNCATED");
    const manyTensors = sample();
    setU64(manyTensors, 8, 2n ** 40n);
    expect(gguf(() => GgufFile.parse(manyTensors)).code).toBe("GGUF_TRUNCATED");
  });

  it("rejects bad value types, duplicate keys and bad alignments", () => {
    const badType = sample();
    setU32(badType, indexOfAscii(badType, "general.name") + 12, 13);
    expect(gguf(() => GgufFile.parse(badType)).code).toBe("GGUF_BAD_VALUE_TYPE");
    const duplicate = serializeGguf({ metadata: [["k1", ggufValue.u8(1)], ["k2", ggufValue.u8(2)]] });
    duplicate[indexOfAscii(duplicate, "k2") + 1] = "1".charCodeAt(0);
    expect(gguf(() => GgufFile.parse(duplicate)).code).toBe("GGUF_DUPLICATE_KEY");
    const alignment = serializeGguf({ alignment: 64 });
    setU32(alignment, indexOfAscii(alignment, "general.alignment") + 17 + 4, 48);
    expect(gguf(() => GgufFile.parse(alignment)).code).toBe("GGUF_BAD_ALIGNMENT");
    const wrongType = serializeGguf({ alignment: 64 });
    setU32(wrongType, indexOfAscii(wrongType, "general.alignment") + 17, 5); // i32 instead of u32
    expect(gguf(() => GgufFile.parse(wrongType)).code).toBe("GGUF_BAD_ALIGNMENT");
  });

  it("rejects arrays nested deeper than any real file, without exhausting the stack", () => {
    // | "deep" kv | type array | then 100 × (item type array, count 1) |
    const depth = 100;
    const head = serializeGguf({ metadata: [["deep", ggufValue.u8(0)]] }).slice(0, 24 + 8 + 4);
    const body = new Uint8Array(4 + depth * 12 + 16);
    setU32(body, 0, 9);
    for (let i = 0; i < depth; i++) {
      setU32(body, 4 + i * 12, 9);
      setU64(body, 8 + i * 12, 1n);
    }
    const bytes = new Uint8Array(head.length + body.length);
    bytes.set(head);
    bytes.set(body, head.length);
    expect(gguf(() => GgufFile.parse(bytes)).code).toBe("GGUF_BAD_VALUE_TYPE");
  });

  it("rejects bad tensor infos: n_dims, ggml type, offsets, overlap, data past the end, duplicates", () => {
    const dims = sample();
    setU32(dims, infoOf(dims, "tensor.a").nDimsAt, 5);
    expect(gguf(() => GgufFile.parse(dims)).code).toBe("GGUF_BAD_TENSOR_INFO");
    const type = sample();
    setU32(type, infoOf(type, "tensor.a").typeAt, 99);
    expect(gguf(() => GgufFile.parse(type)).code).toBe("GGUF_UNKNOWN_GGML_TYPE");
    const blocks = sample();
    setU32(blocks, infoOf(blocks, "tensor.a").typeAt, 8); // Q8_0 needs ne[0] % 32 == 0
    expect(gguf(() => GgufFile.parse(blocks)).code).toBe("GGUF_BAD_TENSOR_INFO");
    const misaligned = sample();
    setU64(misaligned, infoOf(misaligned, "tensor.b").offsetAt, 8n);
    expect(gguf(() => GgufFile.parse(misaligned)).code).toBe("GGUF_BAD_TENSOR_OFFSET");
    const overlap = sample();
    setU64(overlap, infoOf(overlap, "tensor.b").offsetAt, 0n);
    expect(gguf(() => GgufFile.parse(overlap)).code).toBe("GGUF_TENSOR_OVERLAP");
    const past = sample();
    setU64(past, infoOf(past, "tensor.b").offsetAt, 2n ** 20n);
    expect(gguf(() => GgufFile.parse(past)).code).toBe("GGUF_TENSOR_OUT_OF_RANGE");
    const duplicate = sample();
    duplicate[indexOfAscii(duplicate, "tensor.b") + 7] = "a".charCodeAt(0);
    expect(gguf(() => GgufFile.parse(duplicate)).code).toBe("GGUF_DUPLICATE_TENSOR");
  });

  it("asks for more bytes when given a prefix of a longer file, then parses", () => {
    let prefix = 16;
    let rounds = 0;
    for (;;) {
      try {
        const header = parseGgufHeader(pythonBytes.subarray(0, prefix), pythonBytes.length);
        expect(header.tensors.length).toBe(6);
        break;
      } catch (error) {
        if (!(error instanceof GgufError) || error.code !== "GGUF_NEED_MORE_BYTES") throw error;
        expect(error.needed).toBeGreaterThan(prefix);
        prefix = error.needed!;
        rounds++;
      }
    }
    expect(rounds).toBeGreaterThan(10);
  });
});

// llama.cpp's vocabulary-only GGUF files (../shared/fixtures/ggml-vocab), byte-identical to
// llama.cpp's models/ copies: each must read completely, with known values.
describe.skipIf(!existsSync(vocabDir))("GGUF reader on llama.cpp vocabulary files (../shared/fixtures/ggml-vocab; skipped where absent)", () => {
  const read = (name: string): GgufFile => GgufFile.parse(new Uint8Array(readFileSync(path.join(vocabDir, name))));

  it("ggml-vocab-gpt-2.gguf: model gpt2, 50257 tokens, 50000 merges, known ids", () => {
    const file = read("ggml-vocab-gpt-2.gguf");
    expect(file.get("tokenizer.ggml.model")).toBe("gpt2");
    const tokens = file.get("tokenizer.ggml.tokens") as string[];
    expect(tokens.length).toBe(50257);
    expect(tokens[0]).toBe("!");
    expect(tokens[262]).toBe("Ġthe");
    expect(tokens[50256]).toBe("<|endoftext|>");
    expect((file.get("tokenizer.ggml.merges") as string[]).length).toBe(50000);
    expect((file.get("tokenizer.ggml.merges") as string[])[0]).toBe("Ġ t");
    expect(file.get("tokenizer.ggml.eos_token_id")).toBe(50256);
  });

  it("ggml-vocab-llama-spm.gguf: f32 scores and i32 token types for 32000 tokens", () => {
    const file = read("ggml-vocab-llama-spm.gguf");
    expect(file.get("tokenizer.ggml.model")).toBe("llama");
    const tokens = file.get("tokenizer.ggml.tokens") as string[];
    expect(tokens.slice(0, 4)).toEqual(["<unk>", "<s>", "</s>", "<0x00>"]);
    const scores = file.get("tokenizer.ggml.scores");
    const types = file.get("tokenizer.ggml.token_type");
    expect(scores).toBeInstanceOf(Float32Array);
    expect(types).toBeInstanceOf(Int32Array);
    expect((scores as Float32Array).length).toBe(32000);
    expect(Array.from((types as Int32Array).subarray(0, 4))).toEqual([2, 3, 3, 6]); // unknown, control, control, byte
  });

  it("every vocabulary file reads, with its metadata ending at the last byte of the file", async () => {
    const { readdirSync } = await import("node:fs");
    const names = readdirSync(vocabDir).filter((n) => n.endsWith(".gguf"));
    expect(names.length).toBe(12);
    for (const name of names) {
      const file = read(name);
      const size = readFileSync(path.join(vocabDir, name)).length;
      // No tensors: the data section starts at the first aligned offset at or after the metadata.
      expect(file.tensors, name).toHaveLength(0);
      expect(file.dataOffset - size, name).toBeGreaterThanOrEqual(0);
      expect(file.dataOffset - size, name).toBeLessThan(file.alignment);
    }
  });
});
