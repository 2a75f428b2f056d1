/**
 * Partial selection, in place and allocation-free: what lets the chain avoid sorting a
 * 32,000-entry vocabulary. Quickselect finds the k-th largest value (top-k) and its weighted
 * form finds the best entries that reach a mass (top-p, typical-p), both in expected O(n)
 * where a sort costs O(n log n).
 */

/**
 * Quickselect (Hoare partition) over a[0..n): reorders it so that a[t] is the value that an
 * ascending sort would put there, t = n − k, and returns t, so a[t] is the k-th largest
 * (1 ≤ k ≤ n). −Infinity counts as the smallest value. The middle element is the pivot, so a
 * sorted or constant row (ties everywhere) stays linear. (An index, not the value: a double
 * returned from a call that is not inlined is boxed.)
 */
export function selectKthLargest(a: Float32Array, n: number, k: number): number {
  const target = n - k;
  let lo = 0, hi = n - 1;
  while (lo < hi) {
    const pivot = a[(lo + hi) >>> 1];
    let i = lo, j = hi;
    while (i <= j) {
      while (a[i] < pivot) i++;
      while (a[j] > pivot) j--;
      if (i <= j) {
        const t = a[i]; a[i] = a[j]; a[j] = t;
        i++;
        j--;
      }
    }
    // now a[lo..j] ≤ pivot ≤ a[i..hi], and a[j+1..i-1] == pivot
    if (target <= j) hi = j;
    else if (target >= i) lo = i;
    else return target;
  }
  return target;
}

/** The k-th largest value of a (1 ≤ k ≤ a.length), reordering a. */
export function kthLargest(a: Float32Array, k: number): number {
  return a[selectKthLargest(a, a.length, k)];
}

/**
 * Weighted quickselect over the positions order[0..count) (filled by the caller): the smallest m
 * such that the m best of them (by keys, larger first; the lower position on ties) carry a total
 * weight that reaches `target` (≥ target, or > target when `strict`) and m ≥ minKeep; m = count
 * when no prefix does. order[0..m) then holds those m positions, in no particular order.
 *
 * This is top-p's nucleus (weights = probabilities, keys = probabilities) and typical-p's set
 * (keys = −|surprise − entropy|) found without sorting: partition around a pivot; if the better
 * side already reaches the target the answer lies inside it, otherwise take it whole with the
 * pivot and continue on the worse side. Expected O(count), however many tokens the set holds.
 */
export function selectByMass(
  order: Int32Array, count: number, keys: Float64Array, weights: Float64Array, target: number, strict: boolean, minKeep: number,
): number {
  // invariant: order[0..lo) are the lo best positions, their weight is massBelow and does not
  // reach the target; the answer m lies in (lo, hi], or is count when hi is count and nothing reaches
  let lo = 0, hi = count;
  let massBelow = 0;
  while (lo < hi) {
    const pivot = order[(lo + hi) >>> 1];
    // partition order[lo..hi) into [better than pivot | pivot | worse than pivot]
    let better = lo;
    let betterMass = 0;
    for (let i = lo; i < hi; i++) {
      const q = order[i];
      if (before(keys, q, pivot)) {
        order[i] = order[better];
        order[better] = q;
        betterMass += weights[q];
        better++;
      }
    }
    for (let i = better; i < hi; i++) {
      if (order[i] === pivot) {
        order[i] = order[better];
        order[better] = pivot;
        break;
      }
    }
    // "reaches" written out at both tests, not a helper: a double passed to a call V8 does not
    // inline is boxed (16 bytes), and whether it inlines depends on what was inlined around it
    const withBetter = massBelow + betterMass;
    if ((strict ? withBetter > target : withBetter >= target) && better >= minKeep) {
      hi = better; // the answer is one of the better positions (there is at least one: lo's mass does not reach)
      continue;
    }
    const withPivot = withBetter + weights[pivot];
    if ((strict ? withPivot > target : withPivot >= target) && better + 1 >= minKeep) return better + 1;
    lo = better + 1;
    massBelow = withPivot;
  }
  return hi;
}

/** a before b: the larger key first, the lower position on ties (a total order: every run agrees). */
function before(keys: Float64Array, a: number, b: number): boolean {
  return keys[a] > keys[b] || (keys[a] === keys[b] && a < b);
}

/**
 * A bounded min-heap of token ids over a row of logits whose root is the worst of the best so
 * far (smaller logit, or an equal one with a higher id): top-k in one pass, and logprobs' top-n.
 * Tokens offered in id order enter only with a logit strictly above the root's.
 */
function worseId(row: Float32Array, a: number, b: number): boolean {
  return row[a] < row[b] || (row[a] === row[b] && a > b);
}

export function siftUpIds(heap: Int32Array, at: number, row: Float32Array): void {
  let child = at;
  while (child > 0) {
    const parent = (child - 1) >> 1;
    if (!worseId(row, heap[child], heap[parent])) return;
    const t = heap[child]; heap[child] = heap[parent]; heap[parent] = t;
    child = parent;
  }
}

export function siftDownIds(heap: Int32Array, size: number, row: Float32Array): void {
  let parent = 0;
  for (;;) {
    let child = 2 * parent + 1;
    if (child >= size) return;
    if (child + 1 < size && worseId(row, heap[child + 1], heap[child])) child++;
    if (!worseId(row, heap[child], heap[parent])) return;
    const t = heap[child]; heap[child] = heap[parent]; heap[parent] = t;
    parent = child;
  }
}
