// Single-copy tensor reads: the lazy readers put F32 bytes from disk straight into the output
// array (a caller's, e.g. one in wasm memory from allocF32, or a new one), and the other types
// are read once and decoded once. The file handle's `read` is watched to see where bytes land.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createWasmBackend, type WasmBackend } from "../src/backend/index";
import { f32ArrayToBf16, f32ArrayToF16 } from "../src/dtype/half";
import { GgufFile, SafetensorsFile, type GgufReader, type SafetensorsReader } from "../src/io/index";
import { openGgufFile, openSafetensorsFile, readGgufFile, readSafetensorsFile, writeGgufFile, writeSafetensorsFile } from "../src/node/index";
import { rng, uniform } from "./backend-helpers";

const dir = mkdtempSync(path.join(tmpdir(), "zllm-read-into-"));
const ggufPath = path.join(dir, "weights.gguf");
const stPath = path.join(dir, "weights.safetensors");
const next = rng(77);
const f32 = uniform(next, 6 * 37), f16Source = uniform(next, 4 * 64), f64Source = Float64Array.from(uniform(next, 9));

// Q8_0 blocks with scale 0.5 (f16 0x3800) and quants −16 … 15: the values are d·q exactly
const q8Bytes = new Uint8Array(2 * 34);
const q8Values = new Float32Array(64);
for (let b = 0; b < 2; b++) {
  new DataView(q8Bytes.buffer).setUint16(b * 34, 0x3800, true);
  for (let j = 0; j < 32; j++) {
    const q = ((b * 32 + j) % 32) - 16;
    q8Bytes[b * 34 + 2 + j] = q & 0xff;
    q8Values[b * 32 + j] = 0.5 * q;
  }
}

/** Records the buffer every read of this reader's source fills (compare with toBe: identity, not contents). */
function watchReads(file: GgufReader | SafetensorsReader): ArrayBufferLike[] {
  const source = file.source;
  const targets: ArrayBufferLike[] = [];
  const read = source.read.bind(source);
  (source as { read: typeof read }).read = (offset, target) => {
    targets.push(target.buffer);
    return read(offset, target);
  };
  return targets;
}

function expectOneReadInto(targets: ArrayBufferLike[], buffer: ArrayBufferLike): void {
  expect(targets.length).toBe(1);
  expect(targets[0]).toBe(buffer);
}

let wasm: WasmBackend;
beforeAll(async () => {
  wasm = await createWasmBackend();
  await writeGgufFile(ggufPath, {
    tensors: [
      { name: "f32", type: "F32", shape: [6, 37], data: f32 },
      { name: "f16", type: "F16", shape: [4, 64], data: f32ArrayToF16(f16Source) },
      { name: "q8_0", type: "Q8_0", shape: [2, 32], data: q8Bytes },
    ],
  });
  await writeSafetensorsFile(stPath, {
    tensors: {
      f32: { dtype: "F32", shape: [6, 37], data: f32 },
      bf16: { dtype: "BF16", shape: [4, 64], data: f32ArrayToBf16(f16Source) },
      f64: { dtype: "F64", shape: [9], data: f64Source },
    },
  });
});
afterAll(async () => {
  await wasm.dispose();
  rmSync(dir, { recursive: true, force: true });
});

describe("GGUF lazy reads into a caller's array", () => {
  it("F32 goes from disk straight into an allocF32 array in wasm memory", async () => {
    const file = await openGgufFile(ggufPath);
    try {
      const targets = watchReads(file);
      const out = wasm.allocF32(f32.length);
      expect(await file.readTensorFloat32("f32", out)).toBe(out);
      expect(out).toEqual(f32);
      expectOneReadInto(targets, out.buffer); // into the output itself: no staging buffer
      // without an output array: one new array, and it is the one the read filled
      targets.length = 0;
      const fresh = await file.readTensorFloat32("f32");
      expect(fresh).toEqual(f32);
      expectOneReadInto(targets, fresh.buffer);
    } finally {
      await file.close();
    }
  });

  it("F16 and Q8_0 are read once and decoded into the output", async () => {
    const file = await openGgufFile(ggufPath);
    try {
      const f16 = wasm.allocF32(f16Source.length);
      expect(await file.readTensorFloat32("f16", f16)).toBe(f16);
      expect(f16).toEqual((await readGgufFile(ggufPath)).tensorToFloat32("f16"));
      const q8 = wasm.allocF32(64);
      expect(await file.readTensorFloat32("q8_0", q8)).toBe(q8);
      expect(q8).toEqual(q8Values);
    } finally {
      await file.close();
    }
  });

  it("an output of the wrong length is GGUF_BAD_OUTPUT, before anything is read", async () => {
    const file = await openGgufFile(ggufPath);
    try {
      const targets = watchReads(file);
      await expect(file.readTensorFloat32("f32", new Float32Array(f32.length + 1))).rejects.toMatchObject({ code: "GGUF_BAD_OUTPUT" });
      await expect(file.readTensorFloat32("q8_0", new Float32Array(63))).rejects.toMatchObject({ code: "GGUF_BAD_OUTPUT" });
      expect(targets.length).toBe(0); // both refused up front
    } finally {
      await file.close();
    }
  });

  it("the in-memory reader fills an output array too, with the same checks", async () => {
    const file = GgufFile.parse(await (await import("node:fs/promises")).readFile(ggufPath));
    const out = wasm.allocF32(f32.length);
    expect(file.tensorToFloat32("f32", out)).toBe(out);
    expect(out).toEqual(f32);
    expect(() => file.tensorToFloat32("f16", new Float32Array(3))).toThrow(expect.objectContaining({ code: "GGUF_BAD_OUTPUT" }));
  });
});

describe("safetensors lazy reads into a caller's array", () => {
  it("F32 goes from disk straight into the output; BF16 and F64 decode into it", async () => {
    const file = await openSafetensorsFile(stPath);
    try {
      const targets = watchReads(file);
      const out = wasm.allocF32(f32.length);
      expect(await file.readTensorFloat32("f32", out)).toBe(out);
      expect(out).toEqual(f32);
      expectOneReadInto(targets, out.buffer);
      const whole = await readSafetensorsFile(stPath);
      const bf16 = wasm.allocF32(f16Source.length);
      expect(await file.readTensorFloat32("bf16", bf16)).toBe(bf16);
      expect(bf16).toEqual(whole.tensorToFloat32("bf16"));
      const f64 = new Float32Array(9);
      expect(await file.readTensorFloat32("f64", f64)).toBe(f64);
      expect(f64).toEqual(Float32Array.from(f64Source));
    } finally {
      await file.close();
    }
  });

  it("readTensorArray wraps the buffer it read instead of copying it again", async () => {
    const file = await openSafetensorsFile(stPath);
    try {
      const targets = watchReads(file);
      const array = await file.readTensorArray("f64");
      expect(array).toEqual(f64Source);
      expectOneReadInto(targets, array.buffer);
    } finally {
      await file.close();
    }
  });

  it("an output of the wrong length is SAFETENSORS_BAD_OUTPUT", async () => {
    const file = await openSafetensorsFile(stPath);
    try {
      await expect(file.readTensorFloat32("f32", new Float32Array(1))).rejects.toMatchObject({ code: "SAFETENSORS_BAD_OUTPUT" });
      await expect(file.readTensorFloat32("bf16", new Float32Array(1))).rejects.toMatchObject({ code: "SAFETENSORS_BAD_OUTPUT" });
    } finally {
      await file.close();
    }
    const whole = SafetensorsFile.parse(await (await import("node:fs/promises")).readFile(stPath));
    expect(() => whole.tensorToFloat32("f64", new Float32Array(10))).toThrow(expect.objectContaining({ code: "SAFETENSORS_BAD_OUTPUT" }));
    const out = new Float32Array(9);
    expect(whole.tensorToFloat32("f64", out)).toBe(out);
  });
});
