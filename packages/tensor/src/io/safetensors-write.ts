import { SafetensorsError } from "./errors";
import { joinParts, type FileParts } from "./file-parts";
import { SAFETENSORS_DTYPE_BITS, type SafetensorsDtype } from "./safetensors-read";

/**
 * safetensors writer, laid out as the reference implementation does: tensors ordered by dtype
 * (the reference's enum order, reversed: 8-byte types first, sub-byte types last) then by name, the header padded with spaces to a multiple of 8 bytes, so
 * every tensor starts at a file offset that is a multiple of its element size and can be viewed
 * in place as a typed array. "__metadata__" comes first in the header.
 */

export interface SafetensorsTensorInput {
  readonly dtype: SafetensorsDtype;
  /** Row-major shape; [] for a scalar. */
  readonly shape: readonly number[];
  /** Little-endian element bytes, e.g. a Float32Array for F32 or a Uint16Array of bits for F16. */
  readonly data: ArrayBufferView;
}

export interface SafetensorsWriteInput {
  readonly tensors: ReadonlyMap<string, SafetensorsTensorInput> | Readonly<Record<string, SafetensorsTensorInput>>;
  readonly metadata?: Readonly<Record<string, string>>;
}

/** The file as chunks to write in order, plus its total size. */
export type SafetensorsParts = FileParts;

const encoder = new TextEncoder();

// The reference implementation's Dtype enum order; sorting on it descending puts wide types first.
const DTYPE_ORDER: readonly SafetensorsDtype[] = [
  "BOOL", "F4", "F6_E2M3", "F6_E3M2", "U8", "I8", "F8_E5M2", "F8_E4M3", "F8_E8M0",
  "I16", "U16", "F16", "BF16", "I32", "U32", "F32", "C64", "F64", "I64", "U64",
];

/** The file as chunks to write in order: 8-byte length + header, then each tensor's bytes. */
export function safetensorsParts(input: SafetensorsWriteInput): SafetensorsParts {
  const entries = input.tensors instanceof Map ? [...input.tensors.entries()] : Object.entries(input.tensors);
  const prepared = entries.map(([name, t]) => prepare(name, t));
  prepared.sort((a, b) => DTYPE_ORDER.indexOf(b.dtype) - DTYPE_ORDER.indexOf(a.dtype) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

  // Built by hand, not with JSON.stringify of an object: object keys that look like integers
  // ("0", "1") would be reordered by the JS engine.
  const fields: string[] = [];
  if (input.metadata !== undefined) {
    for (const [key, value] of Object.entries(input.metadata)) {
      if (typeof value !== "string") throw new SafetensorsError("SAFETENSORS_BAD_INPUT", `expected metadata["${key}"] to be a string, found ${typeof value}`);
    }
    fields.push(`"__metadata__":${JSON.stringify(input.metadata)}`);
  }
  let offset = 0;
  for (const t of prepared) {
    const info = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.bytes.length] };
    fields.push(`${JSON.stringify(t.name)}:${JSON.stringify(info)}`);
    offset += t.bytes.length;
  }
  const json = encoder.encode(`{${fields.join(",")}}`);
  const headerLength = Math.ceil(json.length / 8) * 8;

  const head = new Uint8Array(8 + headerLength).fill(0x20, 8 + json.length); // pad with spaces
  new DataView(head.buffer).setBigUint64(0, BigInt(headerLength), true);
  head.set(json, 8);

  return { chunks: [head, ...prepared.map((t) => t.bytes)], byteLength: head.length + offset };
}

/** The whole file as one buffer. For large files prefer writeSafetensorsFile, which streams. */
export function serializeSafetensors(input: SafetensorsWriteInput): Uint8Array {
  return joinParts(safetensorsParts(input));
}

function prepare(name: string, t: SafetensorsTensorInput): { name: string; dtype: SafetensorsDtype; shape: number[]; bits: number; bytes: Uint8Array } {
  if (name === "__metadata__") throw new SafetensorsError("SAFETENSORS_BAD_INPUT", 'expected a tensor name other than "__metadata__"');
  const bits = SAFETENSORS_DTYPE_BITS[t.dtype];
  if (bits === undefined) throw new SafetensorsError("SAFETENSORS_BAD_INPUT", `expected a safetensors dtype for "${name}", found ${JSON.stringify(t.dtype)}`);
  if (!Array.isArray(t.shape) || !t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new SafetensorsError("SAFETENSORS_BAD_INPUT", `expected a shape of non-negative integers for "${name}", found ${JSON.stringify(t.shape)}`);
  }
  if (!ArrayBuffer.isView(t.data)) throw new SafetensorsError("SAFETENSORS_BAD_INPUT", `expected an ArrayBufferView as data of "${name}", found ${typeof t.data}`);
  const expectedBits = t.shape.reduce((a, b) => a * b, 1) * bits;
  const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  if (expectedBits % 8 !== 0 || bytes.length !== expectedBits / 8) {
    throw new SafetensorsError("SAFETENSORS_BAD_INPUT", `expected ${expectedBits / 8} bytes for "${name}" (shape [${t.shape.join(",")}] of ${t.dtype}), found ${bytes.length}`);
  }
  return { name, dtype: t.dtype, shape: [...t.shape], bits, bytes };
}
