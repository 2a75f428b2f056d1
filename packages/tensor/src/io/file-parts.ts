/**
 * A file laid out as byte ranges to write in order, plus its total size: what the GGUF and
 * safetensors writers produce, so a large model streams to disk (writeFileAtomic) instead of being
 * concatenated in memory first.
 */
export interface FileParts {
  readonly chunks: readonly Uint8Array[];
  readonly byteLength: number;
}

/** The parts as one buffer of `byteLength` bytes (for small files and in-memory use). */
export function joinParts({ chunks, byteLength }: FileParts): Uint8Array {
  const out = new Uint8Array(byteLength);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}
