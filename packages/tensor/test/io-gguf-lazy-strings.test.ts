import { existsSync, readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { GgufFile, GgufReader, GgufStringArray, bytesSource, ggufStringArrayOf, ggufValue, serializeGguf, type GgufValue } from "../src/io/index";

// String arrays in GGUF metadata (a vocabulary's tokens and merges) are held as their UTF-8
// bytes and decoded on first access: loading a model's weights must not pay for 32,000+ JS
// strings. These tests show that nothing is decoded until asked, and that what is decoded is the
// file's strings exactly.

const here = path.dirname(fileURLToPath(import.meta.url));
const vocabDir = path.resolve(here, "../../..", "../shared/fixtures/ggml-vocab");
const vocabNames = existsSync(vocabDir) ? readdirSync(vocabDir).filter((n) => n.endsWith(".gguf")).sort() : [];

const stringArrays = (metadata: ReadonlyMap<string, GgufValue>): [string, GgufStringArray][] =>
  [...metadata].flatMap(([key, entry]) => {
    const strings = ggufStringArrayOf(entry);
    return strings === undefined ? [] : [[key, strings] as [string, GgufStringArray]];
  });

// toEqual walks a typed array element by element: megabytes of vocabulary take seconds.
const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => Buffer.compare(a, b) === 0;

const small = (): Uint8Array =>
  serializeGguf({
    metadata: [
      ["general.architecture", ggufValue.string("llama")],
      ["tokenizer.ggml.tokens", ggufValue.array("string", ["<unk>", "▁the", "", "héllo 🦙", "\uFEFF"])],
      ["tokenizer.ggml.scores", ggufValue.array("f32", new Float32Array([0, -1, -2, -3, -4]))],
    ],
  });

describe("GGUF string arrays are decoded on first access", () => {
  it("parsing leaves them undecoded; get(i) decodes one item without decoding the array", () => {
    const file = GgufFile.parse(small());
    const strings = file.stringArray("tokenizer.ggml.tokens");
    expect(strings).toBeInstanceOf(GgufStringArray);
    expect(strings?.materialized).toBe(false);
    expect(strings?.length).toBe(5);
    expect(strings?.get(1)).toBe("▁the");
    expect(strings?.get(3)).toBe("héllo 🦙");
    expect(strings?.get(4)).toBe("\uFEFF");
    expect(Array.from(strings?.bytesOf(1) ?? [])).toEqual(Array.from(new TextEncoder().encode("▁the")));
    expect(strings?.materialized).toBe(false);
    expect(() => strings?.get(5)).toThrow(RangeError);
    // not a string array: no compact form
    expect(file.stringArray("tokenizer.ggml.scores")).toBeUndefined();
    expect(file.stringArray("general.architecture")).toBeUndefined();
    expect(file.stringArray("absent")).toBeUndefined();
  });

  it("the first access of value decodes once; the entry equals a plain one", () => {
    const file = GgufFile.parse(small());
    const entry = file.metadata.get("tokenizer.ggml.tokens");
    const tokens = file.get("tokenizer.ggml.tokens");
    expect(tokens).toEqual(["<unk>", "▁the", "", "héllo 🦙", "\uFEFF"]);
    expect(file.stringArray("tokenizer.ggml.tokens")?.materialized).toBe(true);
    expect(file.get("tokenizer.ggml.tokens")).toBe(tokens); // the same array, not a second decoding
    expect(entry).toEqual({ type: "array", itemType: "string", value: ["<unk>", "▁the", "", "héllo 🦙", "\uFEFF"] });
    expect(JSON.parse(JSON.stringify(entry))).toEqual({ type: "array", itemType: "string", value: ["<unk>", "▁the", "", "héllo 🦙", "\uFEFF"] });
  });

  it("a lazy reader copies the strings out of its header buffer (the prefix can be collected)", async () => {
    const bytes = small();
    const reader = await GgufReader.open(bytesSource(bytes, "small.gguf"), { initialRead: 16 }); // grows the prefix: re-parses
    const strings = reader.stringArray("tokenizer.ggml.tokens");
    expect(strings?.materialized).toBe(false);
    expect(strings?.bytes.buffer.byteLength).toBe(strings?.bytes.length);
    expect(strings?.bytes.buffer).not.toBe(bytes.buffer);
    expect(reader.get("tokenizer.ggml.tokens")).toEqual(["<unk>", "▁the", "", "héllo 🦙", "\uFEFF"]);
  });

  it("a decoded array is written as edited; an undecoded one as its bytes", () => {
    const file = GgufFile.parse(small());
    expect(serializeGguf({ metadata: file.metadata })).toEqual(small());
    (file.get("tokenizer.ggml.tokens") as string[])[1] = "▁a";
    const edited = GgufFile.parse(serializeGguf({ metadata: file.metadata }));
    expect((edited.get("tokenizer.ggml.tokens") as string[])[1]).toBe("▁a");
  });

  it("invalid UTF-8 decodes to U+FFFD as before, and an undecoded array writes back its bytes unchanged", () => {
    const bytes = small();
    const at = Buffer.from(bytes).indexOf(Buffer.from("héllo"));
    bytes[at + 1] = 0xff; // "h\xff\xa9llo": an invalid lead byte and a stray continuation
    const file = GgufFile.parse(bytes);
    expect(serializeGguf({ metadata: file.metadata })).toEqual(bytes);
    expect(file.stringArray("tokenizer.ggml.tokens")?.get(3)).toBe("h\uFFFD\uFFFDllo 🦙");
    expect((file.get("tokenizer.ggml.tokens") as string[])[3]).toBe("h\uFFFD\uFFFDllo 🦙");
  });
});

// llama.cpp's vocabulary files: every string array, held compactly, is the file's bytes exactly
// (written back undecoded, the metadata is byte-identical), and decoded, the file's strings
// exactly (written back through TextEncoder, byte-identical again).
describe.skipIf(vocabNames.length === 0)("string arrays of the llama.cpp vocabulary files (../shared/fixtures/ggml-vocab; skipped where absent)", () => {
  it.each(vocabNames)("%s", (name) => {
    const bytes = new Uint8Array(readFileSync(path.join(vocabDir, name)));
    const file = GgufFile.parse(bytes);
    const arrays = stringArrays(file.metadata);
    expect(arrays.map(([key]) => key)).toContain("tokenizer.ggml.tokens");
    for (const [key, strings] of arrays) expect(strings.materialized, key).toBe(false);

    const undecoded = serializeGguf({ metadata: file.metadata, alignment: file.alignment });
    expect(sameBytes(undecoded.subarray(0, bytes.length), bytes), "written back undecoded").toBe(true);
    for (const [key, strings] of arrays) expect(strings.materialized, key).toBe(false);

    const utf8 = new TextDecoder("utf-8", { ignoreBOM: true });
    for (const [key, strings] of arrays) {
      const items = file.get(key) as string[];
      expect(items.length, key).toBe(strings.length);
      for (let i = 0; i < items.length; i++) {
        if (items[i] !== utf8.decode(strings.bytesOf(i))) expect(items[i], `${key}[${i}]`).toBe(utf8.decode(strings.bytesOf(i)));
      }
    }
    const decoded = serializeGguf({ metadata: file.metadata, alignment: file.alignment });
    expect(sameBytes(decoded.subarray(0, bytes.length), bytes), "written back decoded").toBe(true);
  });
});
