import { attend } from "./attend";
import { kvDimOf } from "./config";
import type { KVCache } from "./kv-cache";
import { embed, type Runtime } from "./steps";

/**
 * One token through the whole model: the decode step. Every projection is a matrix × vector.
 * The token sits at position cache.length; its keys and values are appended to the cache and the
 * logits for the next token come back in the run state's buffer (valid until the next call).
 *
 * Shapes: x, xb, xb2, q [dim]; k, v [kvDim = nKvHeads · headDim]; hb, hb2 [hiddenDim].
 */
export function decodeStep(rt: Runtime, token: number, cache: KVCache): Float32Array {
  const { config: c, backend: be, w } = rt;
  const s = rt.state.rows(1);
  const { dim, hiddenDim, nHeads, nKvHeads } = c;
  const kvDim = kvDimOf(c);
  const pos = cache.length;
  cache.reserve(1);

  embed(rt, s.x, 0, token, pos);

  for (let l = 0; l < c.nLayers; l++) {
    const L = w.layers[l];
    const { k: keys, v: values } = cache.layers[l];

    // ── attention: x += Wo · attend(q, K[0..pos], V[0..pos]), q k v projected from norm(x)
    rt.norm(s.xb, s.x, L.attnNorm, L.attnNormBias, 1);
    be.matvec(s.q, L.wq, s.xb, dim, dim);
    be.matvec(s.k, L.wk, s.xb, kvDim, dim);
    be.matvec(s.v, L.wv, s.xb, kvDim, dim);
    if (L.bq && L.bk && L.bv) {
      be.add(s.q, s.q, L.bq);
      be.add(s.k, s.k, L.bk);
      be.add(s.v, s.v, L.bv);
    }
    if (c.arch === "llama") {
      // rotate this position's q and k; the cached keys were rotated at their own positions
      rt.rope(s.q, 1, nHeads, pos);
      rt.rope(s.k, 1, nKvHeads, pos);
    }
    keys.write(pos, s.k, 0, 1);
    values.write(pos, s.v, 0, 1);
    // one query row over keys 0..pos; query head h reads kv head h / (nHeads / nKvHeads)
    attend(rt, s.xb, s.q, 1, keys, values, pos + 1);
    be.matvec(s.xb2, L.wo, s.xb, dim, dim);
    if (L.bo) be.add(s.xb2, s.xb2, L.bo);
    be.add(s.x, s.x, s.xb2);

    // ── MLP: x += down(act(up(norm(x))))
    rt.norm(s.xb, s.x, L.ffnNorm, L.ffnNormBias, 1);
    if (L.wGate) {
      // SwiGLU: down(silu(gate · x) ⊙ (up · x))
      be.matvec(s.hb, L.wGate, s.xb, hiddenDim, dim);
      be.matvec(s.hb2, L.wUp, s.xb, hiddenDim, dim);
      be.swiglu(s.hb, s.hb, s.hb2);
    } else {
      // GPT-2: down(gelu(up · x + b))
      be.matvec(s.hb, L.wUp, s.xb, hiddenDim, dim);
      if (L.bUp) be.add(s.hb, s.hb, L.bUp);
      be.gelu(s.hb, s.hb);
    }
    be.matvec(s.xb2, L.wDown, s.hb, dim, hiddenDim);
    if (L.bDown) be.add(s.xb2, s.xb2, L.bDown);
    be.add(s.x, s.x, s.xb2);
  }
  cache.advance(1);

  // ── final norm, then the classifier: logits [vocab] = lm_head [vocab, dim] · x
  rt.norm(s.xb, s.x, w.finalNorm, w.finalNormBias, 1);
  be.matvec(s.logits, w.lmHead, s.xb, c.vocabSize, dim);
  return s.logits;
}
