import type { Automaton } from "./automaton";

/**
 * Which parser positions no token can tell apart, so that they can share one mask-cache entry.
 *
 * A string of at most 40 characters compiles to 40 copies of the character loop, one per count;
 * its first 40 − h positions behave the same for every token of at most h bytes. Moore's
 * partition refinement, stopped after h rounds, finds such states: two states are h-equivalent
 * when they agree on being accepting, their byte successors are (h−1)-equivalent, and their calls
 * return to states equivalent for what is left after the shortest string of the callee
 * (same round for callees that may match nothing).
 *
 * A parked position reads its first byte with a byte edge, so its key is the (h−1)-classes of
 * its byte successors. Tokens longer than h bytes are not covered by the key: the mask cache
 * leaves them for the run-time check.
 */
export function maskKeys(a: Automaton, horizon: number): Int32Array {
  const { nStates, nClasses, next, accepting, callStart, callRule, callReturn, ruleOf, minLength } = a;
  const levels: Int32Array[] = [Int32Array.from(ruleOf)];
  let hasNullableCalls = false;
  // deepest level a call looks back to: a partition unchanged that many rounds in a row is final
  let lookBack = 1;
  for (let j = 0; j < callRule.length; j++) {
    const m = minLength[callRule[j]];
    if (m === 0) hasNullableCalls = true;
    else if (m < horizon) lookBack = Math.max(lookBack, m);
  }
  let classes = partitionSize(levels[0]);
  let unchanged = 0;
  for (let k = 1; k < horizon; k++) {
    const previous = levels[k - 1];
    let current = previous;
    let count = partitionSize(current);
    for (;;) {
      const same = current;
      const refined = partition(nStates, (s, sig) => {
        sig.push(same[s], accepting[s]);
        for (let c = 0; c < nClasses; c++) {
          const t = next[s * nClasses + c];
          if (t >= 0) sig.push(c, previous[t]);
        }
        for (let j = callStart[s]; j < callStart[s + 1]; j++) {
          const m = minLength[callRule[j]];
          sig.push(-1, callRule[j], m === 0 ? same[callReturn[j]] : m <= k ? levels[k - m][callReturn[j]] : -2);
        }
      });
      const refinedCount = partitionSize(refined);
      const stable = refinedCount === count;
      current = refined;
      count = refinedCount;
      if (stable || !hasNullableCalls) break;
    }
    levels.push(current);
    unchanged = count === classes ? unchanged + 1 : 0;
    classes = count;
    if (unchanged >= lookBack) {
      // nothing new for as deep as any signature looks: deeper rounds would not split further
      while (levels.length < horizon) levels.push(current);
      break;
    }
  }
  const last = levels[Math.min(horizon, levels.length) - 1];
  const reads = new Uint8Array(nStates);
  const keys = partition(nStates, (s, sig) => {
    sig.push(ruleOf[s]);
    for (let c = 0; c < nClasses; c++) {
      const t = next[s * nClasses + c];
      if (t >= 0) {
        sig.push(c, last[t]);
        reads[s] = 1;
      }
    }
  });
  for (let s = 0; s < nStates; s++) if (!reads[s]) keys[s] = -1;
  return keys;
}

/**
 * Class ids (0, 1, …) for n items by their signatures: equal signatures, same class. Signatures
 * are hashed, and compared in full within a hash bucket, so a collision cannot merge classes.
 */
function partition(n: number, signature: (item: number, out: number[]) => void): Int32Array {
  const ids = new Int32Array(n);
  const buckets = new Map<number, number[]>();
  const representatives: Int32Array[] = [];
  const sig: number[] = [];
  for (let s = 0; s < n; s++) {
    sig.length = 0;
    signature(s, sig);
    let h = 0x811c9dc5;
    for (let i = 0; i < sig.length; i++) h = Math.imul(h ^ sig[i], 0x01000193);
    let bucket = buckets.get(h);
    if (bucket === undefined) {
      bucket = [];
      buckets.set(h, bucket);
    }
    let id = -1;
    for (const candidate of bucket) {
      if (equal(representatives[candidate], sig)) {
        id = candidate;
        break;
      }
    }
    if (id < 0) {
      id = representatives.length;
      representatives.push(Int32Array.from(sig));
      bucket.push(id);
    }
    ids[s] = id;
  }
  return ids;
}

function equal(a: Int32Array, b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Number of classes of a partition whose ids are 0..count−1 (or rule ids for level 0). */
function partitionSize(ids: Int32Array): number {
  let max = -1;
  for (let i = 0; i < ids.length; i++) if (ids[i] > max) max = ids[i];
  return max + 1;
}
