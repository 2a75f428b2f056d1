// GGUF files written by @zero-llm/tensor, read back by an independent parser: node-llama-cpp's
// readGgufFileInfo (pure JavaScript, no llama.cpp binary involved; a devDependency here). Every
// metadata value type, arrays of each item type (nested and empty included), and tensors of
// F32/F16/BF16/Q8_0/Q4_0 with 1 to 4 dims, at the default and a larger alignment. Its metadata,
// tensor infos and data offset must be ours, and the bytes at its offsets our tensor bytes.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import {
  GgufFile, f32ArrayToBf16, f32ArrayToF16, ggufValue,
  type GgufArray, type GgufTensorInput, type GgufValue,
} from "@zero-llm/tensor";
import { writeGgufFile } from "@zero-llm/tensor/node";
import { readGgufFileInfo } from "node-llama-cpp";
import { afterAll, describe, expect, it } from "vitest";

const dir = mkdtempSync(path.join(os.tmpdir(), "zllm-gguf-external-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Seeded bytes, so quant blocks have arbitrary but reproducible content. */
function bytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let s = seed;
  for (let i = 0; i < length; i++) out[i] = (s = (Math.imul(s, 1103515245) + 12345) >>> 0) >>> 24;
  return out;
}
const floats = (n: number, seed: number): Float32Array => Float32Array.from({ length: n }, (_, i) => Math.sin(seed + i) * 3);

// No key is a prefix of another at a dot: node-llama-cpp nests "a.b.c" as { a: { b: { c } } }.
const metadata: Array<[string, GgufValue]> = [
  ["general.architecture", ggufValue.string("llama")],
  ["general.name", ggufValue.string("external-reader check ✓ 🦙")],
  ["test.scalar.u8", ggufValue.u8(255)],
  ["test.scalar.i8", ggufValue.i8(-128)],
  ["test.scalar.u16", ggufValue.u16(65535)],
  ["test.scalar.i16", ggufValue.i16(-32768)],
  ["test.scalar.u32", ggufValue.u32(4294967295)],
  ["test.scalar.i32", ggufValue.i32(-2147483648)],
  ["test.scalar.f32", ggufValue.f32(-1.5e-7)],
  ["test.scalar.bool_true", ggufValue.bool(true)],
  ["test.scalar.bool_false", ggufValue.bool(false)],
  ["test.scalar.string", ggufValue.string("tab\tnewline\nnul-free ü")],
  ["test.scalar.string_empty", ggufValue.string("")],
  ["test.scalar.u64", ggufValue.u64(2n ** 64n - 1n)],
  ["test.scalar.i64", ggufValue.i64(-(2n ** 63n))],
  ["test.scalar.f64", ggufValue.f64(-1 / 3)],
  ["test.array.u8", ggufValue.array("u8", new Uint8Array([0, 1, 255]))],
  ["test.array.i8", ggufValue.array("i8", new Int8Array([-128, 0, 127]))],
  ["test.array.u16", ggufValue.array("u16", new Uint16Array([0, 65535]))],
  ["test.array.i16", ggufValue.array("i16", new Int16Array([-32768, 32767]))],
  ["test.array.u32", ggufValue.array("u32", new Uint32Array([0, 4294967295]))],
  ["test.array.i32", ggufValue.array("i32", new Int32Array([-2147483648, 7, 2147483647]))],
  ["test.array.f32", ggufValue.array("f32", new Float32Array([0.5, -1.25, 3e38]))],
  ["test.array.bool", ggufValue.array("bool", [true, false, true])],
  ["test.array.string", ggufValue.array("string", ["<unk>", "Ġthe", "", "▁ü"])],
  ["test.array.u64", ggufValue.array("u64", new BigUint64Array([0n, 2n ** 64n - 1n]))],
  ["test.array.i64", ggufValue.array("i64", new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n]))],
  ["test.array.f64", ggufValue.array("f64", new Float64Array([1 / 3, -1e300]))],
  ["test.array.empty", ggufValue.array("i32", new Int32Array(0))],
  ["test.array.nested", ggufValue.array("array", [ggufValue.array("i32", new Int32Array([1, 2])), ggufValue.array("i32", new Int32Array([3]))])],
  ["test.array.nested_strings", ggufValue.array("array", [ggufValue.array("string", ["x"]), ggufValue.array("string", ["y", "z"])])],
];

const tensors: GgufTensorInput[] = [
  { name: "token_embd.weight", type: "F32", shape: [3, 5], data: floats(15, 1) },
  { name: "blk.0.attn_norm.weight", type: "F32", shape: [7], data: floats(7, 2) },
  { name: "blk.0.attn_q.weight", type: "F16", shape: [2, 3, 4], data: f32ArrayToF16(floats(24, 3)) },
  { name: "blk.0.ffn_up.weight", type: "BF16", shape: [2, 1, 3, 2], data: f32ArrayToBf16(floats(12, 4)) },
  { name: "blk.0.ffn_down.weight", type: "Q8_0", shape: [3, 64], data: bytes(3 * 2 * 34, 5) },
  { name: "output.weight", type: "Q4_0", shape: [2, 96], data: bytes(2 * 3 * 18, 6) },
];

/** Our value as a plain JS value the way node-llama-cpp presents it (arrays as arrays, bigint for 64-bit ints). */
function plain(value: GgufValue): unknown {
  if (value.type !== "array") return value.type === "f32" ? Math.fround(value.value) : value.value;
  const items = value.value;
  if (value.itemType === "array") return (items as GgufArray[]).map(plain);
  return Array.from(items as ArrayLike<unknown>, (item) => (value.itemType === "f32" ? Math.fround(item as number) : item));
}

function lookup(tree: unknown, key: string): unknown {
  return key.split(".").reduce<unknown>((node, part) => (node as Record<string, unknown> | undefined)?.[part], tree);
}

describe("node-llama-cpp reads the GGUF files @zero-llm/tensor writes", () => {
  it.each([32, 64])("alignment %i: metadata, tensor infos, data offset and tensor bytes agree", async (alignment) => {
    const file = path.join(dir, `all-types-${alignment}.gguf`);
    await writeGgufFile(file, { alignment, metadata, tensors });
    const ours = GgufFile.parse(readFileSync(file));
    const theirs = await readGgufFileInfo(file, { sourceType: "filesystem", logWarnings: false });

    expect(theirs.version).toBe(3);
    expect(Number(theirs.tensorCount)).toBe(tensors.length);
    expect(theirs.infoEndOffset).toBe(ours.dataOffset);
    const written = alignment === 32 ? metadata : [...metadata, ["general.alignment", ggufValue.u32(alignment)] as [string, GgufValue]];
    expect(ours.metadata.size).toBe(written.length);
    for (const [key, value] of written) expect(lookup(theirs.metadata, key), key).toEqual(plain(value));

    const infos = theirs.tensorInfo ?? [];
    expect(infos.map((t) => t.name)).toEqual(tensors.map((t) => t.name));
    const whole = readFileSync(file);
    for (const [i, info] of infos.entries()) {
      const mine = ours.tensorInfo(info.name);
      expect(info.dimensions.map(Number), info.name).toEqual(mine.dims);
      expect(info.dimensions.map(Number), info.name).toEqual([...(tensors[i].shape ?? [])].reverse());
      expect(Number(info.ggmlType), info.name).toBe(mine.type.id);
      expect(Number(info.offset), info.name).toBe(mine.offset);
      expect(Number(info.fileOffset), info.name).toBe(mine.fileOffset);
      expect(Number(info.offset) % alignment, info.name).toBe(0);
      const data = tensors[i].data;
      const at = Number(info.fileOffset);
      expect(whole.subarray(at, at + data.byteLength), info.name).toEqual(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
    }
  });
});
