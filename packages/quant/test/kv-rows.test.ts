import { describe, expect, it } from "vitest";
import { Generator } from "@zero-llm/tensor";
import {
  dequantizeRowQ4_0, dequantizeRowQ4_1, dequantizeRowQ8_0, KV_ROW_FORMATS, kvRowFormat, QuantError,
  quantizeRowQ4_0, quantizeRowQ4_1, quantizeRowQ8_0, type KvCacheType,
} from "../src/index";

const TYPES: KvCacheType[] = ["f16", "q8_0", "q4_0", "q4_1"];
const ggml = {
  q8_0: { quantize: quantizeRowQ8_0, dequantize: dequantizeRowQ8_0 },
  q4_0: { quantize: quantizeRowQ4_0, dequantize: dequantizeRowQ4_0 },
  q4_1: { quantize: quantizeRowQ4_1, dequantize: dequantizeRowQ4_1 },
};

// [nKvHeads, headDim]: whole blocks per head, heads that share blocks (stories260K: 4 × 8), and
// head sizes that do not divide into 32 (rows padded to a whole block)
const LAYOUTS: Array<[number, number]> = [[2, 64], [4, 8], [6, 48], [3, 20], [1, 7], [12, 64]];

describe.each(TYPES)("KV rows as %s", (type) => {
  const format = KV_ROW_FORMATS[type];

  for (const [nKvHeads, headDim] of LAYOUTS) {
    const rowLen = nKvHeads * headDim;
    it(`${nKvHeads} heads × ${headDim}: packed as ggml packs the zero-padded row; dot and addScaled read it exactly`, () => {
      const gen = new Generator(rowLen);
      const src = new Float32Array(rowLen + 5).map(() => gen.normal());
      const bytes = new Uint8Array(format.rowBytes(rowLen) + 3);
      format.quantizeRow(src, 5, rowLen, bytes, 3);
      const values = new Float32Array(rowLen);
      format.dequantize(bytes, 3, 0, rowLen, values, 0);
      if (type === "f16") {
        expect(format.rowBytes(rowLen)).toBe(2 * rowLen);
        for (let i = 0; i < rowLen; i++) expect(values[i]).toBe(Math.fround(values[i])); // finite halves, close to src
        for (let i = 0; i < rowLen; i++) expect(Math.abs(values[i] - src[5 + i])).toBeLessThanOrEqual(Math.abs(src[5 + i]) * 2 ** -11 + 2 ** -24);
      } else {
        const padded = new Float32Array(Math.ceil(rowLen / 32) * 32);
        padded.set(src.subarray(5, 5 + rowLen));
        const want = new Uint8Array(format.rowBytes(rowLen));
        ggml[type].quantize(padded, want);
        expect([...bytes.subarray(3)]).toEqual([...want]);
        const decoded = new Float32Array(padded.length);
        ggml[type].dequantize(want, decoded);
        expect(values).toEqual(decoded.subarray(0, rowLen));
      }
      // per head: q·k and p·v from the packed bytes equal the same sums over the decoded values
      for (let h = 0; h < nKvHeads; h++) {
        const q = new Float32Array(headDim + 2).map(() => gen.normal());
        let want = 0;
        for (let d = 0; d < headDim; d++) want += q[2 + d] * values[h * headDim + d];
        expect(format.dot(q, 2, bytes, 3, h * headDim, headDim)).toBeCloseTo(want, 5);
        const acc = new Float32Array(headDim + 1).fill(0.5);
        format.addScaled(0.25, bytes, 3, h * headDim, headDim, acc, 1);
        for (let d = 0; d < headDim; d++) expect(acc[1 + d]).toBeCloseTo(0.5 + 0.25 * values[h * headDim + d], 6);
        expect(acc[0]).toBe(0.5);
      }
    });
  }

  it("bytes of a cache: 2 × layers × KV heads × head size × context × bytes per value, when rows are whole blocks", () => {
    for (const [layers, nKvHeads, headDim, context] of [[6, 6, 48, 256], [12, 12, 64, 1024], [5, 4, 8, 512]]) {
      const total = 2 * layers * context * format.rowBytes(nKvHeads * headDim);
      expect(total).toBe(2 * layers * nKvHeads * headDim * context * format.bytesPerValue);
    }
    expect(format.bytesPerValue).toBe({ f16: 2, q8_0: 34 / 32, q4_0: 18 / 32, q4_1: 20 / 32 }[type]);
  });
});

describe("KV row formats by name", () => {
  it("the four --cache-type names; f32 and others are refused", () => {
    for (const type of TYPES) expect(kvRowFormat(type).name).toBe(type);
    expect(() => kvRowFormat("f32")).toThrow(QuantError);
    expect(() => kvRowFormat("q5_1")).toThrow(/f16, q8_0, q4_0, q4_1/);
  });

  it("a q8_0 row is about half, and a q4_0 row about a quarter, of an f16 one", () => {
    const rowLen = 768;
    expect(KV_ROW_FORMATS.q8_0.rowBytes(rowLen) / KV_ROW_FORMATS.f16.rowBytes(rowLen)).toBeCloseTo(0.53, 2);
    expect(KV_ROW_FORMATS.q4_0.rowBytes(rowLen) / (4 * rowLen)).toBeCloseTo(0.14, 2);
  });
});
