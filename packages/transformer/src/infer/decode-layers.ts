import { F32Linear, type Backend, type DecodeLayersPlan, type DecodeLayerWeights, type LinearWeight } from "@zero-llm/tensor";
import { rowPosition } from "./block";
import { headDimOf, type Config } from "./config";
import type { KVCache } from "./kv-cache";
import type { ModelWeights } from "./layers";
import { NO_ROWS, type RowBuffers } from "./run-state";

/**
 * A batched decode step's layers as one backend call (Backend.decodeLayers): every row through
 * every block with no hand-off between kernels, on a backend with worker threads each thread
 * taking whole rows. The common case only; everything else keeps the per-op path of block.ts:
 * - planned once per model, and only for a Llama block with no biases at all (RMSNorm, RoPE,
 *   SwiGLU) whose matrices are all f32 on the model's backend (no quantized or LoRA-wrapped
 *   weight), on a backend that has decodeLayers;
 * - per step, only when every row's cache is f32 at every layer (no packed KV cache); a prefill
 *   or an attention capture never comes here. Consecutive rows may share a cache (a server's
 *   prompt chunk beside decode rows, a speculative verify): they are consecutive tokens of that
 *   sequence, row r at cache.length + its offset in the run, and the backend keeps a run on one
 *   thread, in order, so each row reads the keys its run wrote before it at every layer.
 * The bits are the per-op path's (test/infer-decode-layers.test.ts).
 */
export class DecodeLayersStep {
  /** Per step: layer l's keys and values of row r at [l · rows + r] (emptied after the call, so no cache is kept alive). */
  private readonly keys: Float32Array[];
  private readonly values: Float32Array[];
  private readonly positions: Int32Array;

  private constructor(private readonly backend: Backend, private readonly plan: DecodeLayersPlan, maxRows: number) {
    const slots = plan.nLayers * maxRows;
    this.keys = new Array<Float32Array>(slots).fill(NO_ROWS);
    this.values = new Array<Float32Array>(slots).fill(NO_ROWS);
    this.positions = new Int32Array(maxRows);
  }

  /** The step for this model, or null when it has to take the per-op path (see the class). */
  static plan(c: Config, w: ModelWeights, backend: Backend, maxRows: number): DecodeLayersStep | null {
    if (c.arch !== "llama" || !backend.prepareDecodeLayers || !backend.decodeLayers) return null;
    const f32 = (weight: LinearWeight | null): Float32Array | null =>
      weight instanceof F32Linear && weight.backend === backend ? weight.data : null;
    const layers: DecodeLayerWeights[] = [];
    for (const L of w.layers) {
      if (L.attnNormBias || L.ffnNormBias || L.bq || L.bk || L.bv || L.bo || L.bGate || L.bUp || L.bDown) return null;
      const wq = f32(L.wq), wk = f32(L.wk), wv = f32(L.wv), wo = f32(L.wo), wGate = f32(L.wGate), wUp = f32(L.wUp), wDown = f32(L.wDown);
      if (!wq || !wk || !wv || !wo || !wGate || !wUp || !wDown) return null;
      layers.push({ attnNorm: L.attnNorm, wq, wk, wv, wo, ffnNorm: L.ffnNorm, wGate, wUp, wDown });
    }
    const plan = backend.prepareDecodeLayers(
      {
        dim: c.dim, hiddenDim: c.hiddenDim, nHeads: c.nHeads, nKvHeads: c.nKvHeads, headDim: headDimOf(c),
        eps: c.normEps, ropeTheta: c.ropeTheta, ropeStyle: c.ropeStyle,
      },
      layers,
      maxRows,
    );
    return plan ? new DecodeLayersStep(backend, plan, maxRows) : null;
  }

  /**
   * Rows [0, n) of `s` through every layer, row r one token of caches[r] at position
   * caches[r].length + (rows before it sharing caches[r]) (rowPosition; reserved by the
   * caller): true when done, false (nothing written) when the step needs the per-op path.
   */
  run(s: RowBuffers, n: number, caches: readonly KVCache[]): boolean {
    const { keys, values, positions } = this;
    const layers = this.plan.nLayers;
    let f32 = true;
    for (let r = 0; r < n && f32; r++) {
      const cache = caches[r];
      positions[r] = rowPosition(caches, r); // the per-op path's rule: after the rows before it of the same sequence
      for (let l = 0; l < layers && f32; l++) {
        const layer = cache.layers[l];
        const k = layer.k.f32Rows, v = layer.v.f32Rows;
        if (!k || !v) f32 = false;
        else {
          keys[l * n + r] = k;
          values[l * n + r] = v;
        }
      }
    }
    const done = f32 && (this.backend.decodeLayers?.(this.plan, s, n, keys, values, positions) ?? false);
    keys.fill(NO_ROWS, 0, layers * n);
    values.fill(NO_ROWS, 0, layers * n);
    return done;
  }
}
