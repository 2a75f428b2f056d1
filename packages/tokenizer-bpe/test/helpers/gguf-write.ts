import type { GgufValue } from "./gguf";

/**
 * A test-only GGUF v3 writer for metadata (no tensors), the inverse of `readGgufMetadata`. It
 * lets the .gguf tests run on a clean (undamaged) file too: the salvaged metadata, repaired, is
 * written back out and read again without salvage. @zero-llm/tensor has the real writer; this
 * package does not depend on it, even for tests.
 *
 *   | "GGUF" | version 3: u32 | n_tensors 0: u64 | n_kv: u64 | n_kv × | key | type: u32 | value |
 *
 * The reader hands back plain numbers, so their GGUF type is chosen here: integers >= 0 are u32,
 * negative integers i32, anything else f32 (the types llama.cpp writes for these keys).
 */
const TYPE = { u8: 0, i8: 1, u16: 2, i16: 3, u32: 4, i32: 5, f32: 6, bool: 7, string: 8, array: 9, u64: 10, i64: 11, f64: 12 } as const;

class Bytes {
  private parts: Uint8Array[] = [];
  private scalar(size: number, set: (view: DataView) => void): void {
    const b = new Uint8Array(size);
    set(new DataView(b.buffer));
    this.parts.push(b);
  }
  u32(v: number): void {
    this.scalar(4, (d) => d.setUint32(0, v, true));
  }
  u64(v: number | bigint): void {
    this.scalar(8, (d) => d.setBigUint64(0, BigInt(v), true));
  }
  string(s: string): void {
    const utf8 = new TextEncoder().encode(s);
    this.u64(utf8.length);
    this.parts.push(utf8);
  }
  raw(view: ArrayBufferView): void {
    this.parts.push(new Uint8Array(view.buffer, view.byteOffset, view.byteLength).slice());
  }
  concat(): Uint8Array {
    const out = new Uint8Array(this.parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of this.parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }
}

function numberType(v: number): number {
  if (Number.isInteger(v)) return v >= 0 ? TYPE.u32 : TYPE.i32;
  return TYPE.f32;
}

function typedArrayType(v: ArrayBufferView): number | undefined {
  if (v instanceof Uint8Array) return TYPE.u8;
  if (v instanceof Int8Array) return TYPE.i8;
  if (v instanceof Uint16Array) return TYPE.u16;
  if (v instanceof Int16Array) return TYPE.i16;
  if (v instanceof Uint32Array) return TYPE.u32;
  if (v instanceof Int32Array) return TYPE.i32;
  if (v instanceof Float32Array) return TYPE.f32;
  if (v instanceof Float64Array) return TYPE.f64;
  if (v instanceof BigUint64Array) return TYPE.u64;
  if (v instanceof BigInt64Array) return TYPE.i64;
  return undefined;
}

export function writeGgufMetadata(metadata: ReadonlyMap<string, GgufValue>): Uint8Array {
  const out = new Bytes();
  out.raw(new TextEncoder().encode("GGUF"));
  out.u32(3);
  out.u64(0);
  out.u64(metadata.size);
  for (const [key, value] of metadata) {
    out.string(key);
    if (typeof value === "string") {
      out.u32(TYPE.string);
      out.string(value);
    } else if (typeof value === "boolean") {
      out.u32(TYPE.bool);
      out.raw(Uint8Array.of(value ? 1 : 0));
    } else if (typeof value === "bigint") {
      out.u32(TYPE.u64);
      out.u64(value);
    } else if (typeof value === "number") {
      const type = numberType(value);
      out.u32(type);
      out.raw(type === TYPE.f32 ? Float32Array.of(value) : type === TYPE.i32 ? Int32Array.of(value) : Uint32Array.of(value));
    } else if (Array.isArray(value)) {
      out.u32(TYPE.array);
      const strings = value.every((x) => typeof x === "string");
      out.u32(strings ? TYPE.string : TYPE.bool);
      out.u64(value.length);
      for (const x of value) {
        if (typeof x === "string") out.string(x);
        else out.raw(Uint8Array.of(x ? 1 : 0));
      }
    } else {
      const type = typedArrayType(value);
      if (type === undefined) throw new Error(`gguf writer: ${key}: expected a typed array, found ${value.constructor.name}`);
      out.u32(TYPE.array);
      out.u32(type);
      out.u64(value.length);
      out.raw(value);
    }
  }
  return out.concat();
}
