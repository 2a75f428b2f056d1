/**
 * Logits processors: each one rewrites a row of logits in place. A token is removed by setting
 * its logit to −Infinity, so after softmax its probability is exactly 0 and any later processor
 * still sees a valid row. Processors keep their scratch arrays between calls and sort or select
 * in place, so a processor applied once per generated token allocates nothing (only when the
 * vocabulary size changes); test/allocation.test.ts measures it.
 */
export type LogitsProcessor = (logits: Float32Array, history: ArrayLike<number>) => void;

/** Index of the largest logit; the first one wins a tie. */
export function argmax(logits: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
  return best;
}

/** probs = softmax(logits); the max is subtracted first so exp never overflows. out may be logits. */
export function softmax(out: Float32Array, logits: ArrayLike<number>): Float32Array {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i] > max) max = logits[i];
  let sum = 0;
  for (let i = 0; i < logits.length; i++) {
    const e = Math.exp(logits[i] - max);
    out[i] = e;
    sum += e;
  }
  for (let i = 0; i < logits.length; i++) out[i] /= sum;
  return out;
}

/** logits / t: t < 1 sharpens the distribution, t > 1 flattens it. (t = 0 is greedy, see Sampler.) */
export function temperature(t: number): LogitsProcessor {
  const inv = 1 / t;
  return (logits) => {
    for (let i = 0; i < logits.length; i++) logits[i] *= inv;
  };
}

/**
 * Keep the k largest logits. As in Hugging Face's TopKLogitsWarper, a token tied with the k-th
 * largest value is kept too, so a row with ties can keep more than k.
 */
export function topK(k: number): LogitsProcessor {
  let scratch = new Float32Array(0);
  return (logits) => {
    if (k >= logits.length) return;
    if (scratch.length !== logits.length) scratch = new Float32Array(logits.length);
    keepTopK(logits, scratch, k);
  };
}

// A plain function rather than the closure's body: compiled inside the closure (with the
// sampler's megamorphic call in front of it) V8 boxed the quickselect's doubles, ~4 heap numbers
// per token (measured by test/allocation.test.ts).
function keepTopK(logits: Float32Array, scratch: Float32Array, k: number): void {
  scratch.set(logits);
  const kth = scratch[selectKthLargest(scratch, k)];
  for (let i = 0; i < logits.length; i++) if (logits[i] < kth) logits[i] = -Infinity;
}

/** The k-th largest value of a (1 ≤ k ≤ a.length), reordering a. */
export function kthLargest(a: Float32Array, k: number): number {
  return a[selectKthLargest(a, k)];
}

/**
 * Quickselect (Hoare partition), in place, expected O(n): reorders a so that a[t] is the value
 * that ascending sort would put there, t = a.length − k, and returns t. −Infinity counts as the
 * smallest value, as in sort(). The middle element is the pivot, so a sorted or constant row
 * (ties everywhere) stays linear.
 */
function selectKthLargest(a: Float32Array, k: number): number {
  const target = a.length - k; // index of the k-th largest in ascending order
  let lo = 0, hi = a.length - 1;
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

/**
 * Nucleus sampling: keep the smallest set of most probable tokens whose probabilities sum to at
 * least p (ties broken by lower id first). The most probable token is always kept.
 *
 * Speed-up from llama2.c: a token with probability below (1 − p)/(n − 1) is almost never in the
 * nucleus, so only tokens above that cutoff are sorted. The sorted candidates are a prefix of the
 * full sorted order, so whenever they reach p the answer is exactly the unfiltered one; when they
 * do not (a very flat row) the whole row is sorted instead.
 */
export function topP(p: number): LogitsProcessor {
  let probs = new Float32Array(0);
  let order = new Uint32Array(0);
  // Number of leading ids of sorted[0..count) whose cumulative probability reaches p; 0 if it
  // never does. Made once per processor and reads p from here: p passed as an argument (a
  // double, after the arithmetic below) would be boxed into a new heap number on every call.
  const nucleusSize = (sorted: Uint32Array, count: number): number => {
    let cumulative = 0;
    for (let i = 0; i < count; i++) {
      cumulative += probs[sorted[i]];
      if (cumulative >= p) return i + 1;
    }
    return 0;
  };
  return (logits) => {
    const n = logits.length;
    if (p >= 1 || n <= 1) return;
    if (probs.length !== n) {
      probs = new Float32Array(n);
      order = new Uint32Array(n);
    }
    softmax(probs, logits);
    const cutoff = (1 - p) / (n - 1);
    let count = 0;
    for (let i = 0; i < n; i++) if (probs[i] >= cutoff) order[count++] = i;
    sortByProbDesc(order, count, probs);
    let keep = nucleusSize(order, count);
    if (keep === 0) {
      for (let i = 0; i < n; i++) order[i] = i;
      sortByProbDesc(order, n, probs);
      keep = nucleusSize(order, n) || n;
    }
    // remove everything strictly less probable than the last kept token, and its equals that
    // come after it in id order
    const last = order[keep - 1];
    for (let i = 0; i < n; i++) {
      if (probs[i] < probs[last] || (probs[i] === probs[last] && i > last)) logits[i] = -Infinity;
    }
  };
}

/** a before b: more probable first, the lower id on ties (a total order, so any sort agrees). */
function before(probs: Float32Array, a: number, b: number): boolean {
  return probs[a] > probs[b] || (probs[a] === probs[b] && a < b);
}

/**
 * Sorts ids order[0..count) by descending probability in place: heapsort, O(n log n) worst
 * case, no allocation (TypedArray.prototype.sort with a comparator copies the array first).
 */
function sortByProbDesc(order: Uint32Array, count: number, probs: Float32Array): void {
  for (let start = (count >> 1) - 1; start >= 0; start--) siftDown(order, probs, start, count);
  for (let end = count - 1; end > 0; end--) {
    const t = order[0]; order[0] = order[end]; order[end] = t;
    siftDown(order, probs, 0, end);
  }
}

/** Heap over order[0..end) whose root is the id that goes last (so each pop fills the range from the end). */
function siftDown(order: Uint32Array, probs: Float32Array, start: number, end: number): void {
  let root = start;
  for (;;) {
    let child = 2 * root + 1;
    if (child >= end) return;
    if (child + 1 < end && before(probs, order[child], order[child + 1])) child++;
    if (!before(probs, order[root], order[child])) return;
    const t = order[root]; order[root] = order[child]; order[child] = t;
    root = child;
  }
}

/** Min-p: keep tokens whose probability is at least p × (the top token's probability). */
export function minP(p: number): LogitsProcessor {
  return (logits) => {
    let max = -Infinity;
    for (let i = 0; i < logits.length; i++) if (logits[i] > max) max = logits[i];
    // prob_i ≥ p · prob_max  ⇔  logit_i ≥ logit_max + ln p (softmax's normaliser cancels)
    const threshold = max + Math.log(p);
    for (let i = 0; i < logits.length; i++) if (logits[i] < threshold) logits[i] = -Infinity;
  };
}

/**
 * The CTRL repetition penalty (Keskar et al. 2019, as in Hugging Face): every token id that
 * occurs in the last `window` tokens of history has its logit divided by `penalty` when positive
 * and multiplied by it when negative, so it always becomes less likely. Each id is penalised once.
 */
export function repetitionPenalty(penalty: number, window = Infinity): LogitsProcessor {
  let seen = new Uint8Array(0);
  return (logits, history) => {
    if (seen.length !== logits.length) seen = new Uint8Array(logits.length);
    // an integer start even when window is Infinity (Math.max(0, n − ∞) is the double 0, and a
    // double index makes each history[i] below a generic, allocating lookup)
    const start = window >= history.length ? 0 : history.length - window;
    for (let i = start; i < history.length; i++) {
      const id = history[i];
      if (id < 0 || id >= logits.length || seen[id]) continue;
      seen[id] = 1;
      logits[id] = logits[id] > 0 ? logits[id] / penalty : logits[id] * penalty;
    }
    for (let i = start; i < history.length; i++) {
      const id = history[i];
      if (id >= 0 && id < logits.length) seen[id] = 0;
    }
  };
}
