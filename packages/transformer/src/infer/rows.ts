import { block, rowPosition, type ProbsSink, type RowCaches } from "./block";
import { KVCache } from "./kv-cache";
import { projectEach } from "@zero-llm/tensor";
import { embed, type Runtime } from "./steps";

/**
 * n tokens through every block: prefill (a chunk of one sequence's prompt: `caches` is its
 * KVCache) and batched decode (`caches` holds one cache per row: one token per sequence, or a
 * few consecutive tokens of a sequence in consecutive rows, as a speculative verify feeds them). The
 * same block as a decode step, over more rows. Leaves the final residual stream in
 * state.rows(n).x (the caller applies the final norm and lm_head to the rows it needs) and
 * advances the cache(s).
 */
export function forwardRows(
  rt: Runtime, tokens: ArrayLike<number>, tokenOffset: number, n: number, caches: RowCaches, probsSink?: ProbsSink,
): void {
  const s = rt.state.rows(n);
  const one = caches instanceof KVCache;
  if (one) caches.reserve(n);
  else for (let r = 0; r < n; r++) if (r === 0 || caches[r] !== caches[r - 1]) caches[r].reserve(runLength(caches, r));

  for (let r = 0; r < n; r++) {
    const pos = one ? caches.length + r : rowPosition(caches, r);
    embed(rt, s.x, r, tokens[tokenOffset + r], pos);
  }
  // a batched decode step goes through every layer in one backend call where it can (decode-layers.ts)
  const stepped = !one && !probsSink && !!rt.layersStep && rt.layersStep.run(s, n, caches);
  if (!stepped) for (let l = 0; l < rt.config.nLayers; l++) block(rt, l, s, n, caches, probsSink);

  if (one) caches.advance(n);
  else for (const cache of caches) cache.advance(1);
}

/** How many consecutive rows from `r` on share caches[r]. */
function runLength(caches: readonly KVCache[], r: number): number {
  let n = 1;
  while (r + n < caches.length && caches[r + n] === caches[r]) n++;
  return n;
}

/**
 * Moves the residual rows listed in `rows` (increasing) to the front, row rows[j] to row j, so
 * that logitsForRows(rt, rows.length) computes only theirs: x [n, dim] → x [rows.length, dim].
 * In place and in order: row j is written after rows 0 … j − 1 and rows[j] ≥ j, so no row is
 * overwritten before it is read. Returns rows.length.
 */
export function gatherRows(rt: Runtime, rows: ArrayLike<number>): number {
  const x = rt.state.rows(rt.state.maxRows).x;
  const dim = rt.config.dim;
  for (let j = 0; j < rows.length; j++) {
    const r = rows[j];
    if (r !== j) x.copyWithin(j * dim, r * dim, (r + 1) * dim);
  }
  return rows.length;
}

/**
 * Final norm and lm_head for rows [0, n): state.rows(n).logits [n, vocab]. With `each`, it is
 * called for consecutive row ranges as their logits are final (in order, covering [0, n)), while
 * the backend's workers compute the next rows (LinearWeight.projectEach).
 */
export function logitsForRows(rt: Runtime, n: number, each?: (r0: number, r1: number) => void): Float32Array {
  const { w } = rt;
  const s = rt.state.rows(n);
  rt.norm(s.xb, s.x, w.finalNorm, w.finalNormBias, n);
  if (each) projectEach(w.lmHead, s.logits, s.xb, n, each);
  else w.lmHead.project(s.logits, s.xb, n);
  return s.logits;
}

/** Final norm and lm_head for row r only, into the first logits row. */
export function logitsForRow(rt: Runtime, r: number): Float32Array {
  const { w } = rt;
  const row = rt.state.row(r);
  const first = rt.state.row(0);
  rt.norm(row.xb, row.x, w.finalNorm, w.finalNormBias, 1);
  w.lmHead.project(first.logits, row.xb, 1);
  return first.logits;
}
