import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { SafetensorsError, SafetensorsFile, serializeSafetensors, type SafetensorsTensorInput } from "../src/io/index";

// Written by tools/fixtures/make_safetensors_fixture.py (json + numpy, bf16 from PyTorch), per the spec.
const pythonBytes = new Uint8Array(readFileSync(new URL("./fixtures/safetensors-python.safetensors", import.meta.url)));
type Entry = { dtype: string; shape: number[]; values: unknown };
const expected = JSON.parse(readFileSync(new URL("./fixtures/safetensors-python.json", import.meta.url), "utf8")) as Record<string, Entry>;

function st(fn: () => unknown): SafetensorsError {
  try {
    fn();
  } catch (error) {
    if (error instanceof SafetensorsError) return error;
    throw new Error(`expected a SafetensorsError, got ${String(error)}`, { cause: error });
  }
  throw new Error("expected a SafetensorsError, nothing was thrown");
}

/** A file from a header object and a byte buffer, bypassing the writer's checks. */
function handMade(header: unknown, bufferLength: number): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const bytes = new Uint8Array(8 + json.length + bufferLength);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(json.length), true);
  bytes.set(json, 8);
  return bytes;
}

const flat = (v: unknown): unknown[] => (Array.isArray(v) ? v.flatMap(flat) : [v]);

describe("safetensors reader on a file written by hand in Python", () => {
  const file = SafetensorsFile.parse(pythonBytes);

  it("reads __metadata__ and every tensor's dtype and shape", () => {
    expect(file.metadata).toEqual({ format: "pt", note: "ünïcode ✓" });
    const names = Object.keys(expected).filter((k) => k !== "__metadata__");
    expect(file.tensors.map((t) => t.name).sort()).toEqual(names.sort());
    for (const name of names) expect([file.tensorInfo(name).dtype, file.tensorInfo(name).shape], name).toEqual([expected[name].dtype, expected[name].shape]);
  });

  it("converts F32, F16, BF16 and F64 to f32 with the values numpy/torch wrote", () => {
    for (const name of ["model.embed_tokens.weight", "model.norm.weight", "lm_head.weight", "scalar", "empty"]) {
      expect(Array.from(file.tensorToFloat32(name)), name).toEqual(flat(expected[name].values));
    }
    expect(Array.from(file.tensorToFloat32("double"))).toEqual([Math.fround(1 / 3), -Infinity]); // -1e300 overflows f32
    expect(Array.from(file.tensorArray("double") as Float64Array)).toEqual([1 / 3, -1e300]);
  });

  it("reads integer and bool tensors into their typed arrays", () => {
    expect(file.tensorArray("int8")).toEqual(new Int8Array([-128, -1, 0, 127]));
    expect(file.tensorArray("int16")).toEqual(new Int16Array([-32768, 32767]));
    expect(file.tensorArray("int32")).toEqual(new Int32Array([-2147483648, 0, 2147483647]));
    expect(file.tensorArray("int64")).toEqual(new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n]));
    expect(file.tensorArray("uint8")).toEqual(new Uint8Array([0, 128, 255]));
    expect(file.tensorArray("mask")).toEqual(new Uint8Array([1, 0, 0, 1]));
    expect(st(() => file.tensorToFloat32("int8")).code).toBe("SAFETENSORS_UNSUPPORTED_CONVERSION");
    expect(st(() => file.tensorBytes("nope")).code).toBe("SAFETENSORS_TENSOR_NOT_FOUND");
  });

  it("exposes raw bytes as views into the buffer, each aligned to its element size", () => {
    for (const t of file.tensors) {
      const bytes = file.tensorBytes(t.name);
      expect(bytes.buffer).toBe(pythonBytes.buffer);
      expect(bytes.length).toBe(t.byteLength);
      const size = { F64: 8, I64: 8, F32: 4, I32: 4 }[t.dtype as string] ?? 1;
      expect(t.fileOffset % size, t.name).toBe(0);
    }
  });
});

describe("safetensors writer", () => {
  it("given the same tensors, writes the same bytes as the Python writer", () => {
    const tensors: Record<string, SafetensorsTensorInput> = {};
    for (const t of SafetensorsFile.parse(pythonBytes).tensors) {
      tensors[t.name] = { dtype: t.dtype, shape: t.shape, data: SafetensorsFile.parse(pythonBytes).tensorBytes(t.name) };
    }
    const written = serializeSafetensors({ tensors, metadata: { format: "pt", note: "ünïcode ✓" } });
    expect(Buffer.from(written).toString("latin1")).toBe(Buffer.from(pythonBytes).toString("latin1"));
  });

  it("round-trips typed arrays, keeps integer-like names in order, pads the header to 8 bytes", () => {
    const tensors = new Map<string, SafetensorsTensorInput>([
      ["1", { dtype: "F32", shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) }],
      ["0", { dtype: "F16", shape: [3], data: new Uint16Array([0x3c00, 0x4000, 0xbc00]) }],
      ["b", { dtype: "U8", shape: [3], data: new Uint8Array([7, 8, 9]) }],
    ]);
    const bytes = serializeSafetensors({ tensors });
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(n % 8).toBe(0);
    const file = SafetensorsFile.parse(bytes);
    expect(file.tensors.map((t) => t.name)).toEqual(["1", "0", "b"]);
    expect(Array.from(file.tensorToFloat32("1"))).toEqual([1, 2, 3, 4]);
    expect(Array.from(file.tensorToFloat32("0"))).toEqual([1, 2, -1]);
    expect(file.metadata).toEqual({});
  });

  it("rejects data of the wrong size, bad shapes and reserved names", () => {
    expect(st(() => serializeSafetensors({ tensors: { a: { dtype: "F32", shape: [3], data: new Float32Array(2) } } })).code).toBe("SAFETENSORS_BAD_INPUT");
    expect(st(() => serializeSafetensors({ tensors: { a: { dtype: "F32", shape: [-1], data: new Float32Array(0) } } })).code).toBe("SAFETENSORS_BAD_INPUT");
    expect(st(() => serializeSafetensors({ tensors: { __metadata__: { dtype: "U8", shape: [0], data: new Uint8Array(0) } } })).code).toBe("SAFETENSORS_BAD_INPUT");
    expect(st(() => serializeSafetensors({ tensors: {}, metadata: { a: 1 as unknown as string } })).code).toBe("SAFETENSORS_BAD_INPUT");
  });
});

describe("safetensors reader on corrupt input: typed errors only", () => {
  it("throws a SafetensorsError for every truncated prefix", () => {
    for (let n = 0; n < pythonBytes.length; n++) st(() => SafetensorsFile.parse(pythonBytes.slice(0, n)));
  });

  it("throws nothing but SafetensorsError under 3000 random byte corruptions", () => {
    let state = 99;
    const random = () => ((state = (Math.imul(state, 1103515245) + 12345) >>> 0) / 2 ** 32);
    for (let trial = 0; trial < 3000; trial++) {
      const bytes = pythonBytes.slice();
      bytes[Math.floor(random() * 700)] = Math.floor(random() * 256);
      try {
        SafetensorsFile.parse(bytes);
      } catch (error) {
        if (!(error instanceof SafetensorsError)) throw new Error(`trial ${trial}: ${String(error)}`);
      }
    }
  });

  it("rejects a header length beyond the file or beyond 100 MB without allocating it", () => {
    const long = pythonBytes.slice();
    new DataView(long.buffer).setBigUint64(0, 2n ** 60n, true);
    expect(st(() => SafetensorsFile.parse(long)).code).toBe("SAFETENSORS_HEADER_TOO_LARGE");
    new DataView(long.buffer).setBigUint64(0, 5000n, true);
    expect(st(() => SafetensorsFile.parse(long)).code).toBe("SAFETENSORS_TRUNCATED");
  });

  it("rejects bad JSON, non-objects, invalid UTF-8 and malformed entries", () => {
    const bad = handMade({ a: { dtype: "F32", shape: [1], data_offsets: [0, 4] } }, 4);
    bad[9] = 0x7b; // '{' where the first quote was: broken JSON
    expect(st(() => SafetensorsFile.parse(bad)).code).toBe("SAFETENSORS_BAD_HEADER");
    expect(st(() => SafetensorsFile.parse(handMade([1, 2], 0))).code).toBe("SAFETENSORS_BAD_HEADER");
    const utf8 = handMade({ a: { dtype: "F32", shape: [1], data_offsets: [0, 4] } }, 4);
    utf8[10] = 0xff;
    expect(st(() => SafetensorsFile.parse(utf8)).code).toBe("SAFETENSORS_BAD_HEADER");
    expect(st(() => SafetensorsFile.parse(handMade({ a: { dtype: "F32", shape: [1] } }, 4))).code).toBe("SAFETENSORS_BAD_HEADER");
    expect(st(() => SafetensorsFile.parse(handMade({ a: { dtype: "F32", shape: [1.5], data_offsets: [0, 4] } }, 4))).code).toBe("SAFETENSORS_BAD_HEADER");
    expect(st(() => SafetensorsFile.parse(handMade({ __metadata__: { k: 1 } }, 0))).code).toBe("SAFETENSORS_BAD_HEADER");
  });

  it("rejects unknown dtypes", () => {
    const error = st(() => SafetensorsFile.parse(handMade({ a: { dtype: "F128", shape: [1], data_offsets: [0, 16] } }, 16)));
    expect(error.code).toBe("SAFETENSORS_UNKNOWN_DTYPE");
    expect(error.message).toContain("F128");
  });

  it("rejects offsets that overlap, leave holes, run past the buffer or disagree with shape × dtype", () => {
    const entry = (begin: number, end: number, shape = [1]) => ({ dtype: "F32", shape, data_offsets: [begin, end] });
    const cases: [unknown, number][] = [
      [{ a: entry(0, 4), b: entry(2, 6) }, 8], // overlap
      [{ a: entry(0, 4), b: entry(8, 12) }, 12], // hole
      [{ a: entry(0, 4) }, 8], // bytes after the last tensor
      [{ a: entry(0, 8) }, 4], // past the end
      [{ a: entry(0, 8, [3]) }, 8], // 3 × F32 is 12 bytes
      [{ a: entry(4, 0) }, 4], // end before begin
    ];
    for (const [header, length] of cases) expect(st(() => SafetensorsFile.parse(handMade(header, length))).code, JSON.stringify(header)).toBe("SAFETENSORS_BAD_OFFSETS");
  });
});
