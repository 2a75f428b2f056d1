import { bf16ArrayToF32, f16ArrayToF32, f16ToF32 } from "../dtype/half";
import { GgufError } from "./errors";
import type { GgmlTypeInfo } from "./ggml-types";

/** True when this machine stores numbers little-endian (every JS platform in practice). */
export const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Copy little-endian bytes into a fresh, aligned buffer in host order. */
export function copyLittleEndian(bytes: Uint8Array, bytesPerElement: number): ArrayBuffer {
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  if (!HOST_LITTLE_ENDIAN && bytesPerElement > 1) {
    for (let i = 0; i < copy.length; i += bytesPerElement) copy.subarray(i, i + bytesPerElement).reverse();
  }
  return copy.buffer;
}

/**
 * Tensor bytes of the plain float types and the two simplest quants -> f32, always a new array.
 *
 *   Q8_0 block (34 B): | d: f16 | qs: 32 × i8 |          x[j] = d * qs[j]
 *   Q4_0 block (18 B): | d: f16 | qs: 16 × u8 |          x[j] = d * ((qs[j] & 0xF) - 8),
 *                                                        x[j + 16] = d * ((qs[j] >> 4) - 8)
 *
 * Both products are exact in f32 (an 11-bit scale times a ≤ 8-bit integer), so these match
 * ggml's dequantize_row_q8_0 / dequantize_row_q4_0 bit for bit. Other quants belong to @zero-llm/quant.
 */
export function ggmlToFloat32(type: GgmlTypeInfo, bytes: Uint8Array, elementCount: number): Float32Array {
  switch (type.name) {
    case "F32":
      return new Float32Array(copyLittleEndian(bytes, 4));
    case "F64":
      return Float32Array.from(new Float64Array(copyLittleEndian(bytes, 8)));
    case "F16":
      return f16ArrayToF32(new Uint16Array(copyLittleEndian(bytes, 2)));
    case "BF16":
      return bf16ArrayToF32(new Uint16Array(copyLittleEndian(bytes, 2)));
    case "Q8_0":
      return dequantizeQ8_0(bytes, elementCount);
    case "Q4_0":
      return dequantizeQ4_0(bytes, elementCount);
    default:
      throw new GgufError(
        "GGUF_UNSUPPORTED_CONVERSION",
        `expected a tensor of type F32, F64, F16, BF16, Q8_0 or Q4_0 to convert to f32, found ${type.name} (dequantize it with @zero-llm/quant)`,
      );
  }
}

function dequantizeQ8_0(bytes: Uint8Array, elementCount: number): Float32Array {
  const out = new Float32Array(elementCount);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let block = 0; block < elementCount / 32; block++) {
    const base = block * 34;
    const d = f16ToF32(view.getUint16(base, true));
    for (let j = 0; j < 32; j++) out[block * 32 + j] = d * view.getInt8(base + 2 + j);
  }
  return out;
}

function dequantizeQ4_0(bytes: Uint8Array, elementCount: number): Float32Array {
  const out = new Float32Array(elementCount);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let block = 0; block < elementCount / 32; block++) {
    const base = block * 18;
    const d = f16ToF32(view.getUint16(base, true));
    for (let j = 0; j < 16; j++) {
      const q = bytes[base + 2 + j]!;
      out[block * 32 + j] = d * ((q & 0x0f) - 8);
      out[block * 32 + j + 16] = d * ((q >> 4) - 8);
    }
  }
  return out;
}
