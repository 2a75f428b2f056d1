/**
 * Token masks: one bit per vocabulary id, 32 ids per word (bit i & 31 of word i >> 5), the
 * layout `Constraint.mask` writes and the sampler's mask step reads.
 *
 *   word 0: ids 0..31 (bit 0 = id 0)   word 1: ids 32..63   …   ceil(vocabSize / 32) words
 */
export function maskWords(vocabSize: number): number {
  return (vocabSize + 31) >>> 5;
}

export function isTokenAllowed(mask: Uint32Array, id: number): boolean {
  return (mask[id >>> 5] & (1 << (id & 31))) !== 0;
}

/** Sets the logits of disallowed tokens to −Infinity, in place; returns `logits`. */
export function applyTokenMask(logits: Float32Array, mask: Uint32Array): Float32Array {
  for (let w = 0, id = 0; id < logits.length; w++) {
    const bits = mask[w] ?? 0;
    const end = Math.min(id + 32, logits.length);
    if (bits === -1 || bits === 0xffffffff) {
      id = end;
      continue;
    }
    for (let b = 0; id < end; id++, b++) if ((bits & (1 << b)) === 0) logits[id] = -Infinity;
  }
  return logits;
}
