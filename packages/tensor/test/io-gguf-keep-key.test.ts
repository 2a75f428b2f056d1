import { describe, expect, it } from "vitest";
import { GgufReader, bytesSource, ggufValue, parseGgufHeader, serializeGguf, type GgufError, type GgufValue } from "../src/io/index";

// parseGgufHeader's keepKey: a caller that builds only a model skips the tokenizer's arrays (most
// of a header). Skipped keys are read with the same checks as kept ones, and nothing else changes.

const metadata = (): [string, GgufValue][] => [
  ["general.architecture", ggufValue.string("llama")],
  ["llama.block_count", ggufValue.u32(2)],
  ["tokenizer.ggml.model", ggufValue.string("llama")],
  ["tokenizer.ggml.tokens", ggufValue.array("string", ["<unk>", "▁the", "", "héllo 🦙"])],
  ["tokenizer.ggml.scores", ggufValue.array("f32", new Float32Array([0, -1, -2, -3]))],
  ["tokenizer.nested", ggufValue.array("array", [ggufValue.array("string", ["a", "bc"]), ggufValue.array("u8", new Uint8Array([1, 2]))])],
  ["llama.context_length", ggufValue.u32(64)],
];
const file = (): Uint8Array =>
  serializeGguf({ metadata: metadata(), tensors: [{ name: "w", type: "F32", shape: [2, 4], data: new Float32Array([1, 2, 3, 4, 5, 6, 7, 8]) }] });
const notTokenizer = (key: string): boolean => !key.startsWith("tokenizer.");

function codeOf(run: () => unknown): string | undefined {
  try {
    run();
  } catch (e) {
    return (e as GgufError).code;
  }
  return undefined;
}

describe("parseGgufHeader keepKey", () => {
  it("keeps the chosen keys, exactly as a full parse reads them, and the same tensors", () => {
    const bytes = file();
    const full = parseGgufHeader(bytes);
    const model = parseGgufHeader(bytes, bytes.length, { keepKey: notTokenizer });
    expect([...model.metadata.keys()]).toEqual(["general.architecture", "llama.block_count", "llama.context_length"]);
    for (const [key, value] of model.metadata) expect(value).toEqual(full.metadata.get(key));
    expect(model.tensors).toEqual(full.tensors);
    expect(model.dataOffset).toBe(full.dataOffset);
  });

  it("a lazy reader takes it too (the prefix grown and re-parsed as before)", async () => {
    const reader = await GgufReader.open(bytesSource(file(), "t.gguf"), { initialRead: 16, keepKey: notTokenizer });
    expect(reader.get("tokenizer.ggml.tokens")).toBeUndefined();
    expect(reader.get("llama.context_length")).toBe(64);
    expect(Array.from(await reader.readTensorFloat32("w"))).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it("a skipped key is checked as a kept one: truncation, a bad item type, a duplicate", () => {
    const bytes = file();
    const tokens = new TextEncoder().encode("tokenizer.ggml.tokens");
    const at = bytes.findIndex((_, i) => tokens.every((b, j) => bytes[i + j] === b)) + tokens.length; // its value type
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const options = { keepKey: notTokenizer };

    const longString = bytes.slice();
    new DataView(longString.buffer).setUint32(at + 4 + 4 + 8, 1e6, true); // the first token's length
    expect(codeOf(() => parseGgufHeader(longString, longString.length, options))).toBe("GGUF_TRUNCATED");

    const badItem = bytes.slice();
    new DataView(badItem.buffer).setUint32(at + 4, 99, true); // the array's item type
    expect(codeOf(() => parseGgufHeader(badItem, badItem.length, options))).toBe("GGUF_BAD_VALUE_TYPE");

    expect(view.getUint32(at, true)).toBe(9); // an array
    // the writer refuses a duplicate: write a near twin, then rename it in the bytes
    const twice = serializeGguf({ metadata: [...metadata(), ["tokenizer.ggml.tokenz", ggufValue.array("string", ["x"])]] });
    const twin = new TextEncoder().encode("tokenizer.ggml.tokenz");
    twice[twice.findIndex((_, i) => twin.every((b, j) => twice[i + j] === b)) + twin.length - 1] = "s".charCodeAt(0);
    expect(codeOf(() => parseGgufHeader(twice, twice.length, options))).toBe("GGUF_DUPLICATE_KEY");
    expect(codeOf(() => parseGgufHeader(twice))).toBe("GGUF_DUPLICATE_KEY");
  });
});
