import type { Backend } from "../backend/backend";
import { TensorError } from "../errors";
import { F32Linear, type LinearWeight } from "./linear-weight";

/**
 * Two or three f32 weights of the same input width, projected over the same rows in one backend
 * call (Backend.linearGroup): a transformer block's q, k and v projections, or its gate and up.
 * One hand-off to the worker threads instead of one per weight, one pass of the caller over
 * the activations; each output the same bits as its own `project` (the group's kernel sums every
 * output as linear() does). The weights stay where they are: nothing is copied or concatenated.
 */
export class F32LinearGroup {
  private readonly outs: Float32Array[];

  private constructor(
    private readonly backend: Backend,
    private readonly ws: readonly Float32Array[],
    private readonly outFeatures: readonly number[],
    readonly inFeatures: number,
  ) {
    this.outs = ws.map(() => ws[0]); // placeholders, replaced on every call
  }

  /**
   * The group of `weights`, or null when they cannot be projected together: a weight that is not
   * an F32Linear (quantized, or an adapter's wrapper, whose project adds its own terms), weights
   * of different backends or input widths, or a backend without linearGroup.
   */
  static of(weights: readonly LinearWeight[]): F32LinearGroup | null {
    if (weights.length < 2 || weights.length > 3) return null;
    const f32 = weights.filter((w): w is F32Linear => w instanceof F32Linear);
    if (f32.length !== weights.length) return null;
    const { backend, inFeatures } = f32[0];
    if (!backend.linearGroup || f32.some((w) => w.backend !== backend || w.inFeatures !== inFeatures)) return null;
    return new F32LinearGroup(backend, f32.map((w) => w.data), f32.map((w) => w.outFeatures), inFeatures);
  }

  /**
   * y0 = W0 · x, y1 = W1 · x (and y2 = W2 · x for a group of three) for the rows of x
   * [rows, inFeatures], each y [rows, outFeatures of its weight].
   */
  project(x: Float32Array, rows: number, y0: Float32Array, y1: Float32Array, y2?: Float32Array): void {
    const outs = this.outs;
    outs[0] = y0;
    outs[1] = y1;
    if (outs.length === 3) {
      if (!y2) throw new TensorError("INVALID_ARGUMENT", "F32LinearGroup.project: expected an output for each of the 3 weights, found 2");
      outs[2] = y2;
    }
    const backend = this.backend;
    if (backend.linearGroup) backend.linearGroup(x, rows, this.inFeatures, this.ws, this.outFeatures, outs);
  }
}
