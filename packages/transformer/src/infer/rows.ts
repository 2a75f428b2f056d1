import { attend } from "./attend";
import { kvDimOf } from "./config";
import type { KVCache } from "./kv-cache";
import { addBias, embed, type Runtime } from "./steps";

// nn.Linear layout: every weight is [out, in], so each projection multiplies by Wᵀ. One shared
// (frozen) options object rather than a literal per call: batched decode runs this per token.
const LINEAR = Object.freeze({ transB: true });

/**
 * How the rows in flight map onto sequences:
 * - `prefill`: n consecutive tokens of one sequence at positions cache.length … cache.length+n-1;
 *   attention is one causal call over the cache (query i sees keys ≤ its own position).
 * - `batch`: one token from each of n sequences, row r belonging to caches[r] at position
 *   caches[r].length; attention runs per row, each over its own cache.
 */
export type RowsMode = "prefill" | "batch";

/** Receives a layer's softmaxed attention weights [nHeads, seqQ, seqKv] during prefill. */
export type ProbsSink = (layer: number, probs: Float32Array, seqQ: number, seqKv: number) => void;

/**
 * n tokens through every block: the matrix × matrix path shared by prefill and batched decode.
 * Every projection is one matmul over all rows: [n, in] · W[out, in]ᵀ → [n, out]. Leaves the final
 * residual stream in state.rows(n).x (the caller applies the final norm and lm_head to the rows it
 * needs) and advances the caches.
 */
export function forwardRows(
  rt: Runtime, mode: RowsMode, tokens: ArrayLike<number>, tokenOffset: number, n: number,
  caches: readonly KVCache[], probsSink?: ProbsSink,
): void {
  const { config: c, backend: be, w } = rt;
  const s = rt.state.rows(n);
  const { dim, hiddenDim, nHeads, nKvHeads } = c;
  const kvDim = kvDimOf(c);
  const pos0 = caches[0].length; // prefill only
  if (mode === "prefill") caches[0].reserve(n);
  else for (const cache of caches) cache.reserve(1);

  for (let r = 0; r < n; r++) {
    const pos = mode === "prefill" ? pos0 + r : caches[r].length;
    embed(rt, s.x, r, tokens[tokenOffset + r], pos);
  }

  for (let l = 0; l < c.nLayers; l++) {
    const L = w.layers[l];

    // ── attention: x += Wo · attend(q, K, V), projections of norm(x)   [n, dim] → [n, dim]
    rt.norm(s.xb, s.x, L.attnNorm, L.attnNormBias, n);
    be.matmul(s.q, s.xb, L.wq, n, dim, dim, LINEAR); // [n, nHeads · headDim]
    be.matmul(s.k, s.xb, L.wk, n, dim, kvDim, LINEAR); // [n, nKvHeads · headDim]
    be.matmul(s.v, s.xb, L.wv, n, dim, kvDim, LINEAR);
    addBias(s.q, L.bq, n);
    addBias(s.k, L.bk, n);
    addBias(s.v, L.bv, n);

    if (mode === "prefill") {
      const { k: keys, v: values } = caches[0].layers[l];
      if (c.arch === "llama") {
        rt.rope(s.q, n, nHeads, pos0);
        rt.rope(s.k, n, nKvHeads, pos0);
      }
      keys.write(pos0, s.k, 0, n);
      values.write(pos0, s.v, 0, n);
      const seqKv = pos0 + n;
      const probs = probsSink ? new Float32Array(nHeads * n * seqKv) : undefined;
      attend(rt, s.xb, s.q, n, keys, values, seqKv, probs);
      if (probs && probsSink) probsSink(l, probs, n, seqKv);
    } else {
      for (let r = 0; r < n; r++) {
        const row = rt.state.row(r);
        const { k: keys, v: values } = caches[r].layers[l];
        const pos = caches[r].length;
        if (c.arch === "llama") {
          rt.rope(row.q, 1, nHeads, pos);
          rt.rope(row.k, 1, nKvHeads, pos);
        }
        keys.write(pos, s.k, r * kvDim, 1);
        values.write(pos, s.v, r * kvDim, 1);
        attend(rt, row.xb, row.q, 1, keys, values, pos + 1);
      }
    }
    be.matmul(s.xb2, s.xb, L.wo, n, dim, dim, LINEAR);
    addBias(s.xb2, L.bo, n);
    be.add(s.x, s.x, s.xb2);

    // ── MLP: x += down(act(up(norm(x))))   [n, dim] → [n, hiddenDim] → [n, dim]
    rt.norm(s.xb, s.x, L.ffnNorm, L.ffnNormBias, n);
    if (L.wGate) {
      be.matmul(s.hb, s.xb, L.wGate, n, dim, hiddenDim, LINEAR);
      be.matmul(s.hb2, s.xb, L.wUp, n, dim, hiddenDim, LINEAR);
      be.swiglu(s.hb, s.hb, s.hb2);
    } else {
      be.matmul(s.hb, s.xb, L.wUp, n, dim, hiddenDim, LINEAR);
      addBias(s.hb, L.bUp, n);
      be.gelu(s.hb, s.hb);
    }
    be.matmul(s.xb2, s.hb, L.wDown, n, hiddenDim, dim, LINEAR);
    addBias(s.xb2, L.bDown, n);
    be.add(s.x, s.x, s.xb2);
  }

  if (mode === "prefill") caches[0].advance(n);
  else for (const cache of caches) cache.advance(1);
}

/** Final norm and lm_head for rows [0, n): state.rows(n).logits [n, vocab]. */
export function logitsForRows(rt: Runtime, n: number): Float32Array {
  const { config: c, backend: be, w } = rt;
  const s = rt.state.rows(n);
  rt.norm(s.xb, s.x, w.finalNorm, w.finalNormBias, n);
  if (n === 1) be.matvec(s.logits, w.lmHead, s.xb, c.vocabSize, c.dim);
  else be.matmul(s.logits, s.xb, w.lmHead, n, c.dim, c.vocabSize, LINEAR);
  return s.logits;
}

/** Final norm and lm_head for row r only, into the first logits row. */
export function logitsForRow(rt: Runtime, r: number): Float32Array {
  const { config: c, backend: be, w } = rt;
  const row = rt.state.row(r);
  const first = rt.state.row(0);
  rt.norm(row.xb, row.x, w.finalNorm, w.finalNormBias, 1);
  be.matvec(first.logits, w.lmHead, row.xb, c.vocabSize, c.dim);
  return first.logits;
}
