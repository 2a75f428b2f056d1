import { bf16ArrayToF32, f16ArrayToF32, f16ToF32 } from "../dtype/half";
import { GgufError } from "./errors";
import type { GgmlTypeInfo } from "./ggml-types";

/** True when this machine stores numbers little-endian (every JS platform in practice). */
export const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Reverse each `bytesPerElement`-byte element in place: little-endian <-> host order on a big-endian host. */
export function swapToHostOrder(bytes: Uint8Array, bytesPerElement: number): void {
  if (HOST_LITTLE_ENDIAN || bytesPerElement === 1) return;
  for (let i = 0; i < bytes.length; i += bytesPerElement) bytes.subarray(i, i + bytesPerElement).reverse();
}

/** Copy little-endian bytes into a fresh, aligned buffer in host order. */
export function copyLittleEndian(bytes: Uint8Array, bytesPerElement: number): ArrayBuffer {
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  swapToHostOrder(copy, bytesPerElement);
  return copy.buffer;
}

/**
 * Little-endian bytes as host-order elements, for reading only: the bytes themselves when the
 * host is little-endian and they start at a multiple of the element size (the common case, so
 * decoding costs no extra copy), else an aligned host-order copy.
 */
export function hostOrderBytes(bytes: Uint8Array, bytesPerElement: number): Uint8Array {
  if (HOST_LITTLE_ENDIAN && bytes.byteOffset % bytesPerElement === 0) return bytes;
  return new Uint8Array(copyLittleEndian(bytes, bytesPerElement));
}

/** The bytes of `out` (a view, no copy): where a reader puts F32 data directly. */
export function bytesOf(out: Float32Array): Uint8Array {
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

/** F32 bytes -> `out` in one copy (plus the byte swap on a big-endian host). */
export function f32BytesInto(bytes: Uint8Array, out: Float32Array): Float32Array {
  const target = bytesOf(out);
  target.set(bytes);
  swapToHostOrder(target, 4);
  return out;
}

const u16s = (bytes: Uint8Array): Uint16Array => {
  const host = hostOrderBytes(bytes, 2);
  return new Uint16Array(host.buffer, host.byteOffset, host.byteLength / 2);
};
const f64s = (bytes: Uint8Array): Float64Array => {
  const host = hostOrderBytes(bytes, 8);
  return new Float64Array(host.buffer, host.byteOffset, host.byteLength / 8);
};

/** F64, F16 or BF16 bytes decoded into `out` (already checked to hold exactly their values). */
export function decodeFloatBytes(kind: "F64" | "F16" | "BF16", bytes: Uint8Array, out: Float32Array): Float32Array {
  if (kind === "F16") return f16ArrayToF32(u16s(bytes), out);
  if (kind === "BF16") return bf16ArrayToF32(u16s(bytes), out);
  out.set(f64s(bytes));
  return out;
}

/** `out` when given and of exactly `count` elements, a new array when absent; the wrong length throws. */
function outputFor(type: string, count: number, out: Float32Array | undefined): Float32Array {
  if (out === undefined) return new Float32Array(count);
  if (out.length !== count) {
    throw new GgufError("GGUF_BAD_OUTPUT", `expected an output Float32Array of ${count} elements (the ${type} tensor's element count), found ${out.length}`);
  }
  return out;
}

/**
 * Tensor bytes of the plain float types and the two simplest quants -> f32: into `out` when
 * given (it must hold exactly `elementCount` values, GGUF_BAD_OUTPUT otherwise; e.g. an array
 * from a backend's allocF32, so the values land in wasm memory), else a new array. F32 is one
 * copy; the others decode in one pass, reading the bytes in place where alignment allows.
 *
 *   Q8_0 block (34 B): | d: f16 | qs: 32 × i8 |          x[j] = d * qs[j]
 *   Q4_0 block (18 B): | d: f16 | qs: 16 × u8 |          x[j] = d * ((qs[j] & 0xF) - 8),
 *                                                        x[j + 16] = d * ((qs[j] >> 4) - 8)
 *
 * Both products are exact in f32 (an 11-bit scale times a ≤ 8-bit integer), so these match
 * ggml's dequantize_row_q8_0 / dequantize_row_q4_0 bit for bit. Other quants belong to @zero-llm/quant.
 */
export function ggmlToFloat32(type: GgmlTypeInfo, bytes: Uint8Array, elementCount: number, out?: Float32Array): Float32Array {
  const convertible = ["F32", "F64", "F16", "BF16", "Q8_0", "Q4_0"];
  if (!convertible.includes(type.name)) {
    throw new GgufError(
      "GGUF_UNSUPPORTED_CONVERSION",
      `expected a tensor of type F32, F64, F16, BF16, Q8_0 or Q4_0 to convert to f32, found ${type.name} (dequantize it with @zero-llm/quant)`,
    );
  }
  const target = outputFor(type.name, elementCount, out);
  switch (type.name) {
    case "F32":
      return f32BytesInto(bytes, target);
    case "Q8_0":
      return dequantizeQ8_0(bytes, elementCount, target);
    case "Q4_0":
      return dequantizeQ4_0(bytes, elementCount, target);
    default:
      return decodeFloatBytes(type.name as "F64" | "F16" | "BF16", bytes, target);
  }
}

function dequantizeQ8_0(bytes: Uint8Array, elementCount: number, out: Float32Array): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let block = 0; block < elementCount / 32; block++) {
    const base = block * 34;
    const d = f16ToF32(view.getUint16(base, true));
    for (let j = 0; j < 32; j++) out[block * 32 + j] = d * view.getInt8(base + 2 + j);
  }
  return out;
}

function dequantizeQ4_0(bytes: Uint8Array, elementCount: number, out: Float32Array): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let block = 0; block < elementCount / 32; block++) {
    const base = block * 18;
    const d = f16ToF32(view.getUint16(base, true));
    for (let j = 0; j < 16; j++) {
      const q = bytes[base + 2 + j];
      out[block * 32 + j] = d * ((q & 0x0f) - 8);
      out[block * 32 + j + 16] = d * ((q >> 4) - 8);
    }
  }
  return out;
}
