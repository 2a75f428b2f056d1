// Packing KV-cache rows (packKvRows): the wasm kernel against the js reference, byte for byte, for
// every element type, on row lengths that fill whole blocks and ones that end inside a block
// (zero-padded tail), on values that reach the quantizers' edge cases (ties of roundf and of the
// + 8.5 / + 0.5 truncations, zeros, NaN, ±inf, f16 overflow and subnormals), into memory the
// backend allocated and into plain arrays; the reference against ggml's rule written out
// independently for a few values; and the argument errors.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createWasmBackend, jsBackend } from "../src/backend/index";
import type { WasmBackend } from "../src/backend/index";
import { kvRowBytes, kvRowValues, type KvType } from "../src/quant/kv";
import { packBlockQ8_0, packKvRowsReference } from "../src/quant/kv-pack";
import { TensorError } from "../src/errors";
import { rng } from "./backend-helpers";

const TYPES: KvType[] = ["f32", "f16", "q8_0", "q4_0", "q4_1"];
const ROW_LENGTHS = [32, 288, 48, 7, 64 + 5, 1];

/** Rows of random values with a sprinkling of the values where rounding rules differ. */
function rowsOf(rows: number, rowLen: number, seed: number, special: boolean): Float32Array {
  const next = rng(seed);
  const x = new Float32Array(rows * rowLen);
  const edges = [0, -0, 0.5, -0.5, 1.5, -2.5, 127, -127, 8, -8, 65504, 65520, 1e-7, -3e-8, 6e-5, 1e30, -1e30];
  for (let i = 0; i < x.length; i++) {
    const u = next();
    if (special && u < 0.15) x[i] = edges[Math.floor(next() * edges.length)];
    else x[i] = (2 * next() - 1) * (u < 0.5 ? 1 : 40);
  }
  return x;
}

describe.each([
  { label: "shared memory", sharedMemory: true },
  { label: "plain memory", sharedMemory: false },
])("wasm packKvRows ($label)", ({ sharedMemory }) => {
  let wasm: WasmBackend;
  beforeAll(async () => { wasm = await createWasmBackend({ threads: 1, sharedMemory }); });
  afterAll(async () => { await wasm.dispose(); });

  for (const type of TYPES) {
    for (const rowLen of ROW_LENGTHS) {
      it(`${type}, rows of ${rowLen}: the same bytes as the js reference`, () => {
        const rows = 5, rowBytes = kvRowBytes(type, rowLen);
        for (const special of [false, true]) {
          const x = rowsOf(rows + 1, rowLen, 7 * rowLen + (special ? 1 : 0), special);
          // one row of offset on both sides: rows land at dstOffset + r · rowBytes
          const expected = new Uint8Array((rows + 2) * rowBytes).fill(0xa5);
          packKvRowsReference(type, x, rowLen, rowLen, rows, expected, rowBytes);
          const inWasm = wasm.allocBytes((rows + 2) * rowBytes).fill(0xa5);
          wasm.packKvRows(type, x, rowLen, rowLen, rows, inWasm, rowBytes);
          expect(Array.from(inWasm)).toEqual(Array.from(expected));
          const plain = new Uint8Array((rows + 2) * rowBytes).fill(0xa5);
          wasm.packKvRows(type, x, rowLen, rowLen, rows, plain, rowBytes);
          expect(Array.from(plain)).toEqual(Array.from(expected));
          const viaJs = new Uint8Array((rows + 2) * rowBytes).fill(0xa5);
          jsBackend.packKvRows(type, x, rowLen, rowLen, rows, viaJs, rowBytes);
          expect(Array.from(viaJs)).toEqual(Array.from(expected));
        }
      });
    }
  }

  it("blocks the SIMD path hands to the scalar rule: the same bytes as the js reference", () => {
    // one block per case, 32 values each
    const blocks: number[][] = [
      new Array(32).fill(0), // all zero: d = 0
      Array.from({ length: 32 }, (_, j) => (j % 5 === 1 ? -0 : j % 7 === 4 ? 0 : 0.25 * j)), // q4_1 minimum ±0, signs in different lanes
      Array.from({ length: 32 }, (_, j) => (j === 9 ? -0 : j === 2 ? 0 : -0.5 - j)), // q4_1 maximum ±0
      Array.from({ length: 32 }, (_, j) => (j % 2 ? 1e-45 : -1e-45)), // subnormal: d underflows to 0
      Array.from({ length: 32 }, (_, j) => (j + 1) * 2e-39), // subnormal scale: 1/d is infinite
      Array.from({ length: 32 }, (_, j) => (j === 17 ? -3 : j === 30 ? 3 : j === 5 ? 3 : j / 16)), // largest magnitude tied, signs differ
      Array.from({ length: 32 }, (_, j) => (j === 0 ? 3.4e38 : j === 1 ? -3.4e38 : j)), // q4_1 range overflows
      Array.from({ length: 32 }, (_, j) => (j === 12 ? NaN : j - 16)),
      Array.from({ length: 32 }, () => NaN),
    ];
    const x = new Float32Array(blocks.flat());
    for (const type of TYPES) {
      const expected = new Uint8Array(kvRowBytes(type, x.length));
      packKvRowsReference(type, x, 0, x.length, 1, expected, 0);
      const got = wasm.allocBytes(expected.length);
      wasm.packKvRows(type, x, 0, x.length, 1, got, 0);
      expect(Array.from(got), type).toEqual(Array.from(expected));
    }
  });

  it("NaN and infinities in a block: the same bytes as the js reference", () => {
    for (const type of TYPES) {
      const x = rowsOf(1, 96, 3, false);
      x[3] = NaN; x[40] = Infinity; x[41] = -Infinity; x[70] = NaN; x[71] = 1e38; x[72] = -1e38;
      const expected = new Uint8Array(kvRowBytes(type, 96));
      packKvRowsReference(type, x, 0, 96, 1, expected, 0);
      const got = wasm.allocBytes(expected.length);
      wasm.packKvRows(type, x, 0, 96, 1, got, 0);
      expect(Array.from(got), type).toEqual(Array.from(expected));
    }
  });
});

describe("packKvRows reference", () => {
  it("q8_0 follows ggml's rule: d = max|x| / 127 as f16, q = roundf(x / d), halves away from zero", () => {
    const x = new Float32Array(32);
    x[0] = 127; x[1] = 0.5; x[2] = -0.5; x[3] = 1.5; x[4] = -126.5; x[5] = -127;
    const y = new Uint8Array(34);
    packBlockQ8_0(x, 0, y, 0);
    expect(y[0] | (y[1] << 8)).toBe(0x3c00); // 1.0 in f16
    expect(Array.from(new Int8Array(y.buffer, 2, 6))).toEqual([127, 1, -1, 2, -127, -127]);
  });

  it("decodes back within half a step (kvRowValues), the tail block zero-padded", () => {
    const rowLen = 40;
    const x = rowsOf(1, rowLen, 11, false);
    for (const type of TYPES) {
      const bytes = new Uint8Array(kvRowBytes(type, rowLen));
      packKvRowsReference(type, x, 0, rowLen, 1, bytes, 0);
      const back = new Float32Array(rowLen);
      kvRowValues(type, bytes, 0, 0, rowLen, back, 0);
      const range = Math.max(...Array.from(x, Math.abs));
      const step = type === "f32" ? 0 : type === "f16" ? range * 2 ** -10 : type === "q8_0" ? range / 127 : (2 * range) / 15;
      for (let i = 0; i < rowLen; i++) expect(Math.abs(back[i] - x[i]), `${type} ${i}`).toBeLessThanOrEqual(step);
      if (type === "q8_0" || type === "q4_0") {
        // the padding's zeros decode to 0 exactly (q4_1's to within a step of its block minimum)
        const padded = new Float32Array(64);
        kvRowValues(type, bytes, 0, 0, 64, padded, 0);
        for (let i = rowLen; i < 64; i++) expect(padded[i] === 0, `${type} ${i}`).toBe(true); // ±0: q4_0 scales negative
      }
    }
  });

  it("rejects rows that do not fit, and bad counts, naming them", () => {
    const x = new Float32Array(64);
    const y = new Uint8Array(34);
    expect(() => jsBackend.packKvRows("q8_0", x, 0, 32, 2, y, 0)).toThrow(TensorError);
    expect(() => jsBackend.packKvRows("q8_0", x, 0, 32, 2, y, 0)).toThrow(/dst/);
    expect(() => jsBackend.packKvRows("q8_0", x, 40, 32, 1, y, 0)).toThrow(/src/);
    expect(() => jsBackend.packKvRows("q8_0", x, 0, 32, -1, y, 0)).toThrow(/rows/);
    expect(() => jsBackend.packKvRows("q9" as KvType, x, 0, 32, 1, y, 0)).toThrow(/q9/);
  });
});

describe("wasm packKvRows errors", () => {
  it("checks its arguments as the js backend does", async () => {
    const wasm = await createWasmBackend({ threads: 1 });
    try {
      const x = wasm.allocF32(64);
      const y = wasm.allocBytes(34);
      expect(() => wasm.packKvRows("q4_0", x, 0, 64, 1, y, 0)).toThrow(/dst/);
      expect(() => wasm.packKvRows("q4_0", x, 0, 32, 1.5, y, 0)).toThrow(/rows/);
    } finally {
      await wasm.dispose();
    }
  });
});
