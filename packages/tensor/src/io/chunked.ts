import { bytesOf, swapToHostOrder } from "./ggml-dequant";
import type { ByteSource } from "./source";

/**
 * Bytes a reader converts at a time (F16, BF16, F64 and block quants to f32): the memory a
 * conversion takes beside its output, whatever the tensor's size. 4 MiB: large enough that the
 * per-read cost vanishes, small next to any model.
 */
export const READ_CHUNK_BYTES = 1 << 22;
/** Longest single read: Node refuses reads of 2 GiB and more. */
const MAX_READ_BYTES = 1 << 30;

/** Reads [offset, offset + target.length) into target in reads of at most 1 GiB. */
export async function readAll(source: ByteSource, offset: number, target: Uint8Array): Promise<void> {
  for (let done = 0; done < target.length; done += MAX_READ_BYTES) {
    const n = Math.min(MAX_READ_BYTES, target.length - done);
    await source.read(offset + done, target.subarray(done, done + n));
  }
}

/**
 * Stored values → f32 in bounded memory: `count` elements stored from byte `offset` in units of
 * `unitElements` elements per `unitBytes` bytes (a block, or one element of a plain type) are read
 * a chunk at a time into `staging` and decoded by `decode(bytes, elements, out)` into
 * out[0, count). Plain f32 skips the staging: the bytes are read straight into out's memory.
 */
export async function readFloat32Chunked(
  source: ByteSource, offset: number, count: number, out: Float32Array,
  unit: { elements: number; bytes: number; f32: boolean },
  staging: () => Uint8Array,
  decode: (bytes: Uint8Array, elements: number, out: Float32Array) => void,
): Promise<Float32Array> {
  if (unit.f32) {
    const target = bytesOf(out.subarray(0, count));
    await readAll(source, offset, target);
    swapToHostOrder(target, 4);
    return out;
  }
  const buffer = staging();
  const unitsPerChunk = Math.max(1, Math.floor(buffer.length / unit.bytes));
  const units = count / unit.elements;
  for (let u = 0; u < units; u += unitsPerChunk) {
    const n = Math.min(unitsPerChunk, units - u);
    const bytes = n * unit.bytes <= buffer.length ? buffer.subarray(0, n * unit.bytes) : new Uint8Array(n * unit.bytes);
    await readAll(source, offset + u * unit.bytes, bytes);
    decode(bytes, n * unit.elements, out.subarray(u * unit.elements, (u + n) * unit.elements));
  }
  return out;
}

/** `out.length` little-endian f32 values at byte `offset` of `source`, read straight into out's memory. */
export async function readFloat32At(source: ByteSource, offset: number, out: Float32Array): Promise<Float32Array> {
  const target = bytesOf(out);
  await readAll(source, offset, target);
  swapToHostOrder(target, 4);
  return out;
}
