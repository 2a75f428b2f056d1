import { describe, expect, it } from "vitest";
import { GgufReader, bytesSource, ggufValue, parseGgufHeader, serializeGguf, type ByteSource, type GgufValue } from "../src/io/index";

// GgufReader.open parses the header from one buffer that grows in place (each byte of the file
// read once, however often the prefix grows) and is released when the header is parsed: what the
// reader keeps are copies, so they stay intact after the buffer's pages are handed back.

const metadata = (): [string, GgufValue][] => [
  ["general.architecture", ggufValue.string("llama")],
  ["tokenizer.ggml.tokens", ggufValue.array("string", Array.from({ length: 300 }, (_, i) => `tok${i}é`))],
  ["tokenizer.ggml.scores", ggufValue.array("f32", Float32Array.from({ length: 300 }, (_, i) => -i / 4))],
  ["tokenizer.ggml.token_type", ggufValue.array("i32", Int32Array.from({ length: 300 }, (_, i) => i % 3))],
  ["general.flags", ggufValue.array("u8", Uint8Array.from([1, 2, 3]))],
  ["llama.context_length", ggufValue.u32(64)],
];
const file = (): Uint8Array =>
  serializeGguf({ metadata: metadata(), tensors: [{ name: "w", type: "F32", shape: [2, 4], data: new Float32Array([1, 2, 3, 4, 5, 6, 7, 8]) }] });

/** bytesSource that counts the bytes read at each offset. */
function counting(bytes: Uint8Array): { source: ByteSource; reads: Uint32Array } {
  const inner = bytesSource(bytes, "t.gguf");
  const reads = new Uint32Array(bytes.length);
  return {
    reads,
    source: {
      name: inner.name,
      size: inner.size,
      async read(offset, target) {
        for (let i = 0; i < target.length; i++) reads[offset + i]++;
        await inner.read(offset, target);
      },
      close: () => inner.close(),
    },
  };
}

describe("GgufReader.open's header buffer", () => {
  it.each([16, 100, 1000, 1 << 20])("initialRead %i: every header byte read once, the metadata equal to a parse of the whole file", async (initialRead) => {
    const bytes = file();
    const { source, reads } = counting(bytes);
    const reader = await GgufReader.open(source, { initialRead });
    const whole = parseGgufHeader(bytes);
    expect(reader.dataOffset).toBe(whole.dataOffset);
    expect(Math.max(...reads)).toBe(1);
    expect(reads.subarray(0, whole.dataOffset).every((n) => n === 1)).toBe(true);
    for (const [key, value] of whole.metadata) expect(reader.metadata.get(key)).toEqual(value);
    expect(reader.tensors).toEqual(whole.tensors);
    expect(Array.from(await reader.readTensorFloat32("w"))).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it("an error while parsing still leaves nothing read twice, and names the problem", async () => {
    const bytes = file();
    bytes[0] = 0x00; // the magic
    const { source, reads } = counting(bytes);
    await expect(GgufReader.open(source, { initialRead: 16 })).rejects.toMatchObject({ code: "GGUF_BAD_MAGIC" });
    expect(Math.max(...reads)).toBe(1);
  });
});
