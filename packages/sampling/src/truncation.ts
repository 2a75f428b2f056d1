import type { Rng } from "@zero-llm/tensor";
import { UNIT_SCALE, badLogit, noCandidates, type Candidates } from "./candidates";
import { portableLog } from "./portable-math";
import { selectByMass, selectKthLargest, siftDownIds, siftUpIds } from "./select";

/**
 * The truncation steps of the chain, in llama.cpp's order: top-k → typical-p → top-p → min-p →
 * XTC. Each removes candidates (see candidates.ts) and never reorders them. Probabilities are
 * those of the logits as they reach the step, at temperature 1: temperature comes after all of
 * them, as in llama.cpp (Hugging Face applies it first).
 *
 * Ties are broken by token id, lower first, everywhere: llama.cpp leaves them to std::sort's
 * unspecified order; a fixed rule makes every run, engine and platform agree.
 */

/** llama.cpp `top_k`: keep exactly the k tokens with the largest logits (k ≥ count keeps all). */
export class TopK {
  constructor(readonly k: number) {}

  apply(row: Float32Array, c: Candidates): void {
    const k = this.k;
    if (k <= 0 || k >= c.count) return;
    // small k (the usual 20–100): one pass against the worst of the k best so far, which rejects
    // almost every token with one comparison (llama.cpp uses a partial sort for k ≤ 128, a heap
    // too); a large k: quickselect
    if (k <= SMALL_K) keepBestByHeap(row, c, k);
    else {
      markLargestLogits(row, c, k);
      c.compact();
    }
  }

  /**
   * The chain's first step fused with building the candidate list: one pass over the row that
   * checks each logit and offers it to the heap of the k best, instead of listing every finite
   * token and then selecting among them (the same result as c.fromRow(row) + apply(row, c)).
   */
  fromRow(row: Float32Array, c: Candidates): void {
    const k = this.k;
    if (k <= 0 || k > SMALL_K || k >= row.length) {
      c.fromRow(row);
      this.apply(row, c);
      return;
    }
    c.reserve(row.length);
    const heap = c.order;
    let size = 0;
    for (let i = 0; i < row.length; i++) {
      const v = row[i];
      if (!(v > -Infinity && v < Infinity)) {
        if (v !== -Infinity) badLogit(i, v);
        continue;
      }
      if (size < k) {
        heap[size] = i;
        siftUpIds(heap, size, row);
        size++;
      } else if (v > row[heap[0]]) {
        heap[0] = i;
        siftDownIds(heap, k, row);
      }
    }
    if (size === 0) noCandidates(row.length);
    sortAscending(heap, size);
    for (let j = 0; j < size; j++) c.ids[j] = heap[j]; // (not ids.set(heap.subarray()): a view is an allocation)
    c.count = size;
  }
}

/** Up to this k, top-k keeps a heap of the k best (expected O(n + k log k log(n/k))), above it quickselects (O(n)). */
const SMALL_K = 256;

/**
 * Top-k by a min-heap of candidate positions whose root is the worst of the k best so far
 * (smallest logit; among equals the highest id, as lower ids win ties). Candidates come in id
 * order, so a later token enters only with a strictly larger logit than the root.
 */
function keepBestByHeap(row: Float32Array, c: Candidates, k: number): void {
  const { ids, order: heap } = c;
  for (let j = 0; j < k; j++) {
    heap[j] = j;
    siftUp(heap, j, row, ids);
  }
  for (let j = k; j < c.count; j++) {
    if (row[ids[j]] > row[ids[heap[0]]]) {
      heap[0] = j;
      siftDown(heap, k, row, ids);
    }
  }
  // the survivors back in id order: positions ascending
  sortAscending(heap, k);
  for (let j = 0; j < k; j++) ids[j] = ids[heap[j]];
  c.count = k;
}

/** Insertion sort of a[0..n) (n ≤ SMALL_K). */
function sortAscending(a: Int32Array, n: number): void {
  for (let i = 1; i < n; i++) {
    const x = a[i];
    let j = i - 1;
    for (; j >= 0 && a[j] > x; j--) a[j + 1] = a[j];
    a[j + 1] = x;
  }
}

/** a is worse than b: a smaller logit, or an equal one with a higher id. */
function worse(row: Float32Array, ids: Int32Array, a: number, b: number): boolean {
  const la = row[ids[a]], lb = row[ids[b]];
  return la < lb || (la === lb && a > b);
}

function siftUp(heap: Int32Array, at: number, row: Float32Array, ids: Int32Array): void {
  let child = at;
  while (child > 0) {
    const parent = (child - 1) >> 1;
    if (!worse(row, ids, heap[child], heap[parent])) return;
    const t = heap[child]; heap[child] = heap[parent]; heap[parent] = t;
    child = parent;
  }
}

function siftDown(heap: Int32Array, size: number, row: Float32Array, ids: Int32Array): void {
  let parent = 0;
  for (;;) {
    let child = 2 * parent + 1;
    if (child >= size) return;
    if (child + 1 < size && worse(row, ids, heap[child + 1], heap[child])) child++;
    if (!worse(row, ids, heap[child], heap[parent])) return;
    const t = heap[child]; heap[child] = heap[parent]; heap[parent] = t;
    parent = child;
  }
}

/** Marks the k candidates with the largest logits (ties at the k-th value: lower ids first) as kept. */
function markLargestLogits(row: Float32Array, c: Candidates, k: number): void {
  const { ids, values, kept } = c;
  const count = c.count;
  for (let j = 0; j < count; j++) values[j] = row[ids[j]];
  const kth = values[selectKthLargest(values, count, k)];
  let above = 0;
  for (let j = 0; j < count; j++) if (row[ids[j]] > kth) above++;
  // every logit above the k-th largest, then its equals in id order until there are k
  let ties = k - above;
  for (let j = 0; j < count; j++) {
    const v = row[ids[j]];
    if (v > kth) kept[j] = 1;
    else if (v === kth && ties > 0) {
      kept[j] = 1;
      ties--;
    }
  }
}

/**
 * llama.cpp `typical` (Meister et al. 2022, "locally typical sampling"): with H the entropy of
 * the distribution, a token's distance from typical is |−ln p − H|; keep the most typical tokens
 * until their mass exceeds p (strictly, as llama.cpp; top-p's test is ≥).
 *
 * llama.cpp (Feb 2025) compares the kept count with `min_keep − 1` on an unsigned integer, so
 * with min_keep = 0 (its CLI's default) typical-p never truncates; here minKeep 0 means 1.
 */
export class TypicalP {
  constructor(readonly p: number, readonly minKeep: number) {}

  apply(row: Float32Array, c: Candidates): void {
    if (this.p >= 1) return;
    c.softmax(row, UNIT_SCALE);
    const { ids, probs, keys, order, kept, last } = c;
    const count = c.count, max = last[0], logZ = last[1];
    // ln p_j = (logit_j − max) − ln Z: the log-softmax, no logarithm per token
    let entropy = 0;
    for (let j = 0; j < count; j++) entropy -= probs[j] * (row[ids[j]] - max - logZ);
    // the largest key first: the smallest distance |−ln p − H|
    for (let j = 0; j < count; j++) keys[j] = -Math.abs(logZ - (row[ids[j]] - max) - entropy);
    for (let j = 0; j < count; j++) order[j] = j;
    const taken = selectByMass(order, count, keys, probs, this.p, true, Math.max(1, this.minKeep));
    for (let t = 0; t < taken; t++) kept[order[t]] = 1;
    c.compact();
  }
}

/**
 * llama.cpp `top_p` (nucleus sampling, Holtzman et al. 2019): the most probable tokens until
 * their cumulative probability reaches p; the token that crosses p is kept.
 *
 * Only tokens with probability ≥ (1 − p)/(n − 1) can be in the nucleus (llama2.c's observation:
 * the others together hold less than 1 − p, so the ones above already reach p), so the selection
 * runs on those alone: a few hundred of 32,000 for a language model's row, with the same result.
 */
export class TopP {
  constructor(readonly p: number, readonly minKeep: number) {}

  apply(row: Float32Array, c: Candidates): void {
    if (this.p >= 1) return;
    c.softmax(row, UNIT_SCALE);
    const { probs, order, kept } = c;
    const count = c.count;
    const cutoff = count > 1 ? (1 - this.p) / (count - 1) : 0;
    let m = 0;
    for (let j = 0; j < count; j++) if (probs[j] >= cutoff) order[m++] = j;
    const minKeep = Math.max(1, this.minKeep);
    if (m < minKeep) {
      // minKeep reaches below the cutoff: select among all
      m = count;
      for (let j = 0; j < count; j++) order[j] = j;
    }
    const taken = selectByMass(order, m, probs, probs, this.p, false, minKeep);
    for (let t = 0; t < taken; t++) kept[order[t]] = 1;
    c.compact();
  }
}

/**
 * llama.cpp `min_p` (Nguyen et al. 2024): keep tokens whose probability is at least p times the
 * most probable token's. p_i ≥ p·p_max ⇔ logit_i ≥ logit_max + ln p (the normaliser cancels),
 * so no softmax is needed. When fewer than minKeep pass, the minKeep largest are kept.
 */
export class MinP {
  /** ln p, once: a logarithm per call would be wasted work. */
  private readonly logP: number;

  constructor(readonly p: number, readonly minKeep: number) {
    this.logP = p > 0 ? portableLog(p) : -Infinity;
  }

  apply(row: Float32Array, c: Candidates): void {
    if (this.p <= 0) return;
    const { ids, kept } = c;
    const count = c.count;
    let max = -Infinity;
    for (let j = 0; j < count; j++) if (row[ids[j]] > max) max = row[ids[j]];
    const threshold = max + this.logP;
    let passed = 0;
    for (let j = 0; j < count; j++) {
      if (row[ids[j]] >= threshold) {
        kept[j] = 1;
        passed++;
      }
    }
    if (passed < this.minKeep) {
      for (let j = 0; j < count; j++) kept[j] = 0;
      markLargestLogits(row, c, Math.min(this.minKeep, count));
    }
    c.compact();
  }
}

/**
 * llama.cpp `xtc`, "exclude top choices" (from text-generation-webui): with probability
 * `probability`, every token whose probability is at least `threshold` is removed except the
 * least probable of them, so the model is pushed off its most obvious choices while one
 * above-threshold token (a still-plausible one) stays. Nothing happens with fewer than two such
 * tokens or when fewer than minKeep would remain; a threshold above 0.5 turns the step off, as in
 * llama.cpp.
 *
 * The coin is drawn from the sampler's stream, and only when the step can act (at least two
 * candidates), as llama.cpp draws it.
 */
export class Xtc {
  private readonly chance = new Float64Array(1);

  constructor(readonly probability: number, readonly threshold: number, readonly minKeep: number) {}

  apply(row: Float32Array, c: Candidates, rng: Rng): void {
    if (this.probability <= 0 || this.threshold > 0.5 || c.count < 2) return;
    rng.uniformInto(this.chance, 0);
    if (this.chance[0] > this.probability) return;
    c.softmax(row, UNIT_SCALE);
    const { probs, kept } = c;
    const count = c.count;
    let above = 0, least = -1;
    for (let j = 0; j < count; j++) {
      if (probs[j] >= this.threshold) {
        above++;
        // the least probable; among equals the highest id (the last in probability-then-id order)
        if (least < 0 || probs[j] <= probs[least]) least = j;
      }
    }
    if (above < 2 || count - (above - 1) < this.minKeep) return;
    for (let j = 0; j < count; j++) kept[j] = probs[j] < this.threshold || j === least ? 1 : 0;
    c.compact();
  }
}
