// Byte sources and the lazy readers over them: only regular files are opened (never /dev/zero, a
// directory or a fifo), every read is checked against the size fstat gave, a file that shrinks
// is a typed error, and conversions to f32 run in bounded chunks (never the whole tensor's bytes).
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { f32ArrayToF16, f16ArrayToF32 } from "../src/dtype/half";
import { blobSource, bytesSource, GgufReader, READ_CHUNK_BYTES, SafetensorsReader, serializeGguf, serializeSafetensors } from "../src/io/index";
import { openFileSource, openGgufFile, readFileBounded } from "../src/node/index";
import { rng, uniform } from "./backend-helpers";

const dir = mkdtempSync(path.join(tmpdir(), "zllm-source-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("openFileSource", () => {
  it("refuses what is not a regular file, before reading a byte", async () => {
    await expect(openFileSource("/dev/zero")).rejects.toMatchObject({ code: "NOT_A_FILE", message: expect.stringContaining("character device") });
    await expect(openFileSource("/dev/urandom")).rejects.toMatchObject({ code: "NOT_A_FILE" });
    await expect(openFileSource(dir)).rejects.toMatchObject({ code: "NOT_A_FILE", message: expect.stringContaining("directory") });
    await expect(openFileSource(path.join(dir, "missing.bin"))).rejects.toMatchObject({ code: "FILE_UNREADABLE", message: expect.stringContaining("ENOENT") });
  });

  it("refuses a fifo without waiting for a writer", async () => {
    const fifo = path.join(dir, "pipe");
    try {
      execFileSync("mkfifo", [fifo]);
    } catch {
      return; // no mkfifo here
    }
    await expect(openFileSource(fifo)).rejects.toMatchObject({ code: "NOT_A_FILE", message: expect.stringContaining("fifo") });
  });

  it("reads only within the size it was opened with; a file that shrank is FILE_CHANGED", async () => {
    const file = path.join(dir, "ten.bin");
    writeFileSync(file, Uint8Array.from({ length: 10 }, (_, i) => i));
    const source = await openFileSource(file);
    try {
      expect(source.size).toBe(10);
      const four = new Uint8Array(4);
      await source.read(6, four);
      expect(Array.from(four)).toEqual([6, 7, 8, 9]);
      await expect(source.read(7, four)).rejects.toMatchObject({ code: "READ_OUT_OF_RANGE" });
      await expect(source.read(-1, four)).rejects.toMatchObject({ code: "READ_OUT_OF_RANGE" });
      truncateSync(file, 5);
      await expect(source.read(4, four)).rejects.toMatchObject({ code: "FILE_CHANGED" });
    } finally {
      await source.close();
    }
    await expect(source.read(0, new Uint8Array(1))).rejects.toMatchObject({ code: "FILE_UNREADABLE" });
  });

  it("readFileBounded refuses a file past its bound (and what is not a file)", async () => {
    const file = path.join(dir, "config.json");
    writeFileSync(file, "{}".padEnd(100, " "));
    expect((await readFileBounded(file, 100)).length).toBe(100);
    await expect(readFileBounded(file, 99)).rejects.toMatchObject({ code: "FILE_TOO_LARGE" });
    await expect(readFileBounded("/dev/zero", 1 << 20)).rejects.toMatchObject({ code: "NOT_A_FILE" });
  });
});

describe("in-memory and blob sources", () => {
  it("read within their bytes only", async () => {
    const bytes = Uint8Array.from({ length: 8 }, (_, i) => 10 + i);
    for (const source of [bytesSource(bytes), blobSource(new Blob([bytes]))]) {
      const three = new Uint8Array(3);
      await source.read(5, three);
      expect(Array.from(three)).toEqual([15, 16, 17]);
      await expect(source.read(6, three)).rejects.toMatchObject({ code: "READ_OUT_OF_RANGE" });
    }
  });
});

describe("lazy readers convert in bounded chunks", () => {
  // 2.5M f16 values: 5 MB of bytes, more than one 4 MiB chunk
  const rows = 2500, cols = 1000;
  const values = f16ArrayToF32(f32ArrayToF16(uniform(rng(3), rows * cols)));
  const half = f32ArrayToF16(values);

  /** Element for element (toEqual on millions of floats takes vitest tens of seconds). */
  function same(a: Float32Array, b: Float32Array): boolean {
    if (a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
    return true;
  }

  function watch(source: { read(offset: number, target: Uint8Array): Promise<void> }): number[] {
    const sizes: number[] = [];
    const read = source.read.bind(source);
    source.read = (offset, target) => {
      sizes.push(target.length);
      return read(offset, target);
    };
    return sizes;
  }

  it("GGUF F16: whole tensor and row slices, no read larger than READ_CHUNK_BYTES", async () => {
    const file = path.join(dir, "big.gguf");
    writeFileSync(file, serializeGguf({ tensors: [{ name: "w", type: "F16", shape: [rows, cols], data: half }] }));
    const reader = await openGgufFile(file, { initialRead: 64 });
    try {
      const sizes = watch(reader.source);
      expect(same(await reader.readTensorFloat32("w"), values)).toBe(true);
      expect(Math.max(...sizes)).toBeLessThanOrEqual(READ_CHUNK_BYTES);
      expect(same(await reader.readRowsFloat32("w", 1200, 1203), values.subarray(1200 * cols, 1203 * cols))).toBe(true);
      await expect(reader.readRowsFloat32("w", 2, 1)).rejects.toMatchObject({ code: "GGUF_BAD_OUTPUT" });
      await expect(reader.readRowsFloat32("w", 0, rows + 1)).rejects.toMatchObject({ code: "GGUF_BAD_OUTPUT" });
    } finally {
      await reader.close();
    }
  });

  it("safetensors F16 over an in-memory source: the same values, the same bound", async () => {
    const bytes = serializeSafetensors({ tensors: { w: { dtype: "F16", shape: [rows, cols], data: half } } });
    const reader = await SafetensorsReader.open(bytesSource(bytes));
    const sizes = watch(reader.source);
    expect(same(await reader.readTensorFloat32("w"), values)).toBe(true);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(READ_CHUNK_BYTES);
    expect(same(await reader.readRowsFloat32("w", 7, 9), values.subarray(7 * cols, 9 * cols))).toBe(true);
  });

  it("a GGUF header that declares more than the file holds fails before any tensor read", async () => {
    const bytes = serializeGguf({ tensors: [{ name: "w", type: "F32", shape: [4, 4], data: new Float32Array(16) }] });
    await expect(GgufReader.open(bytesSource(bytes.subarray(0, bytes.length - 8)))).rejects.toMatchObject({ code: "GGUF_TENSOR_OUT_OF_RANGE" });
  });
});
