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

  /**
   * For a group of [gate, up] (a SwiGLU MLP): out = swiglu(Wgate · x, Wup · x) and up = Wup · x,
   * over the rows of x [rows, inFeatures]; out and up [rows, outFeatures]. The bits of project()
   * then backend.swiglu(out, out, up), in one call where the backend has linearSwiglu (one
   * hand-off to the worker threads, the SwiGLU applied by the thread that computed each output).
   */
  projectSwiglu(x: Float32Array, rows: number, out: Float32Array, up: Float32Array): void {
    if (this.ws.length !== 2 || this.outFeatures[0] !== this.outFeatures[1]) {
      throw new TensorError(
        "SHAPE_MISMATCH",
        `F32LinearGroup.projectSwiglu: expected a group of two weights of one output width (gate, up), found widths ${this.outFeatures.join(", ")}`,
      );
    }
    const backend = this.backend;
    if (backend.linearSwiglu) {
      backend.linearSwiglu(out, up, x, this.ws[0], this.ws[1], rows, this.inFeatures, this.outFeatures[0]);
      return;
    }
    this.project(x, rows, out, up);
    backend.swiglu(out, out, up);
  }
}
