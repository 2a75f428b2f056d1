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

// Applying a mask to a logits row is the sampler's mask step: `applyTokenMask` in ../penalties.ts.
