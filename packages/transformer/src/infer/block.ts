import { F32Linear } from "@zero-llm/tensor";
import { attend } from "./attend";
import { headDimOf, kvDimOf } from "./config";
import { KVCache } from "./kv-cache";
import { NO_ROWS, type RowBuffers } from "./run-state";
import { addBias, type Runtime } from "./steps";

/**
 * Where the rows in flight belong, which decides positions, KV writes and attention:
 * - one KVCache: consecutive tokens of one sequence at positions cache.length … cache.length+n-1
 *   (a decode step is n = 1; a prefill chunk is n tokens of the prompt); attention is one causal
 *   call over the cache, query i seeing keys up to its own position;
 * - an array of caches: one row per token, row r going to caches[r] (batched decode: one token
 *   of each of n sequences). Consecutive rows may share a cache: they are consecutive tokens of
 *   that sequence (a speculative verify of several sequences in one pass), at positions
 *   caches[r].length, +1, …; each row attends over its own cache up to its own position.
 */
export type RowCaches = KVCache | readonly KVCache[];

/** Receives a layer's softmaxed attention weights [nHeads, seqQ, seqKv] (a prefill's captureAttention). */
export type ProbsSink = (layer: number, probs: Float32Array, seqQ: number, seqKv: number) => void;

/**
 * Transformer block `l` over the n rows of `s` (the residual stream s.x [n, dim] is updated in
 * place), the one block body of every forward pass: decode, prefill and batched decode differ
 * only in how many rows they pass and where those rows' keys go (RowCaches). Every projection is
 * `LinearWeight.project` over all n rows, which is batch-invariant, so a row gets the same bits
 * whichever way it runs. Biases: each one that exists is added (gpt2 has all, llama none or some).
 *
 * Shapes: x, xb, xb2, q [n, dim]; k, v [n, kvDim = nKvHeads · headDim]; hb, hb2 [n, hiddenDim].
 */
export function block(rt: Runtime, l: number, s: RowBuffers, n: number, caches: RowCaches, probsSink?: ProbsSink): void {
  const be = rt.backend;
  const L = rt.w.layers[l];

  // ── attention: x += Wo · attend(q, K, V), with q k v projected from norm(x)
  rt.norm(s.xb, s.x, L.attnNorm, L.attnNormBias, n);
  if (L.qkv) L.qkv.project(s.xb, n, s.q, s.k, s.v); // one call: one hand-off to the workers
  else {
    L.wq.project(s.q, s.xb, n);
    L.wk.project(s.k, s.xb, n);
    L.wv.project(s.v, s.xb, n);
  }
  addBias(s.q, L.bq, n);
  addBias(s.k, L.bk, n);
  addBias(s.v, L.bv, n);
  // rotates q, k; appends k, v; s.xb = attention output, and s.xb2 = Wo · it when it says so
  if (!selfAttention(rt, l, s, n, caches, probsSink)) L.wo.project(s.xb2, s.xb, n);
  addBias(s.xb2, L.bo, n);
  be.add(s.x, s.x, s.xb2);

  // ── MLP: x += down(act(up(norm(x))))
  rt.norm(s.xb, s.x, L.ffnNorm, L.ffnNormBias, n);
  if (L.wGate) {
    // SwiGLU: down(silu(gate · x) ⊙ (up · x))
    if (L.gateUp && !L.bGate && !L.bUp) {
      // one call: the worker threads apply the SwiGLU to the outputs they computed
      L.gateUp.projectSwiglu(s.xb, n, s.hb, s.hb2);
    } else {
      if (L.gateUp) L.gateUp.project(s.xb, n, s.hb, s.hb2);
      else {
        L.wGate.project(s.hb, s.xb, n);
        L.wUp.project(s.hb2, s.xb, n);
      }
      addBias(s.hb, L.bGate, n);
      addBias(s.hb2, L.bUp, n);
      be.swiglu(s.hb, s.hb, s.hb2);
    }
  } else {
    // GPT-2: down(gelu(up · x + b))
    L.wUp.project(s.hb, s.xb, n);
    addBias(s.hb, L.bUp, n);
    be.gelu(s.hb, s.hb);
  }
  L.wDown.project(s.xb2, s.hb, n);
  addBias(s.xb2, L.bDown, n);
  be.add(s.x, s.x, s.xb2);
}

/**
 * RoPE on this step's q and k (llama: the cached keys were rotated at their own positions),
 * k and v appended to the cache(s), then grouped-query attention into s.xb: query head h reads
 * kv head h / (nHeads / nKvHeads). Returns true when it has projected s.xb by the layer's wo into
 * s.xb2 as well (a batched step over f32 caches with a plain f32 wo, on a backend with
 * attentionBatchProject: one hand-off to the worker threads for both, the same bits).
 */
function selfAttention(rt: Runtime, l: number, s: RowBuffers, n: number, caches: RowCaches, probsSink?: ProbsSink): boolean {
  const { nHeads, nKvHeads, arch } = rt.config;
  if (caches instanceof KVCache) {
    const { k: keys, v: values } = caches.layers[l];
    const pos0 = caches.length;
    if (arch === "llama") {
      rt.rope(s.q, n, nHeads, pos0);
      rt.rope(s.k, n, nKvHeads, pos0);
    }
    keys.write(pos0, s.k, 0, n);
    values.write(pos0, s.v, 0, n);
    const seqKv = pos0 + n;
    const probs = probsSink ? new Float32Array(nHeads * n * seqKv) : undefined;
    attend(rt, s.xb, s.q, n, keys, values, seqKv, probs);
    if (probs && probsSink) probsSink(l, probs, n, seqKv);
    return false;
  }
  // A batched step: row r is one token of caches[r]'s sequence. Positions, RoPE, the KV writes
  // and attention per row, with one backend call for all rows where the backend has one.
  const kvDim = kvDimOf(rt.config);
  const { positions, lengths, keys, values } = rt.state.batch;
  let f32 = true; // every row's cache is plain f32 at this layer: attentionBatch reads them all
  for (let r = 0; r < n; r++) {
    const pos = rowPosition(caches, r); // the rows before it of the same cache wrote their keys already
    positions[r] = pos;
    lengths[r] = pos + 1;
    const layer = caches[r].layers[l];
    keys[r] = layer.k.f32Rows ?? NO_ROWS;
    values[r] = layer.v.f32Rows ?? NO_ROWS;
    if (keys[r] === NO_ROWS || values[r] === NO_ROWS) f32 = false;
  }
  if (arch === "llama") {
    rt.ropeBatch(s.q, n, nHeads, positions);
    rt.ropeBatch(s.k, n, nKvHeads, positions);
  }
  for (let r = 0; r < n; r++) {
    const layer = caches[r].layers[l];
    layer.k.write(positions[r], s.k, r * kvDim, 1);
    layer.v.write(positions[r], s.v, r * kvDim, 1);
  }
  // row r attends up to its own position: a later row of the same cache (a speculative verify)
  // has written its key already, but lengths[r] stops before it
  const be = rt.backend, wo = rt.w.layers[l].wo;
  let projected = false;
  if (f32 && be.attentionBatchProject && wo instanceof F32Linear && wo.backend === be) {
    be.attentionBatchProject(s.xb2, s.xb, s.q, keys, values, lengths, n, nHeads, nKvHeads, headDimOf(rt.config), wo.data, wo.outFeatures);
    projected = true;
  } else if (f32) {
    be.attentionBatch(s.xb, s.q, keys, values, lengths, n, nHeads, nKvHeads, headDimOf(rt.config));
  } else {
    for (let r = 0; r < n; r++) {
      const row = rt.state.row(r);
      const layer = caches[r].layers[l];
      attend(rt, row.xb, row.q, 1, layer.k, layer.v, lengths[r]);
    }
  }
  for (let r = 0; r < n; r++) keys[r] = values[r] = NO_ROWS;
  return projected;
}

/**
 * Rows of a batch that share a cache are consecutive tokens of that sequence (a speculative
 * verify: the last token and the drafts after it): row r sits at its cache's length plus the
 * number of rows of the same cache just before it.
 */
export function rowPosition(caches: readonly KVCache[], r: number): number {
  const cache = caches[r];
  let before = 0;
  while (r - before > 0 && caches[r - before - 1] === cache) before++;
  return cache.length + before;
}
