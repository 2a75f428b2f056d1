import type { Backend } from "../backend/backend";
import { TensorError } from "../errors";

/**
 * A linear layer's weight W [outFeatures, inFeatures] (nn.Linear layout), however it is stored.
 * The transformer block only calls `project`, so f32, f16, quantized blocks and "base + LoRA
 * delta" weights are interchangeable without touching the forward pass.
 */
export interface LinearWeight {
  readonly outFeatures: number;
  readonly inFeatures: number;
  /** Storage type, for display and file writers: "f32" | "f16" | "q8_0" | "q4_0" | "q4_1" | "q4_k" | … */
  readonly type: string;
  /** Bytes this weight holds in memory. */
  readonly byteLength: number;
  /**
   * y[r] = W · x[r] for r < rows: x is [rows, inFeatures], y is [rows, outFeatures].
   * Batch-invariant: row r's result is bit-identical whatever `rows` is.
   */
  project(y: Float32Array, x: Float32Array, rows: number): void;
  /**
   * `project`, calling each(r0, r1) for consecutive row ranges covering [0, rows), in order, as
   * soon as those rows of y are final (Backend.linearEach). Optional: see projectEach.
   */
  projectEach?(y: Float32Array, x: Float32Array, rows: number, each: (r0: number, r1: number) => void): void;
}

/**
 * y = W · x row by row as `weight.project`, with each(r0, r1) told as rows are final: while the
 * weight's backend computes later rows when it can (LinearWeight.projectEach), else once at the
 * end, each(0, rows).
 */
export function projectEach(
  weight: LinearWeight, y: Float32Array, x: Float32Array, rows: number, each: (r0: number, r1: number) => void,
): void {
  if (weight.projectEach) {
    weight.projectEach(y, x, rows, each);
    return;
  }
  weight.project(y, x, rows);
  if (rows > 0) each(0, rows);
}

/**
 * A storage type that a model loader can hand a weight's raw bytes to instead of expanding them
 * to f32 (the plug-in point of f16 and quantized weights): the loader allocates
 * `backend.allocBytes(byteLength(out, in))`, reads the stored rows into it as they are in the
 * file (one row of inFeatures after the other, the GGUF layout), and calls `fromBytes`.
 */
export interface LinearWeightType {
  /** The `type` its weights report ("q8_0"). */
  readonly name: string;
  /** Bytes of an [outFeatures, inFeatures] weight; throws when inFeatures does not fit the type (block size). */
  byteLength(outFeatures: number, inFeatures: number): number;
  /**
   * A weight over `bytes` (from backend.allocBytes, filled by the loader; taken over, not copied).
   * Throws a typed error when the bytes do not decode to finite numbers (a NaN or infinite
   * scale): the loader adds the tensor's name and keeps the error as `cause`.
   */
  fromBytes(bytes: Uint8Array, outFeatures: number, inFeatures: number, backend: Backend): LinearWeight;
}

/**
 * The f32 weight: a row-major Float32Array [outFeatures, inFeatures] projected by the backend's
 * batch-invariant `linear` kernel. `data` is used in place (allocate it with backend.allocF32 so
 * the wasm kernels read it without a copy); a tied lm_head is an F32Linear over the embedding table.
 */
export class F32Linear implements LinearWeight {
  readonly type = "f32";

  constructor(
    readonly data: Float32Array,
    readonly outFeatures: number,
    readonly inFeatures: number,
    /** The backend whose `linear` projects it (F32LinearGroup groups weights of one backend). */
    readonly backend: Backend,
  ) {
    if (!Number.isInteger(outFeatures) || !Number.isInteger(inFeatures) || outFeatures < 0 || inFeatures < 0) {
      throw new TensorError("INVALID_ARGUMENT", `F32Linear: expected non-negative integer features, found [${outFeatures}, ${inFeatures}]`);
    }
    if (data.length !== outFeatures * inFeatures) {
      throw new TensorError(
        "SHAPE_MISMATCH",
        `F32Linear: expected ${outFeatures * inFeatures} floats for [${outFeatures}, ${inFeatures}], found ${data.length}`,
      );
    }
  }

  get byteLength(): number {
    return this.data.byteLength;
  }

  project(y: Float32Array, x: Float32Array, rows: number): void {
    this.backend.linear(y, x, this.data, rows, this.inFeatures, this.outFeatures);
  }

  projectEach(y: Float32Array, x: Float32Array, rows: number, each: (r0: number, r1: number) => void): void {
    if (this.backend.linearEach) {
      this.backend.linearEach(y, x, this.data, rows, this.inFeatures, this.outFeatures, each);
      return;
    }
    this.project(y, x, rows);
    if (rows > 0) each(0, rows);
  }
}
