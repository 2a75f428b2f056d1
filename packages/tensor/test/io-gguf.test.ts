import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  GgmlType, GgufError, GgufFile, ggufValue, serializeGguf, type GgufTensorInput, type GgufValue,
} from "../src/io/index";

// Written by tools/fixtures/make_gguf_fixture.py (struct + numpy, independent of this code) and
// accepted by tools/fixtures/gguf_check.py, which enforces ggml's loader rules.
const pythonBytes = new Uint8Array(readFileSync(new URL("./fixtures/gguf-python.gguf", import.meta.url)));
const expected = JSON.parse(readFileSync(new URL("./fixtures/gguf-python.json", import.meta.url), "utf8")) as Record<string, unknown>;

function expectGgufError(fn: () => unknown, code?: string): GgufError {
  try {
    fn();
  } catch (error) {
    if (!(error instanceof GgufError)) throw new Error(`expected a GgufError, got ${String(error)}`);
    if (code !== undefined) expect(error.code).toBe(code);
    return error;
  }
  throw new Error("expected a GgufError, nothing was thrown");
}

/** The same content as the Python fixture, spelled with this library's API. */
function pythonFixtureContent(): { metadata: [string, GgufValue][]; tensors: GgufTensorInput[] } {
  const f32 = (xs: number[]) => new Float32Array(xs);
  const metadata: [string, GgufValue][] = [
    ["general.architecture", ggufValue.string("zero-llm-test")],
    ["general.alignment", ggufValue.u32(64)],
    ["test.u8", ggufValue.u8(200)],
    ["test.i8", ggufValue.i8(-100)],
    ["test.u16", ggufValue.u16(60000)],
    ["test.i16", ggufValue.i16(-30000)],
    ["test.u32", ggufValue.u32(4000000000)],
    ["test.i32", ggufValue.i32(-2000000000)],
    ["test.f32", ggufValue.f32(3.14159)],
    ["test.bool", ggufValue.bool(true)],
    ["test.string", ggufValue.string("héllo wörld ✓ 🦙")],
    ["test.u64", ggufValue.u64(2n ** 64n - 59n)],
    ["test.i64", ggufValue.i64(-(2n ** 62n) - 3n)],
    ["test.f64", ggufValue.f64(2.718281828459045)],
    ["test.arr.u8", ggufValue.array("u8", new Uint8Array([1, 2, 255]))],
    ["test.arr.i8", ggufValue.array("i8", new Int8Array([-128, 0, 127]))],
    ["test.arr.u16", ggufValue.array("u16", new Uint16Array([0, 65535]))],
    ["test.arr.i16", ggufValue.array("i16", new Int16Array([-32768, 32767]))],
    ["test.arr.u32", ggufValue.array("u32", new Uint32Array([0, 4294967295]))],
    ["test.arr.i32", ggufValue.array("i32", new Int32Array([-2147483648, 7, 2147483647]))],
    ["test.arr.f32", ggufValue.array("f32", f32([0.5, -1.25, 1e-5]))],
    ["test.arr.bool", ggufValue.array("bool", [true, false, true])],
    ["test.arr.string", ggufValue.array("string", ["a", "ü", "", "<0x0A>", "Ġthe"])],
    ["test.arr.u64", ggufValue.array("u64", new BigUint64Array([0n, 2n ** 64n - 1n]))],
    ["test.arr.i64", ggufValue.array("i64", new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n]))],
    ["test.arr.f64", ggufValue.array("f64", new Float64Array([1 / 3, -0]))],
    ["test.arr.empty", ggufValue.array("i32", new Int32Array(0))],
    ["test.arr.nested", ggufValue.array("array", [ggufValue.array("i32", new Int32Array([1, 2])), ggufValue.array("i32", new Int32Array([3]))])],
    ["test.arr.nested_strings", ggufValue.array("array", [ggufValue.array("string", ["x"]), ggufValue.array("string", ["y", "z"])])],
  ];
  const file = GgufFile.parse(pythonBytes);
  // Tensor payloads are taken from the Python file: the point is the container, not the quantizer.
  const tensors = file.tensors.map((t) => ({ name: t.name, type: t.type.id, dims: t.dims, data: file.tensorBytes(t.name) }));
  return { metadata, tensors };
}

describe("GGUF reader on a file written by an independent Python writer", () => {
  const file = GgufFile.parse(pythonBytes);

  it("reads the header, alignment and data offset", () => {
    expect(file.version).toBe(3);
    expect(file.alignment).toBe(64);
    expect(file.dataOffset).toBe(expected.dataOffset);
    expect(file.dataOffset % 64).toBe(0);
  });

  it("reads version 2 files (same layout as v3)", () => {
    const v2 = pythonBytes.slice();
    new DataView(v2.buffer).setUint32(4, 2, true);
    expect(GgufFile.parse(v2).version).toBe(2);
    expect(GgufFile.parse(v2).tensorToFloat32("f32.matrix")).toEqual(file.tensorToFloat32("f32.matrix"));
  });

  it("reads every metadata type with its original type tag", () => {
    expect(file.get("general.architecture")).toBe("zero-llm-test");
    expect(file.metadata.get("test.u8")).toEqual({ type: "u8", value: 200 });
    expect(file.metadata.get("test.i8")).toEqual({ type: "i8", value: -100 });
    expect(file.metadata.get("test.u16")).toEqual({ type: "u16", value: 60000 });
    expect(file.metadata.get("test.i16")).toEqual({ type: "i16", value: -30000 });
    expect(file.metadata.get("test.u32")).toEqual({ type: "u32", value: 4000000000 });
    expect(file.metadata.get("test.i32")).toEqual({ type: "i32", value: -2000000000 });
    expect(file.metadata.get("test.f32")).toEqual({ type: "f32", value: Math.fround(3.14159) });
    expect(file.metadata.get("test.bool")).toEqual({ type: "bool", value: true });
    expect(file.metadata.get("test.string")).toEqual({ type: "string", value: "héllo wörld ✓ 🦙" });
    expect(file.metadata.get("test.u64")).toEqual({ type: "u64", value: 2n ** 64n - 59n });
    expect(file.metadata.get("test.i64")).toEqual({ type: "i64", value: -(2n ** 62n) - 3n });
    expect(file.metadata.get("test.f64")).toEqual({ type: "f64", value: 2.718281828459045 });
    expect(file.get("test.arr.i32")).toEqual(new Int32Array([-2147483648, 7, 2147483647]));
    expect(file.get("test.arr.f32")).toEqual(new Float32Array([0.5, -1.25, 1e-5]));
    expect(file.get("test.arr.u64")).toEqual(new BigUint64Array([0n, 2n ** 64n - 1n]));
    expect(file.get("test.arr.bool")).toEqual([true, false, true]);
    expect(file.get("test.arr.string")).toEqual(["a", "ü", "", "<0x0A>", "Ġthe"]);
    expect(file.get("test.arr.empty")).toEqual(new Int32Array(0));
    expect(file.metadata.get("test.arr.nested")).toEqual(pythonFixtureContent().metadata.find(([k]) => k === "test.arr.nested")![1]);
    expect(file.get("test.arr.nested_strings")).toEqual([
      { type: "array", itemType: "string", value: ["x"] },
      { type: "array", itemType: "string", value: ["y", "z"] },
    ]);
    expect([...file.metadata.keys()]).toEqual(pythonFixtureContent().metadata.map(([k]) => k));
  });

  it("reads tensor infos: ggml dims, row-major shape, type, offsets", () => {
    const infos = expected.tensors as { name: string; dims: number[]; type: number; byteLength: number }[];
    expect(file.tensors.map((t) => [t.name, t.dims, t.type.id, t.byteLength])).toEqual(infos.map((t) => [t.name, t.dims, t.type, t.byteLength]));
    expect(file.tensorInfo("f32.matrix").shape).toEqual([3, 4]);
    for (const t of file.tensors) expect(t.offset % 64).toBe(0);
  });

  it("exposes raw bytes as views into the file buffer (no copy)", () => {
    const bytes = file.tensorBytes("i32.ids");
    expect(bytes.buffer).toBe(pythonBytes.buffer);
    expect(Array.from(new Int32Array(bytes.slice().buffer))).toEqual(expected["i32.ids"]);
  });

  it("converts F32, F16, BF16, Q8_0 and Q4_0 tensors to f32 exactly as the Python reference", () => {
    for (const name of ["f32.matrix", "f16.vector", "bf16.vector", "q8_0.weight", "q4_0.weight"]) {
      expect(Array.from(file.tensorToFloat32(name)), name).toEqual(expected[name]);
    }
    // Quantization error stays within half a step of each block's scale.
    const q8 = file.tensorToFloat32("q8_0.weight");
    const input = expected["q8_0.weight.input"] as number[];
    input.forEach((x, i) => expect(Math.abs(q8[i] - x)).toBeLessThan(0.03));
  });

  it("refuses a conversion it has no decoder for, naming the type", () => {
    const q4k = serializeGguf({ tensors: [{ name: "k", type: "Q4_K", dims: [256], data: new Uint8Array(144) }] });
    expect(expectGgufError(() => GgufFile.parse(q4k).tensorToFloat32("k"), "GGUF_UNSUPPORTED_CONVERSION").message).toContain("Q4_K");
    expectGgufError(() => file.tensorBytes("missing"), "GGUF_TENSOR_NOT_FOUND");
  });
});

describe("GGUF writer", () => {
  it("given the Python fixture's content, writes the same bytes as the Python writer", () => {
    const written = serializeGguf(pythonFixtureContent());
    expect(written.length).toBe(pythonBytes.length);
    expect(Buffer.from(written).equals(Buffer.from(pythonBytes))).toBe(true);
  });

  it("round-trips a file it read: metadata types and tensor bytes unchanged", () => {
    const file = GgufFile.parse(pythonBytes);
    const again = serializeGguf({
      metadata: file.metadata,
      tensors: file.tensors.map((t) => ({ name: t.name, type: t.type.name, dims: t.dims, data: file.tensorBytes(t.name) })),
    });
    expect(Buffer.from(again).equals(Buffer.from(pythonBytes))).toBe(true);
  });

  for (const alignment of [32, 64]) {
    it(`lays out F32 / F16 / Q8_0 tensors at alignment ${alignment} with zero padding`, () => {
      const q8 = new Uint8Array(34 * 2);
      q8.set([0x00, 0x3c], 0); // block 0: d = 1.0 (f16 0x3c00)
      q8.set([1, 255, 127, 128], 2); // 1, -1, 127, -128
      q8.set([0x00, 0x38], 34); // block 1: d = 0.5
      q8[36] = 3;
      const tensors: GgufTensorInput[] = [
        { name: "a", type: GgmlType.F32, shape: [3], data: new Float32Array([1, -2, 3.5]) },
        { name: "b", type: "F16", shape: [2, 3], data: new Uint16Array([0x3c00, 0xc000, 0, 0x8000, 0x7c00, 0x3555]) },
        { name: "c", type: GgmlType.Q8_0, dims: [64], data: q8 },
      ];
      const bytes = serializeGguf({ alignment, tensors, metadata: [["general.name", ggufValue.string("aligned")]] });
      const file = GgufFile.parse(bytes);
      expect(file.alignment).toBe(alignment);
      expect(file.get("general.alignment")).toBe(alignment === 32 ? undefined : alignment);
      expect(file.dataOffset % alignment).toBe(0);
      expect(file.tensors.map((t) => t.offset)).toEqual([0, alignment, 2 * alignment]);
      expect(bytes.length).toBe(file.dataOffset + 2 * alignment + Math.ceil(68 / alignment) * alignment);
      expect(bytes.subarray(file.dataOffset + 12, file.dataOffset + alignment).every((b) => b === 0)).toBe(true);
      expect(file.tensorInfo("b").dims).toEqual([3, 2]);
      expect(Array.from(file.tensorToFloat32("a"))).toEqual([1, -2, 3.5]);
      expect(Array.from(file.tensorToFloat32("b"))).toEqual([1, -2, 0, -0, Infinity, 0.333251953125]);
      const c = file.tensorToFloat32("c");
      expect([c[0], c[1], c[2], c[3], c[4], c[32], c[33]]).toEqual([1, -1, 127, -128, 0, 1.5, 0]);
    });
  }

  it("rejects values outside their type, bad names and data of the wrong size", () => {
    expectGgufError(() => serializeGguf({ metadata: [["x", ggufValue.u8(256)]] }), "GGUF_BAD_INPUT");
    expectGgufError(() => serializeGguf({ metadata: [["x", ggufValue.i32(1.5)]] }), "GGUF_BAD_INPUT");
    expectGgufError(() => serializeGguf({ metadata: [["x", ggufValue.u64(-1n)]] }), "GGUF_BAD_INPUT");
    expectGgufError(() => serializeGguf({ metadata: [["x", ggufValue.array("f32", new Float64Array(1) as unknown as Float32Array)]] }), "GGUF_BAD_INPUT");
    expectGgufError(() => serializeGguf({ metadata: [["x", ggufValue.u8(1)], ["x", ggufValue.u8(2)]] }), "GGUF_BAD_INPUT");
    expectGgufError(() => serializeGguf({ alignment: 48 }), "GGUF_BAD_ALIGNMENT");
    expectGgufError(() => serializeGguf({ alignment: 64, metadata: [["general.alignment", ggufValue.u32(32)]] }), "GGUF_BAD_INPUT");
    expectGgufError(() => serializeGguf({ tensors: [{ name: "n".repeat(64), type: "F32", dims: [1], data: new Float32Array(1) }] }), "GGUF_BAD_INPUT");
    expectGgufError(() => serializeGguf({ tensors: [{ name: "t", type: "F32", dims: [3], data: new Float32Array(2) }] }), "GGUF_BAD_INPUT");
    expectGgufError(() => serializeGguf({ tensors: [{ name: "t", type: "Q8_0", dims: [16], data: new Uint8Array(17) }] }), "GGUF_BAD_TENSOR_INFO");
    expectGgufError(() => serializeGguf({ tensors: [{ name: "t", type: "Q9_9", dims: [1], data: new Uint8Array(1) }] }), "GGUF_UNKNOWN_GGML_TYPE");
    expectGgufError(() => serializeGguf({ tensors: [{ name: "t", type: "F32", dims: [1, 1, 1, 1, 1], data: new Float32Array(1) }] }), "GGUF_BAD_INPUT");
  });
});
