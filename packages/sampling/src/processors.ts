/**
 * Logits processors: each one rewrites a row of logits in place. A token is removed by setting
 * its logit to −Infinity, so after softmax its probability is exactly 0 and any later processor
 * still sees a valid row. Processors that sort keep their scratch arrays between calls, so a
 * processor applied once per generated token allocates only when the vocabulary size changes.
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
  let sorted = new Float32Array(0);
  return (logits) => {
    if (k >= logits.length) return;
    if (sorted.length !== logits.length) sorted = new Float32Array(logits.length);
    sorted.set(logits);
    sorted.sort(); // ascending, −Infinity first
    const kth = sorted[logits.length - k];
    for (let i = 0; i < logits.length; i++) if (logits[i] < kth) logits[i] = -Infinity;
  };
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
  return (logits) => {
    const n = logits.length;
    if (p >= 1 || n <= 1) return;
    if (probs.length !== n) {
      probs = new Float32Array(n);
      order = new Uint32Array(n);
    }
    softmax(probs, logits);
    const byProbDesc = (a: number, b: number): number => probs[b] - probs[a] || a - b;
    const cutoff = (1 - p) / (n - 1);
    let count = 0;
    for (let i = 0; i < n; i++) if (probs[i] >= cutoff) order[count++] = i;
    let keep = nucleusSize(order.subarray(0, count).sort(byProbDesc), probs, p);
    if (keep === 0) {
      for (let i = 0; i < n; i++) order[i] = i;
      keep = nucleusSize(order.sort(byProbDesc), probs, p) || n;
    }
    // remove everything strictly less probable than the last kept token, and its equals that
    // come after it in id order
    const last = order[keep - 1];
    for (let i = 0; i < n; i++) {
      if (probs[i] < probs[last] || (probs[i] === probs[last] && i > last)) logits[i] = -Infinity;
    }
  };
}

/** Number of leading tokens of `sorted` whose cumulative probability reaches p; 0 if it never does. */
function nucleusSize(sorted: Uint32Array, probs: Float32Array, p: number): number {
  let cumulative = 0;
  for (let i = 0; i < sorted.length; i++) {
    cumulative += probs[sorted[i]];
    if (cumulative >= p) return i + 1;
  }
  return 0;
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
    const start = Math.max(0, history.length - window);
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
