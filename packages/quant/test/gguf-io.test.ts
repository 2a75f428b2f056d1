// Quantized tensors through @zero-llm/tensor's GGUF writer and reader: sizes from the ggml type
// table (Q4_1 id 3: 20 bytes per 32, Q4_K id 12: 144 bytes per 256), offsets on the alignment,
// bytes back as written, and values decoded by this package.
import { describe, expect, it } from "vitest";
import { GgufError, GgufFile, Generator, serializeGguf, type GgufTensorInput } from "@zero-llm/tensor";
import { dequantizeMatrix, quantizeMatrix, WEIGHT_FORMATS, type QuantType } from "../src/index";

const TYPES: QuantType[] = ["f16", "q8_0", "q4_0", "q4_1", "q4_k"];

describe("quantized tensors in GGUF files", () => {
  for (const alignment of [32, 64]) {
    it(`every type, odd row counts, alignment ${alignment}: infos, offsets and bytes round-trip`, () => {
      const gen = new Generator(alignment);
      const tensors: (GgufTensorInput & { values: Float32Array; rows: number; cols: number; qt: QuantType })[] = [];
      TYPES.forEach((qt, i) => {
        const [rows, cols] = [3 + 2 * i, qt === "q4_k" ? 512 : 96];
        const values = new Float32Array(rows * cols).map(() => gen.normal());
        tensors.push({ name: `blk.${i}.ffn_up.weight`, type: WEIGHT_FORMATS[qt].ggml, shape: [rows, cols], data: quantizeMatrix(values, rows, cols, qt), values, rows, cols, qt });
      });
      const file = GgufFile.parse(serializeGguf({ alignment, tensors }));
      expect(file.alignment).toBe(alignment);
      for (const t of tensors) {
        const info = file.tensorInfo(t.name);
        const format = WEIGHT_FORMATS[t.qt];
        expect(info.type.id).toBe(format.ggmlId);
        expect(info.type.blockSize).toBe(format.blockSize);
        expect(info.type.bytesPerBlock).toBe(format.blockBytes);
        expect(info.dims).toEqual([t.cols, t.rows]); // ggml order: ne[0] is the row length
        expect(info.byteLength).toBe((t.rows * t.cols / format.blockSize) * format.blockBytes);
        expect(info.offset % alignment).toBe(0);
        const bytes = file.tensorBytes(t.name);
        expect([...bytes]).toEqual([...(t.data as Uint8Array)]);
        expect(dequantizeMatrix(bytes, t.rows, t.cols, t.qt)).toEqual(dequantizeMatrix(t.data as Uint8Array, t.rows, t.cols, t.qt));
      }
      // Q4_1 and Q4_K have no f32 conversion in the tensor package: it points here instead
      for (const name of ["blk.3.ffn_up.weight", "blk.4.ffn_up.weight"]) {
        expect(() => file.tensorToFloat32(name)).toThrow(GgufError);
        expect(() => file.tensorToFloat32(name)).toThrow(/@zero-llm\/quant/);
      }
      // the two the tensor package does decode agree with this package bit for bit
      for (const name of ["blk.1.ffn_up.weight", "blk.2.ffn_up.weight"]) {
        const t = tensors.find((x) => x.name === name);
        if (!t) throw new Error(name);
        expect(file.tensorToFloat32(name)).toEqual(dequantizeMatrix(t.data as Uint8Array, t.rows, t.cols, t.qt));
      }
    });
  }

  it("the writer refuses rows that are not whole blocks (ggml requires ne[0] to be)", () => {
    expect(() => serializeGguf({ tensors: [{ name: "w", type: "Q4_K", shape: [2, 288], data: new Uint8Array(2 * 144) }] })).toThrow(GgufError);
  });
});
