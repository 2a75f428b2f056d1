import type { Backend, LinearWeight } from "@zero-llm/tensor";
import type { AdapterSet } from "./adapter-set";

/**
 * Which adapters each row in flight runs with. A LoraModel sets it before every forward pass
 * (from the caches of the rows), and every AdaptedLinear reads it: rows of one sequence share a
 * set, a batched decode may give each row its own.
 */
export class AdapterRouter {
  private readonly rowSets: AdapterSet[];
  /** Rows [0, rows) all use this set (a decode step, a prefill chunk), or null: see rowSets. */
  private uniform: AdapterSet | null;
  /** h = A·x for a run of rows: [maxBatchRows, maxRank]. */
  private lowRank: Float32Array;
  /** B·h for a run of rows: [maxBatchRows, widest output]. */
  private readonly delta: Float32Array;

  constructor(
    readonly backend: Backend,
    readonly maxBatchRows: number,
    widestOutput: number,
    readonly empty: AdapterSet,
  ) {
    this.rowSets = new Array<AdapterSet>(maxBatchRows).fill(empty);
    this.uniform = empty;
    this.lowRank = backend.allocF32(0);
    this.delta = backend.allocF32(maxBatchRows * widestOutput);
  }

  /** Makes room for sets of rank up to `rank` (done when a set is made, never per token). */
  reserveRank(rank: number): void {
    if (this.lowRank.length < this.maxBatchRows * rank) this.lowRank = this.backend.allocF32(this.maxBatchRows * rank);
  }

  /** Every row of the next pass uses `set`. */
  route(set: AdapterSet): void {
    this.uniform = set;
  }

  /** Row r of the next pass uses sets[r]. */
  routeRows(sets: readonly AdapterSet[]): void {
    for (let r = 0; r < sets.length; r++) this.rowSets[r] = sets[r];
    this.uniform = null;
  }

  /**
   * y[r] += Σ_terms scale · B·(A·x[r]) for the rows of x [rows, in], y [rows, out], each row
   * with its set's terms for `weight`. Consecutive rows with one set go through the kernels
   * together; `linear` is batch-invariant, so a row's result does not depend on its neighbours.
   */
  addDeltas(weight: string, y: Float32Array, x: Float32Array, rows: number, inFeatures: number, outFeatures: number): void {
    const be = this.backend;
    for (let start = 0; start < rows; ) {
      const set = this.uniform ?? this.rowSets[start];
      let end = start + 1;
      if (this.uniform !== null) end = rows;
      else while (end < rows && this.rowSets[end] === set) end++;
      const list = set.terms.get(weight);
      if (list !== undefined) {
        const n = end - start;
        const xs = x.subarray(start * inFeatures, end * inFeatures);
        const ys = y.subarray(start * outFeatures, end * outFeatures);
        for (const t of list) {
          const h = this.lowRank.subarray(0, n * t.rank);
          const d = this.delta.subarray(0, n * outFeatures);
          be.linear(h, xs, t.a, n, inFeatures, t.rank); // h [n, rank] = x · Aᵀ
          be.linear(d, h, t.b, n, t.rank, outFeatures); // d [n, out] = h · Bᵀ
          be.axpy(ys, d, t.scale); // y += scale · d
        }
      }
      start = end;
    }
  }
}

/**
 * "Base + LoRA" as a LinearWeight: y = W·x + Σ scale·B·(A·x) over the adapters routed to each
 * row, W untouched in whatever storage it has (f32, f16, quantized blocks). The transformer
 * block calls `project` as for any weight, so it runs adapters without a line changed.
 */
export class AdaptedLinear implements LinearWeight {
  readonly type: string;

  constructor(
    readonly base: LinearWeight,
    /** Our weight name, the key of the adapter sets' terms. */
    readonly weight: string,
    private readonly router: AdapterRouter,
  ) {
    this.type = `${base.type}+lora`;
  }

  get outFeatures(): number {
    return this.base.outFeatures;
  }

  get inFeatures(): number {
    return this.base.inFeatures;
  }

  get byteLength(): number {
    return this.base.byteLength;
  }

  project(y: Float32Array, x: Float32Array, rows: number): void {
    this.base.project(y, x, rows);
    this.router.addDeltas(this.weight, y, x, rows, this.base.inFeatures, this.base.outFeatures);
  }
}
