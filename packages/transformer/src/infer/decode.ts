import { block } from "./block";
import type { KVCache } from "./kv-cache";
import { embed, type Runtime } from "./steps";

/**
 * One token through the whole model: the decode step, llama2.c's `forward(token, pos)`. The
 * token sits at position cache.length; its keys and values are appended to the cache and the
 * logits for the next token come back in the run state's buffer (valid until the next call).
 *
 *   x = embed(token) (+ position row, gpt2)
 *   for each layer:  x += attention(norm(x));  x += mlp(norm(x))       block.ts, one row
 *   logits = lm_head · norm(x)
 *
 * Prefill and batched decode (rows.ts) run the same block over more rows; every projection is
 * batch-invariant, so on the wasm backend this step's logits are the same bits as the prefill's
 * for the same position.
 */
export function decodeStep(rt: Runtime, token: number, cache: KVCache): Float32Array {
  const { config: c, w } = rt;
  const s = rt.state.rows(1);
  cache.reserve(1);

  embed(rt, s.x, 0, token, cache.length);
  for (let l = 0; l < c.nLayers; l++) block(rt, l, s, 1, cache);
  cache.advance(1);

  // ── final norm, then the classifier: logits [vocab] = lm_head [vocab, dim] · x
  rt.norm(s.xb, s.x, w.finalNorm, w.finalNormBias, 1);
  w.lmHead.project(s.logits, s.xb, 1);
  return s.logits;
}
