import { Q4_0_TILE_ROWS, layoutFits, q4_0TileRow, tryPackQ4_0Tiles, unpackQ4_0Tiles } from "@zero-llm/tensor";
import type { Backend, LinearWeight, LinearWeightType, QuantLayout, QuantType } from "@zero-llm/tensor";
import { QuantError } from "./errors";
import { weightFormat } from "./formats/index";
import { dequantizeMatrix, quantizedRowBytes, quantizeMatrix } from "./matrix";

/**
 * A linear layer's weight W [outFeatures, inFeatures] kept as it is stored in a GGUF file: f16
 * values or ggml blocks (q8_0, q4_0, q4_1, q4_k), in memory from `backend.allocBytes` (the wasm
 * heap for the wasm backend). `project` is the backend's `matmulQuant`: no f32 copy of the
 * weight exists at any time.
 *
 * The blocks are held one output row after the other (`layout` "rows", GGUF's order), except
 * q4_0 matrices of a multiple of 4 rows made by `quantize` or a loader (`fromBytes`): those are
 * reordered in place into tiles of four rows (`layout` "q4_0x4", @zero-llm/tensor's
 * packQ4_0Tiles), which the decode kernel reads fastest. The same blocks, the same products;
 * `ggmlBytes()` gives them back in GGUF's order for writing a file.
 */
export class QuantizedLinear implements LinearWeight {
  /** One row's blocks gathered from tiles (rowValues), allocated on first use. */
  private rowScratch: Uint8Array | null = null;

  constructor(
    /** The stored bytes in `layout`, used in place (taken over, not copied). */
    readonly bytes: Uint8Array,
    readonly type: QuantType,
    readonly outFeatures: number,
    readonly inFeatures: number,
    private readonly backend: Backend,
    readonly layout: QuantLayout = "rows",
  ) {
    if (!Number.isInteger(outFeatures) || outFeatures < 0) {
      throw new QuantError("INVALID_ARGUMENT", `QuantizedLinear: expected a non-negative integer outFeatures, found ${outFeatures}`);
    }
    const expected = outFeatures * quantizedRowBytes(type, inFeatures);
    if (bytes.length !== expected) {
      throw new QuantError("BAD_LENGTH", `QuantizedLinear: expected ${expected} bytes of ${type} for [${outFeatures}, ${inFeatures}], found ${bytes.length}`);
    }
    if (!layoutFits(layout, type, outFeatures)) {
      throw new QuantError("INVALID_ARGUMENT", `QuantizedLinear: expected layout "rows", or "q4_0x4" for q4_0 with outFeatures a multiple of ${Q4_0_TILE_ROWS}, found ${JSON.stringify(layout)} for ${type} [${outFeatures}, ${inFeatures}]`);
    }
  }

  /** Quantizes a row-major f32 matrix [outFeatures, inFeatures] into backend memory (q4_0: tiled where it can be). */
  static quantize(values: Float32Array, outFeatures: number, inFeatures: number, type: QuantType, backend: Backend): QuantizedLinear {
    const bytes = backend.allocBytes(outFeatures * quantizedRowBytes(type, inFeatures));
    quantizeMatrix(values, outFeatures, inFeatures, type, bytes);
    return QuantizedLinear.held(bytes, type, outFeatures, inFeatures, backend);
  }

  /**
   * Takes over GGUF-ordered bytes: q4_0 with a multiple of 4 rows and finite scales is tiled in
   * place (the array's contents change), everything else is kept as it is.
   */
  static held(bytes: Uint8Array, type: QuantType, outFeatures: number, inFeatures: number, backend: Backend): QuantizedLinear {
    if (type === "q4_0" && bytes.length === outFeatures * quantizedRowBytes(type, inFeatures) && tryPackQ4_0Tiles(bytes, outFeatures, inFeatures)) {
      return new QuantizedLinear(bytes, type, outFeatures, inFeatures, backend, "q4_0x4");
    }
    return new QuantizedLinear(bytes, type, outFeatures, inFeatures, backend);
  }

  get byteLength(): number {
    return this.bytes.byteLength;
  }

  project(y: Float32Array, x: Float32Array, rows: number): void {
    if (this.layout === "rows") this.backend.matmulQuant(y, x, this.bytes, this.type, rows, this.inFeatures, this.outFeatures);
    else this.backend.matmulQuant(y, x, this.bytes, this.type, rows, this.inFeatures, this.outFeatures, this.layout);
  }

  /**
   * Row `row`'s values into out[outOffset …] (inFeatures of them): a token embedding stored in
   * blocks is looked up this way, one row per token, never expanded as a whole.
   */
  rowValues(row: number, out: Float32Array, outOffset: number): void {
    const { dequantizeRow } = weightFormat(this.type);
    if (this.layout === "rows") {
      dequantizeRow(this.bytes, out, this.inFeatures, row * this.rowBytes, outOffset);
      return;
    }
    // tiles: the row's blocks gathered back into GGUF's order first
    this.rowScratch ??= new Uint8Array(this.rowBytes);
    q4_0TileRow(this.bytes, row, this.inFeatures / 32, this.rowScratch, 0);
    dequantizeRow(this.rowScratch, out, this.inFeatures, 0, outOffset);
  }

  private get rowBytes(): number {
    return this.bytes.length / Math.max(1, this.outFeatures);
  }

  /** The values the blocks decode to, as a new row-major f32 matrix (or into `out`). */
  dequantize(out?: Float32Array): Float32Array {
    if (this.layout === "rows") return dequantizeMatrix(this.bytes, this.outFeatures, this.inFeatures, this.type, out);
    return dequantizeMatrix(this.ggmlBytes(), this.outFeatures, this.inFeatures, this.type, out);
  }

  /** The blocks in GGUF's order, one row after the other: `bytes` itself, or a reordered copy of tiles. */
  ggmlBytes(): Uint8Array {
    if (this.layout === "rows") return this.bytes;
    const copy = this.bytes.slice();
    unpackQ4_0Tiles(copy, this.outFeatures, this.inFeatures);
    return copy;
  }
}

/**
 * Where the stored bytes hold a NaN or infinite scale (or f16 value): a file that would make every
 * product of that row NaN. Returns the first (row, block) or null.
 *
 * The f16 fields of a block are its first one or two halves (q4_1, q4_k: d then m / dmin); an
 * f16 is NaN or infinite when its exponent bits (0x7c of the high byte) are all ones. Plain
 * index arithmetic, no iterator over the offsets: this runs over every block of a file before its
 * code is optimized, and an iterator's result objects were ~1 MB of garbage for a 15M model.
 */
export function findNonFiniteScale(bytes: Uint8Array, type: QuantType): { block: number } | null {
  const { blockBytes } = weightFormat(type);
  const lastScale = type === "q4_1" || type === "q4_k" ? 2 : 0; // offset of the block's last f16 field
  for (let b = 0, at = 0; at < bytes.length; b++, at += blockBytes) {
    if ((bytes[at + 1] & 0x7c) === 0x7c || (bytes[at + lastScale + 1] & 0x7c) === 0x7c) return { block: b };
  }
  return null;
}

/**
 * The LinearWeightType of `type`, the plug-in point a model loader uses to keep a tensor as it is
 * stored: it allocates byteLength(out, in) bytes with backend.allocBytes, reads the tensor's
 * bytes into them and calls fromBytes.
 */
function linearWeightType(type: QuantType): LinearWeightType {
  return {
    name: type,
    byteLength: (outFeatures, inFeatures) => outFeatures * quantizedRowBytes(type, inFeatures),
    fromBytes(bytes, outFeatures, inFeatures, backend) {
      const bad = findNonFiniteScale(bytes, type);
      if (bad !== null) {
        const { blockSize } = weightFormat(type);
        const perRow = inFeatures / blockSize;
        throw new QuantError(
          "NONFINITE_WEIGHT",
          `${type} weight [${outFeatures}, ${inFeatures}]: expected finite ${type === "f16" ? "values" : "block scales"}, ` +
            `found NaN or infinity in row ${Math.floor(bad.block / perRow)}, ${type === "f16" ? "column" : "block"} ${bad.block % perRow}`,
        );
      }
      return QuantizedLinear.held(bytes, type, outFeatures, inFeatures, backend);
    },
  };
}

/** LinearWeightTypes for every stored type this package multiplies by, keyed by our name ("q4_k"). */
export const QUANTIZED_LINEAR_TYPES: Readonly<Record<QuantType, LinearWeightType>> = {
  f16: linearWeightType("f16"),
  q8_0: linearWeightType("q8_0"),
  q4_0: linearWeightType("q4_0"),
  q4_1: linearWeightType("q4_1"),
  q4_k: linearWeightType("q4_k"),
};

/**
 * The same, keyed by the type names files use: GGUF's "F16", "Q8_0", "Q4_0", "Q4_1", "Q4_K" (and
 * safetensors' dtype "F16", the same little-endian halves). Pass it as a model loader's
 * `weightTypes` to keep those tensors as stored.
 */
export const FILE_WEIGHT_TYPES: Readonly<Record<string, LinearWeightType>> = {
  F16: QUANTIZED_LINEAR_TYPES.f16,
  Q8_0: QUANTIZED_LINEAR_TYPES.q8_0,
  Q4_0: QUANTIZED_LINEAR_TYPES.q4_0,
  Q4_1: QUANTIZED_LINEAR_TYPES.q4_1,
  Q4_K: QUANTIZED_LINEAR_TYPES.q4_k,
};
