import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { GgufError, GgufFile, ggufValue, SafetensorsError } from "../src/io/index";
import { openGgufFile, openSafetensorsFile, readGgufFile, readSafetensorsFile, writeGgufFile, writeSafetensorsFile } from "../src/node/index";

const here = path.dirname(fileURLToPath(import.meta.url));
const dir = mkdtempSync(path.join(tmpdir(), "zllm-io-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const pythonGguf = path.join(here, "fixtures/gguf-python.gguf");
const pythonSafetensors = path.join(here, "fixtures/safetensors-python.safetensors");

describe("GGUF files on disk", () => {
  it("opens lazily: header from a growing prefix, tensors read at their offsets", async () => {
    const whole = GgufFile.parse(new Uint8Array(readFileSync(pythonGguf)));
    const handle = await openGgufFile(pythonGguf, { initialRead: 16 });
    try {
      expect(handle.metadata).toEqual(whole.metadata);
      expect(handle.tensors).toEqual(whole.tensors);
      for (const t of whole.tensors) expect(await handle.readTensorBytes(t.name)).toEqual(whole.tensorBytes(t.name).slice());
      expect(await handle.readTensorFloat32("q8_0.weight")).toEqual(whole.tensorToFloat32("q8_0.weight"));
    } finally {
      await handle.close();
    }
  });

  it("writes atomically (no temp file left, old content replaced) and reads back", async () => {
    const target = path.join(dir, "model.gguf");
    writeFileSync(target, "old content");
    const vocab = Array.from({ length: 1000 }, (_, i) => `tok${i}`);
    await writeGgufFile(target, {
      alignment: 64,
      metadata: [["tokenizer.ggml.tokens", ggufValue.array("string", vocab)], ["general.name", ggufValue.string("t")]],
      tensors: [{ name: "w", type: "F32", shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) }],
    });
    expect(readdirSync(dir)).toEqual(["model.gguf"]);
    const file = await readGgufFile(target);
    expect(file.get("tokenizer.ggml.tokens")).toEqual(vocab);
    expect(Array.from(file.tensorToFloat32("w"))).toEqual([1, 2, 3, 4]);
    const lazy = await openGgufFile(target, { initialRead: 100 }); // header is ~9 KB: several re-reads
    expect(lazy.get("tokenizer.ggml.tokens")).toEqual(vocab);
    await lazy.close();
  });

  it("keeps the old file when the input is invalid", async () => {
    const target = path.join(dir, "keep.gguf");
    writeFileSync(target, "keep me");
    await expect(writeGgufFile(target, { metadata: [["x", ggufValue.u8(999)]] })).rejects.toBeInstanceOf(GgufError);
    expect(readFileSync(target, "utf8")).toBe("keep me");
    expect(readdirSync(dir).filter((n) => n.endsWith(".tmp"))).toEqual([]);
  });

  it("reports a truncated file with a typed error", async () => {
    const target = path.join(dir, "cut.gguf");
    writeFileSync(target, readFileSync(pythonGguf).subarray(0, 300));
    await expect(openGgufFile(target)).rejects.toMatchObject({ code: "GGUF_TRUNCATED" });
    await expect(readGgufFile(target)).rejects.toBeInstanceOf(GgufError);
  });
});

describe("safetensors files on disk", () => {
  it("opens lazily and reads tensors at their offsets, like the in-memory reader", async () => {
    const whole = await readSafetensorsFile(pythonSafetensors);
    const handle = await openSafetensorsFile(pythonSafetensors);
    try {
      expect(handle.metadata).toEqual(whole.metadata);
      expect(handle.tensors).toEqual(whole.tensors);
      expect(await handle.readTensorFloat32("lm_head.weight")).toEqual(whole.tensorToFloat32("lm_head.weight"));
      expect(await handle.readTensorArray("int64")).toEqual(whole.tensorArray("int64"));
    } finally {
      await handle.close();
    }
  });

  it("writes atomically and reads back", async () => {
    const target = path.join(dir, "model.safetensors");
    await writeSafetensorsFile(target, {
      tensors: { "model.norm.weight": { dtype: "F32", shape: [3], data: new Float32Array([1, 0.5, -2]) } },
      metadata: { format: "pt" },
    });
    const file = await readSafetensorsFile(target);
    expect(file.metadata).toEqual({ format: "pt" });
    expect(Array.from(file.tensorToFloat32("model.norm.weight"))).toEqual([1, 0.5, -2]);
    expect(readdirSync(dir).filter((n) => n.endsWith(".tmp"))).toEqual([]);
  });

  it("reports a header length beyond the file without reading it", async () => {
    const target = path.join(dir, "bad.safetensors");
    const bytes = new Uint8Array(readFileSync(pythonSafetensors));
    new DataView(bytes.buffer).setBigUint64(0, 50_000_000n, true);
    writeFileSync(target, bytes);
    await expect(openSafetensorsFile(target)).rejects.toMatchObject({ code: "SAFETENSORS_TRUNCATED" });
    await expect(readSafetensorsFile(target)).rejects.toBeInstanceOf(SafetensorsError);
  });
});

describe("browser safety", () => {
  it("no io module but node.ts mentions node: modules, and node.ts imports them only as types or dynamically", () => {
    const ioDir = path.join(here, "../src/io");
    for (const name of readdirSync(ioDir)) {
      const source = readFileSync(path.join(ioDir, name), "utf8");
      const staticNodeImports = source.split("\n").filter((line) => /^import\s(?!type\b).*["']node:/.test(line));
      expect(staticNodeImports, name).toEqual([]);
      if (name !== "node.ts") expect(source.includes('"node:'), name).toBe(false);
    }
    expect(readFileSync(path.join(here, "../src/dtype/half.ts"), "utf8").includes("node:")).toBe(false);
  });
});
