import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createWasmBackend, Generator, jsBackend, type WasmBackend } from "@zero-llm/tensor";
import {
  dequantizeMatrix, fallbackWeightType, FILE_WEIGHT_TYPES, QuantError, QUANTIZED_LINEAR_TYPES, QuantizedLinear,
  quantizeMatrix, quantizedRowBytes, WEIGHT_FORMATS, type QuantType,
} from "../src/index";

const TYPES: QuantType[] = ["f16", "q8_0", "q4_0", "q4_1", "q4_k"];
const codeOf = (f: () => unknown): string | undefined => {
  try { f(); } catch (error) { return error instanceof QuantError ? error.code : String(error); }
  return undefined;
};

describe("QuantizedLinear (the LinearWeight of stored types)", () => {
  let wasm: WasmBackend;
  beforeAll(async () => { wasm = await createWasmBackend({ threads: 2 }); });
  afterAll(async () => { await wasm.dispose(); });

  for (const type of TYPES) {
    it(`${type}: quantize, then project rows on js and wasm (same bits for block types), bytes in backend memory`, () => {
      const gen = new Generator(3);
      const [out, inF, rows] = [40, 512, 3];
      const values = new Float32Array(out * inF).map(() => 0.05 * gen.normal());
      const x = new Float32Array(rows * inF).map(() => gen.normal());
      const onJs = QuantizedLinear.quantize(values, out, inF, type, jsBackend);
      const onWasm = QuantizedLinear.quantize(values, out, inF, type, wasm);
      expect(onWasm.bytes.buffer).not.toBe(onJs.bytes.buffer);
      expect([...onWasm.bytes]).toEqual([...onJs.bytes]);
      expect(onJs.byteLength).toBe(out * quantizedRowBytes(type, inF));
      expect(onJs.type).toBe(type);
      expect([onJs.outFeatures, onJs.inFeatures]).toEqual([out, inF]);
      const a = new Float32Array(rows * out), b = new Float32Array(rows * out);
      onJs.project(a, x, rows);
      onWasm.project(b, x, rows);
      if (type === "f16") for (let i = 0; i < a.length; i++) expect(Math.abs(a[i] - b[i])).toBeLessThan(1e-4);
      else expect(b).toEqual(a);
      // dequantize gives the values the blocks stand for: close to the originals
      const back = onJs.dequantize();
      expect(back).toEqual(dequantizeMatrix(onJs.ggmlBytes(), out, inF, type));
      expect([...onJs.ggmlBytes()]).toEqual([...quantizeMatrix(values, out, inF, type)]);
      let err = 0, ref = 0;
      for (let i = 0; i < values.length; i++) { err += (back[i] - values[i]) ** 2; ref += values[i] ** 2; }
      expect(Math.sqrt(err / ref)).toBeLessThan(type === "f16" ? 1e-3 : type === "q8_0" ? 1e-2 : 0.15);
    });
  }

  it("q4_0 of a multiple of 4 rows is held in tiles: the same products, rows and file bytes as GGUF's row order", () => {
    const gen = new Generator(11);
    const [out, inF, rows] = [36, 288, 5];
    const values = new Float32Array(out * inF).map(() => 0.05 * gen.normal());
    const x = new Float32Array(rows * inF).map(() => gen.normal());
    const ggml = quantizeMatrix(values, out, inF, "q4_0");
    const tiled = QuantizedLinear.quantize(values, out, inF, "q4_0", wasm);
    expect(tiled.layout).toBe("q4_0x4");
    expect([...tiled.bytes]).not.toEqual([...ggml]);
    expect([...tiled.ggmlBytes()]).toEqual([...ggml]);
    const inRows = new QuantizedLinear(wasm.allocBytes(ggml.length), "q4_0", out, inF, wasm);
    inRows.bytes.set(ggml);
    expect(inRows.layout).toBe("rows");
    const a = new Float32Array(rows * out), b = new Float32Array(rows * out);
    inRows.project(a, x, rows);
    tiled.project(b, x, rows);
    expect(b).toEqual(a);
    const dense = inRows.dequantize();
    expect(tiled.dequantize()).toEqual(dense);
    const row = new Float32Array(inF + 3);
    for (let o = 0; o < out; o++) {
      tiled.rowValues(o, row, 3);
      expect(row.subarray(3)).toEqual(dense.subarray(o * inF, (o + 1) * inF));
    }
    // from a file: tiled in place (the loader's bytes are taken over); 6 rows stay in rows
    const loaded = QUANTIZED_LINEAR_TYPES.q4_0.fromBytes(ggml.slice(), out, inF, jsBackend) as QuantizedLinear;
    expect(loaded.layout).toBe("q4_0x4");
    expect([...loaded.bytes]).toEqual([...tiled.bytes]);
    const six = QuantizedLinear.quantize(values.subarray(0, 6 * inF), 6, inF, "q4_0", jsBackend);
    expect(six.layout).toBe("rows");
    expect(six.ggmlBytes()).toBe(six.bytes);
    expect(codeOf(() => new QuantizedLinear(ggml.slice(0, 6 * 9 * 18), "q4_0", 6, inF, jsBackend, "q4_0x4"))).toBe("INVALID_ARGUMENT");
    expect(codeOf(() => new QuantizedLinear(new Uint8Array(4 * 9 * 34), "q8_0", 4, inF, jsBackend, "q4_0x4"))).toBe("INVALID_ARGUMENT");
  });

  it("file type names map to the same LinearWeightTypes, which take the stored bytes as they are", () => {
    expect(Object.keys(FILE_WEIGHT_TYPES).sort()).toEqual(["F16", "Q4_0", "Q4_1", "Q4_K", "Q8_0"]);
    for (const type of TYPES) {
      const lt = QUANTIZED_LINEAR_TYPES[type];
      expect(FILE_WEIGHT_TYPES[WEIGHT_FORMATS[type].ggml]).toBe(lt);
      expect(lt.name).toBe(type);
      expect(lt.byteLength(7, 256)).toBe(7 * quantizedRowBytes(type, 256));
      const bytes = jsBackend.allocBytes(lt.byteLength(7, 256));
      bytes.set(quantizeMatrix(new Float32Array(7 * 256).fill(0.25), 7, 256, type));
      const weight = lt.fromBytes(bytes, 7, 256, jsBackend);
      expect(weight).toBeInstanceOf(QuantizedLinear);
      expect((weight as QuantizedLinear).bytes).toBe(bytes); // taken over, not copied
    }
  });

  it("fromBytes refuses a NaN or infinite scale with NONFINITE_WEIGHT, naming the row", () => {
    for (const type of TYPES) {
      const lt = QUANTIZED_LINEAR_TYPES[type];
      const bytes = quantizeMatrix(new Float32Array(4 * 512).fill(1), 4, 512, type);
      expect(lt.fromBytes(bytes.slice(), 4, 512, jsBackend)).toBeInstanceOf(QuantizedLinear);
      const { blockBytes, blockSize } = WEIGHT_FORMATS[type];
      const at = 2 * (512 / blockSize) * blockBytes + blockBytes; // row 2, block 1
      bytes[at] = 0x00; bytes[at + 1] = 0x7c; // f16 +inf
      expect(codeOf(() => lt.fromBytes(bytes, 4, 512, jsBackend))).toBe("NONFINITE_WEIGHT");
      expect(() => lt.fromBytes(bytes, 4, 512, jsBackend)).toThrow(/row 2, (block|column) 1/);
      if (type === "q4_1" || type === "q4_k") {
        const second = quantizeMatrix(new Float32Array(4 * 512).fill(1), 4, 512, type);
        second[3] = 0x7e; // the min / dmin field of block 0: NaN
        expect(codeOf(() => lt.fromBytes(second, 4, 512, jsBackend))).toBe("NONFINITE_WEIGHT");
      }
    }
  });

  it("rows that are not whole blocks: a typed error, and the fallback zllm quantize takes", () => {
    expect(codeOf(() => quantizeMatrix(new Float32Array(2 * 48), 2, 48, "q8_0"))).toBe("ROW_NOT_BLOCK_MULTIPLE");
    expect(codeOf(() => QuantizedLinear.quantize(new Float32Array(288), 1, 288, "q4_k", jsBackend))).toBe("ROW_NOT_BLOCK_MULTIPLE");
    expect(codeOf(() => QUANTIZED_LINEAR_TYPES.q4_0.byteLength(3, 100))).toBe("ROW_NOT_BLOCK_MULTIPLE");
    expect(codeOf(() => quantizeMatrix(new Float32Array(31), 1, 32, "q8_0"))).toBe("BAD_LENGTH");
    expect(codeOf(() => new QuantizedLinear(new Uint8Array(33), "q8_0", 1, 32, jsBackend))).toBe("BAD_LENGTH");
    expect(codeOf(() => quantizeMatrix(new Float32Array(32), 1, 32, "q5_0" as QuantType))).toBe("UNSUPPORTED_TYPE");
    expect(fallbackWeightType("q4_k", 768)).toBe("q4_k");
    expect(fallbackWeightType("q4_k", 288)).toBe("q4_1"); // llama.cpp: Q5_0
    expect(fallbackWeightType("q4_k", 100)).toBe("f16");
    expect(fallbackWeightType("q8_0", 288)).toBe("q8_0");
    expect(fallbackWeightType("q4_0", 100)).toBe("f16");
    expect(fallbackWeightType("f16", 7)).toBe("f16");
  });

  it("bits per weight of each format", () => {
    expect(Object.fromEntries(TYPES.map((t) => [t, WEIGHT_FORMATS[t].bitsPerWeight]))).toEqual({ f16: 16, q8_0: 8.5, q4_0: 4.5, q4_1: 5, q4_k: 4.5 });
  });
});
