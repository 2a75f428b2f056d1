import { WHOLE_ROW_WASM_BASE64 } from "./generated/whole-row-wasm";
import { POW2_FRACTION } from "./portable-math";

/**
 * The fast half of the whole-row pair (reference: Candidates.softmaxWholeRow / drawWholeRow in
 * TypeScript): the same passes in WebAssembly SIMD (assembly/whole-row.ts), the same bits
 * (test/whole-row-wasm.test.ts). One module instance per process, shared by every sampler: a
 * call runs to the end before another can start (JavaScript is single-threaded), and a sampler's
 * softmax is followed by its draw in the same synchronous sample() call.
 *
 * Memory (byte offsets; the row and its weights grow with the largest vocabulary seen):
 *
 *   0     fraction  f64 × 64     2^(j/64), portable-math's table (FRACTION_BYTES)
 *   512   scalars   f64 × 4      max, min, sum of the last row
 *   544   row       f32 × n      the logits, copied in      (16-aligned)
 *   …     weights   f64 × n      e^((row[i] − max)·invT)    (16-aligned)
 */
const FRACTION_AT = 0;
const FRACTION_BYTES = 64 * 8;
const SCALARS_AT = FRACTION_AT + FRACTION_BYTES;
const ROW_AT = SCALARS_AT + 4 * 8;
const PAGE_BYTES = 65536;

interface WholeRowExports {
  readonly memory: WebAssembly.Memory;
  rowRange(row: number, n: number, scalars: number): void;
  expShiftedSum(row: number, n: number, weights: number, max: number, invT: number, fraction: number, scalars: number): void;
  drawWeights(weights: number, n: number, inverse: number, u: number): number;
}

export class WholeRowKernel {
  /** [0] max, [1] min after rowRange; [2] Σ weights after expShiftedSum (a view: reread after growth). */
  scalars: Float64Array;
  private row: Float32Array;
  private capacity = 0;
  private weightsAt = 0;

  constructor(private readonly wasm: WholeRowExports) {
    if (POW2_FRACTION.length * 8 !== FRACTION_BYTES) throw new Error("whole-row wasm: the exp's table changed size; update the memory layout");
    new Float64Array(wasm.memory.buffer, FRACTION_AT, POW2_FRACTION.length).set(POW2_FRACTION);
    this.scalars = new Float64Array(wasm.memory.buffer, SCALARS_AT, 4);
    this.row = new Float32Array(0);
  }

  /** Copies the row in and folds its max and min into scalars[0], scalars[1]. */
  loadRow(logits: Float32Array): void {
    const n = logits.length;
    if (n > this.capacity) this.grow(n);
    else if (this.row.length !== n) this.row = new Float32Array(this.wasm.memory.buffer, ROW_AT, n);
    this.row.set(logits);
    this.wasm.rowRange(ROW_AT, n, SCALARS_AT);
  }

  /**
   * The weights of the loaded row, shifted by its max (scalars[0]) at 1/temperature scale[0],
   * their sum into scalars[2]. Doubles come and go in arrays: one passed to a call V8 does not
   * inline is boxed, and the sampler must not allocate per token.
   */
  weigh(scale: Float64Array): void {
    this.wasm.expShiftedSum(ROW_AT, this.row.length, this.weightsAt, this.scalars[0], scale[0], FRACTION_AT, SCALARS_AT);
  }

  /** The token the uniform number uniform[index] draws from the weights (each × inverse[0], the normaliser). */
  draw(inverse: Float64Array, uniform: Float64Array, index: number): number {
    return this.wasm.drawWeights(this.weightsAt, this.row.length, inverse[0], uniform[index]);
  }

  /** The weights of the last weigh() (a view into the kernel's memory, for the parity test). */
  weights(): Float64Array {
    return new Float64Array(this.wasm.memory.buffer, this.weightsAt, this.row.length);
  }

  private grow(n: number): void {
    const weightsAt = align16(ROW_AT + n * 4);
    const bytes = weightsAt + n * 8;
    const memory = this.wasm.memory;
    if (bytes > memory.buffer.byteLength) memory.grow(Math.ceil((bytes - memory.buffer.byteLength) / PAGE_BYTES));
    this.capacity = n;
    this.weightsAt = weightsAt;
    this.row = new Float32Array(memory.buffer, ROW_AT, n);
    this.scalars = new Float64Array(memory.buffer, SCALARS_AT, 4);
  }
}

function align16(bytes: number): number {
  return Math.ceil(bytes / 16) * 16;
}

let shared: WholeRowKernel | null | undefined;

/**
 * The process's kernel, compiled on first use; null where WebAssembly SIMD is unavailable (an
 * old engine, a page whose policy forbids wasm): the sampler then runs the TypeScript reference,
 * which draws the same tokens.
 */
export function wholeRowKernel(): WholeRowKernel | null {
  if (shared !== undefined) return shared;
  shared = null;
  try {
    if (typeof WebAssembly !== "object") return null;
    const bytes = decodeBase64(WHOLE_ROW_WASM_BASE64);
    if (!WebAssembly.validate(bytes)) return null;
    const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), {});
    shared = new WholeRowKernel(instance.exports as unknown as WholeRowExports);
  } catch {
    shared = null;
  }
  return shared;
}

function decodeBase64(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text);
  const bytes = new Uint8Array(new ArrayBuffer(binary.length));
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
