import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import {
  quantizeRowQ8_0, dequantizeRowQ8_0, dotRowQ8_0, Q8_0_BLOCK_BYTES,
  quantizeRowQ4_0, dequantizeRowQ4_0, dotRowQ4_0, Q4_0_BLOCK_BYTES,
  quantizeRowQ4_1, dequantizeRowQ4_1, dotRowQ4_1, Q4_1_BLOCK_BYTES,
  quantizeRowQ4_K, dequantizeRowQ4_K, dotRowQ4_K, Q4_K_BLOCK_BYTES,
  quantizeRowQ8_1, Q8_1_BLOCK_BYTES,
  quantizeRowQ8_K, dequantizeRowQ8_K, Q8_K_BLOCK_BYTES,
} from "../src/index";

// Outputs of ggml's reference C functions on the rows of inputs.f32 (fixtures/ggml-ref/README.md).
const dir = path.join(__dirname, "fixtures", "ggml-ref");
const { row: K, cases } = JSON.parse(readFileSync(path.join(dir, "cases.json"), "utf8")) as { row: number; cases: string[] };
const bytes = (name: string): Uint8Array => new Uint8Array(readFileSync(path.join(dir, name)));
const floats = (name: string): Float32Array => {
  const b = bytes(name);
  return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
};
const inputs = floats("inputs.f32");
const rowOf = (c: number): Float32Array => inputs.subarray(c * K, (c + 1) * K);

type Quantize = (x: Float32Array, y: Uint8Array, k?: number) => void;
type Dequantize = (y: Uint8Array, out: Float32Array, k?: number) => void;
const formats: { name: string; file: string; rowBytes: number; quantize: Quantize; dequantize?: Dequantize }[] = [
  { name: "Q8_0", file: "q8_0", rowBytes: (K / 32) * Q8_0_BLOCK_BYTES, quantize: quantizeRowQ8_0, dequantize: dequantizeRowQ8_0 },
  { name: "Q4_0", file: "q4_0", rowBytes: (K / 32) * Q4_0_BLOCK_BYTES, quantize: quantizeRowQ4_0, dequantize: dequantizeRowQ4_0 },
  { name: "Q4_1", file: "q4_1", rowBytes: (K / 32) * Q4_1_BLOCK_BYTES, quantize: quantizeRowQ4_1, dequantize: dequantizeRowQ4_1 },
  { name: "Q4_K", file: "q4_k", rowBytes: (K / 256) * Q4_K_BLOCK_BYTES, quantize: quantizeRowQ4_K, dequantize: dequantizeRowQ4_K },
  { name: "Q8_1", file: "q8_1", rowBytes: (K / 32) * Q8_1_BLOCK_BYTES, quantize: quantizeRowQ8_1 },
  { name: "Q8_K", file: "q8_k", rowBytes: (K / 256) * Q8_K_BLOCK_BYTES, quantize: quantizeRowQ8_K, dequantize: dequantizeRowQ8_K },
];

/** Same float32 bits, except that any NaN equals any NaN (C and JavaScript may give NaNs different signs). */
function sameFloats(a: Float32Array, b: Float32Array): number {
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length), ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < a.length; i++) {
    if (ua[i] === ub[i] || (Number.isNaN(a[i]) && Number.isNaN(b[i]))) continue;
    return i;
  }
  return -1;
}

describe("ggml reference quantizers, byte for byte", () => {
  for (const format of formats) {
    const expected = bytes(`${format.file}.bin`);
    it(`${format.name}: quantize_row_${format.file}_ref on ${cases.length} rows of ${K}`, () => {
      const out = new Uint8Array(format.rowBytes);
      for (let c = 0; c < cases.length; c++) {
        format.quantize(rowOf(c), out);
        const want = expected.subarray(c * format.rowBytes, (c + 1) * format.rowBytes);
        const at = out.findIndex((b, i) => b !== want[i]);
        expect(at, `case "${cases[c]}": first differing byte`).toBe(-1);
      }
    });
    const dequantize = format.dequantize;
    if (dequantize) {
      it(`${format.name}: dequantize_row_${format.file} on the C blocks, bit for bit`, () => {
        const want = floats(`dequant-${format.file}.f32`);
        const out = new Float32Array(K);
        for (let c = 0; c < cases.length; c++) {
          dequantize(expected.subarray(c * format.rowBytes, (c + 1) * format.rowBytes), out);
          expect(sameFloats(out, want.subarray(c * K, (c + 1) * K)), `case "${cases[c]}": first differing value`).toBe(-1);
        }
      });
    }
  }
});

describe("ggml vec_dot (generic C), bit for bit", () => {
  const dots = floats("dots.f32");
  const block = (file: string, rowBytes: number, c: number): Uint8Array => bytes(`${file}.bin`).subarray(c * rowBytes, (c + 1) * rowBytes);
  const q80 = (K / 32) * Q8_0_BLOCK_BYTES, q81 = (K / 32) * Q8_1_BLOCK_BYTES, q8k = (K / 256) * Q8_K_BLOCK_BYTES;
  const pairs = [
    { name: "q8_0 · q8_0", dot: dotRowQ8_0, w: ["q8_0", q80], a: ["q8_0", q80] },
    { name: "q4_0 · q8_0", dot: dotRowQ4_0, w: ["q4_0", (K / 32) * Q4_0_BLOCK_BYTES], a: ["q8_0", q80] },
    { name: "q4_1 · q8_1", dot: dotRowQ4_1, w: ["q4_1", (K / 32) * Q4_1_BLOCK_BYTES], a: ["q8_1", q81] },
    { name: "q4_K · q8_K", dot: dotRowQ4_K, w: ["q4_k", (K / 256) * Q4_K_BLOCK_BYTES], a: ["q8_k", q8k] },
  ] as const;
  pairs.forEach((pair, p) => {
    it(`${pair.name}: weights of case c with activations of case c + 1`, () => {
      for (let c = 0; c < cases.length; c++) {
        const got = pair.dot(K, block(pair.w[0], pair.w[1], c), block(pair.a[0], pair.a[1], (c + 1) % cases.length));
        const want = dots[4 * c + p];
        if (Number.isNaN(want)) expect(got).toBeNaN();
        else expect(Math.fround(got), `case "${cases[c]}"`).toBe(want);
      }
    });
  });
});

describe("ggml reference quantizers on 1000 generated rows (hashes of the C output)", () => {
  it("every format, every row", async () => {
    const { volumeRows, fnv1a, VOLUME_ROWS, VOLUME_ROW } = await import("./fixtures/ggml-ref/volume.mjs");
    const rows = volumeRows();
    const hashes = bytes("volume-hashes.bin");
    const want = new Uint32Array(hashes.buffer, hashes.byteOffset, VOLUME_ROWS * formats.length);
    const outs = formats.map((f) => new Uint8Array((f.rowBytes * VOLUME_ROW) / K));
    const wrong: string[] = [];
    for (let r = 0; r < VOLUME_ROWS; r++) {
      const row = rows.subarray(r * VOLUME_ROW, (r + 1) * VOLUME_ROW);
      formats.forEach((format, t) => {
        format.quantize(row, outs[t]);
        if (fnv1a(outs[t]) !== want[formats.length * r + t]) wrong.push(`${format.name} row ${r}`);
      });
    }
    expect(wrong).toEqual([]);
  });
});
