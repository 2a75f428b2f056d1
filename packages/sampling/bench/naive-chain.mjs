// The sampler chain written the obvious way: every step sorts the whole vocabulary (as
// llama.cpp's softmax step does) and works on arrays of {id, logit} objects. It is the peer
// of bench/chain.mjs (same settings, same rows, measured in the same run) and, because it reads
// like the definitions, the oracle the tests compare the real chain with (test/chain.test.ts).
// It implements the chain's distribution (no XTC or Mirostat: they are tested on their own).

/** Options as the Sampler's (only the fields used here). */
export function naiveDistribution(logits, history, o, allowed) {
  const n = logits.length;
  const row = Float32Array.from(logits);
  if (allowed) for (let i = 0; i < n; i++) if (((allowed[i >>> 5] >>> (i & 31)) & 1) === 0) row[i] = -Infinity;
  for (const [id, bias] of Object.entries(o.logitBias ?? {})) row[Number(id)] += bias;
  applyPenalties(row, history, o);
  applyDry(row, history, o);
  // candidates sorted by logit, descending; ties: lower id first
  let cand = [];
  for (let i = 0; i < n; i++) if (row[i] !== -Infinity) cand.push({ id: i, logit: row[i] });
  const byLogit = (a, b) => b.logit - a.logit || a.id - b.id;
  cand.sort(byLogit);
  const minKeep = o.minKeep ?? 1;
  if ((o.topK ?? 0) > 0) cand = cand.slice(0, o.topK);
  if ((o.typicalP ?? 1) < 1) {
    const p = softmax(cand.map((c) => c.logit));
    const entropy = -p.reduce((s, pi) => s + (pi > 0 ? pi * Math.log(pi) : 0), 0);
    const scored = cand.map((c, j) => ({ ...c, p: p[j], score: Math.abs(-Math.log(p[j]) - entropy) }));
    scored.sort((a, b) => a.score - b.score || a.id - b.id);
    let mass = 0, keep = scored.length;
    for (let j = 0; j < scored.length; j++) {
      mass += scored[j].p;
      if (mass > o.typicalP && j + 1 >= Math.max(1, minKeep)) { keep = j + 1; break; }
    }
    cand = scored.slice(0, keep).map(({ id, logit }) => ({ id, logit })).sort(byLogit);
  }
  if ((o.topP ?? 1) < 1) {
    const p = softmax(cand.map((c) => c.logit));
    let mass = 0, keep = cand.length;
    for (let j = 0; j < cand.length; j++) {
      mass += p[j];
      if (mass >= o.topP && j + 1 >= minKeep) { keep = j + 1; break; }
    }
    cand = cand.slice(0, keep);
  }
  if ((o.minP ?? 0) > 0) {
    const threshold = cand[0].logit + Math.log(o.minP);
    const kept = cand.filter((c) => c.logit >= threshold);
    cand = kept.length >= minKeep ? kept : cand.slice(0, minKeep);
  }
  const out = new Float64Array(n);
  const t = o.temperature ?? 1;
  if (t === 0) {
    out[cand[0].id] = 1;
    return out;
  }
  const p = softmax(cand.map((c) => c.logit / t));
  cand.forEach((c, j) => { out[c.id] = p[j]; });
  return out;
}

/** One token from the naive distribution: inverse CDF in id order with the uniform u. */
export function naiveSample(logits, history, o, u) {
  const p = naiveDistribution(logits, history, o);
  let cumulative = 0, last = 0;
  for (let i = 0; i < p.length; i++) {
    if (p[i] === 0) continue;
    cumulative += p[i];
    last = i;
    if (u < cumulative) return i;
  }
  return last;
}

function softmax(xs) {
  const max = Math.max(...xs);
  const e = xs.map((x) => Math.exp(x - max));
  const z = e.reduce((s, v) => s + v, 0);
  return e.map((v) => v / z);
}

function applyPenalties(row, history, o) {
  const window = o.repetitionWindow ?? Infinity;
  const recent = window >= history.length ? Array.from(history) : Array.from(history).slice(history.length - window);
  const counts = new Map();
  for (const id of recent) counts.set(id, (counts.get(id) ?? 0) + 1);
  const rep = o.repetitionPenalty ?? 1, freq = o.frequencyPenalty ?? 0, pres = o.presencePenalty ?? 0;
  if (window === 0 || (rep === 1 && freq === 0 && pres === 0)) return;
  for (const [id, c] of counts) {
    const l = row[id];
    row[id] = (l <= 0 ? l * rep : l / rep) - (c * freq + pres);
  }
}

// DRY by its definition, in quadratic time: for every earlier position, how many tokens before
// it (itself included) equal the newest ones; the token after it gets the penalty.
function applyDry(row, history, o) {
  const mult = o.dryMultiplier ?? 0, base = o.dryBase ?? 1.75, allowed = o.dryAllowedLength ?? 2;
  const window = o.dryWindow ?? Infinity;
  if (mult === 0 || base < 1 || window === 0) return;
  const w = window >= history.length ? Array.from(history) : Array.from(history).slice(history.length - window);
  const L = w.length;
  if (L <= allowed) return;
  const breakers = o.dryBreakers ?? [];
  // tokens after the newest complete breaker
  let limit = L;
  search: for (let i = 0; i < L; i++) {
    const head = w[L - 1 - i];
    let longest = -1;
    for (const b of breakers) {
      if (b[0] !== head) continue;
      const tail = b.slice(1);
      if (tail.length > i || tail.length <= longest) continue;
      if (tail.every((t, k) => w[L - i + k] === t)) longest = tail.length;
    }
    if (longest >= 0) { limit = i - longest; break search; }
  }
  if (limit < allowed) return;
  const best = new Map();
  for (let p = 0; p < L - 1; p++) {
    let len = 0;
    while (len <= p && w[p - len] === w[L - 1 - len]) len++;
    len = Math.min(len, limit);
    if (len >= allowed) best.set(w[p + 1], Math.max(best.get(w[p + 1]) ?? 0, len));
  }
  const single = new Set(breakers.filter((b) => b.length === 1).map((b) => b[0]));
  const maxExponent = base > 1.000001 ? Math.trunc(88.7228391 / Math.log(base)) : 0;
  for (const [id, len] of best) {
    if (single.has(id)) continue;
    let e = len - allowed;
    if (maxExponent > 0 && e > maxExponent) e = maxExponent;
    row[id] -= mult * Math.pow(base, e);
  }
}
