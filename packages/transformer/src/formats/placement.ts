import { FILE_WEIGHT_TYPES } from "@zero-llm/quant";
import { jsBackend, type Backend, type LinearWeightType } from "@zero-llm/tensor";
import { TransformerError } from "../errors";
import type { Config } from "../infer/config";
import { Weights, listNames } from "../infer/weights";

/**
 * How the loaders of every format put a file's tensors into memory, once: each of our weights is
 * a TensorPlacement (where its values are in the file and how to read them), and fillWeights
 * allocates each one in its final home (backend.allocF32, i.e. wasm memory for the wasm backend)
 * and reads it straight there. Nothing holds the file, or a tensor's worth of file bytes, on the
 * way: f32 is read directly into the weight's memory, other types through the readers' 4 MiB
 * chunks. So loading needs the weights' memory plus a few megabytes, not twice the file.
 */
export interface TensorPlacement {
  /** Our (Hugging Face style) name and row-major shape. */
  readonly name: string;
  readonly shape: readonly number[];
  /** Where it comes from, for messages: the file's tensor name (and the part of it). */
  readonly from: string;
  /** Fills `out` (the shape's element count) with the values as f32. */
  readF32(out: Float32Array): Promise<void>;
  /**
   * For a matrix stored whole in the file: its storage type (a GGUF type name "Q8_0", a
   * safetensors dtype "F16") and a read of its bytes as stored, for a LinearWeightType that
   * takes them as they are (LoadOptions.weightTypes).
   */
  readonly raw?: { readonly type: string; readonly byteLength: number; read(target: Uint8Array): Promise<void> };
}

export interface LoadOptions {
  /** Where the weights live and what runs the model (default: the reference jsBackend). */
  backend?: Backend;
  /**
   * Storage types that take a matrix's raw bytes instead of expanding them to f32, keyed by the
   * stored type's name in the file ("F16", "Q8_0", "Q4_0": GGUF type names and safetensors
   * dtypes), e.g. the ones @zero-llm/quant provides. Applies to the projections (q, k, v, o,
   * gate, up, down, an untied lm_head) and the token embedding (a type whose weights decode
   * single rows; tied, it is the lm_head too). Default DEFAULT_WEIGHT_TYPES: quantized blocks
   * stay quantized, f16 is expanded. `{}` expands everything to f32.
   */
  weightTypes?: Readonly<Record<string, LinearWeightType>>;
}

/**
 * What a quantized file keeps in memory unless told otherwise: Q8_0, Q4_0, Q4_1 and Q4_K matrices
 * stay as stored (@zero-llm/quant's weights, multiplied by the backend's matmulQuant), so a
 * model takes about its file's size. F16 is expanded to f32 by default: WebAssembly has no
 * half-precision arithmetic and the f16 kernel runs at 0.3–1× the f32 one (pass
 * FILE_WEIGHT_TYPES of @zero-llm/quant to keep F16 too, for memory).
 */
export const DEFAULT_WEIGHT_TYPES: Readonly<Record<string, LinearWeightType>> = {
  Q8_0: FILE_WEIGHT_TYPES.Q8_0, Q4_0: FILE_WEIGHT_TYPES.Q4_0, Q4_1: FILE_WEIGHT_TYPES.Q4_1, Q4_K: FILE_WEIGHT_TYPES.Q4_K,
};

/** Matrices that may stay as stored: the projections (only ever multiplied by) and the token embedding (rows decoded on lookup). */
export function keepsStoredType(name: string): boolean {
  return name === "lm_head.weight" || name === "model.embed_tokens.weight" || /\.(q|k|v|o|gate|up|down)_proj\.weight$/.test(name);
}

/**
 * Allocates and reads every placement (tied embeddings: lm_head shares the embedding's array).
 * Each f32 tensor is checked for NaN and infinities as it lands (NONFINITE_WEIGHT, naming it):
 * one pass over memory just written, cheap next to reading it. On any failure the memory taken
 * so far goes back to a wasm backend at once.
 */
export async function fillWeights(config: Config, placements: readonly TensorPlacement[], options: LoadOptions = {}): Promise<Weights> {
  const backend = options.backend ?? jsBackend;
  const weights = new Weights();
  const taken: (Float32Array | Uint8Array)[] = [];
  try {
    for (const p of placements) {
      const type = p.raw && keepsStoredType(p.name) ? (options.weightTypes ?? DEFAULT_WEIGHT_TYPES)[p.raw.type] : undefined;
      if (p.raw && type) {
        const [out = 0, inFeatures = 0] = p.shape;
        const byteLength = type.byteLength(out, inFeatures);
        if (byteLength !== p.raw.byteLength) {
          throw new TransformerError("WEIGHT_SHAPE_MISMATCH", `${p.from}: expected ${byteLength} bytes of ${type.name} for [${out}, ${inFeatures}], found ${p.raw.byteLength} stored`);
        }
        const bytes = backend.allocBytes(byteLength);
        taken.push(bytes);
        await p.raw.read(bytes);
        try {
          weights.setLinear(p.name, type.fromBytes(bytes, out, inFeatures, backend));
        } catch (e) {
          const code = e instanceof Error && "code" in e && e.code === "NONFINITE_WEIGHT" ? "NONFINITE_WEIGHT" : "BAD_WEIGHT";
          throw new TransformerError(code, `${p.from}: expected ${type.name} weights it can use, found: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
        }
        continue;
      }
      const data = backend.allocF32(p.shape.reduce((a, b) => a * b, 1));
      taken.push(data);
      await p.readF32(data);
      checkFinite(p.from, data);
      weights.set(p.name, p.shape, data);
    }
    if (config.tiedEmbeddings) {
      const stored = weights.linear("model.embed_tokens.weight");
      if (stored) weights.setLinear("lm_head.weight", stored);
      else weights.set("lm_head.weight", [config.vocabSize, config.dim], weights.get("model.embed_tokens.weight").data);
    }
  } catch (error) {
    const free = (backend as { free?: (array: Float32Array | Uint8Array) => void }).free;
    if (free) for (const array of taken) free.call(backend, array);
    throw error;
  }
  return weights;
}

/** An f32's exponent bits: sign (bit 31) | exponent (bits 30…23) | mantissa (bits 22…0). */
const F32_EXPONENT_BITS = 0x7f800000;

/** NONFINITE_WEIGHT naming the tensor and the first bad element, unless every value is finite. */
export function checkFinite(from: string, data: Float32Array): void {
  // On the bits: an f32 is NaN or ±∞ exactly when its 8 exponent bits (mask 0x7f800000) are all
  // ones. Integer operations on an Int32Array view stay small integers in code V8 has not yet
  // optimized, where a float loop made a heap number per element: garbage that grew the young
  // generation, and the peak resident memory, while a model loads.
  const bits = new Int32Array(data.buffer, data.byteOffset, data.length);
  for (let i = 0; i < bits.length; i++) {
    if ((bits[i] & F32_EXPONENT_BITS) !== F32_EXPONENT_BITS) continue;
    throw new TransformerError(
      "NONFINITE_WEIGHT",
      `${from}: expected finite weights, found ${data[i]} at element ${i} of ${data.length} (a corrupt file, or one whose tensor type is mislabelled)`,
    );
  }
}

/**
 * UNUSED_WEIGHT naming the file's tensors that no placement reads (a layer past block_count, a
 * tensor of an architecture feature this forward pass does not have), minus `ignored` ones
 * (documented per format: buffers that are not weights, a tied head's duplicate).
 */
export function checkAllUsed(format: string, fileTensors: readonly string[], used: ReadonlySet<string>, ignored: (name: string) => boolean): void {
  const extra = fileTensors.filter((name) => !used.has(name) && !ignored(name));
  if (extra.length === 0) return;
  throw new TransformerError(
    "UNUSED_WEIGHT",
    `${format}: expected every tensor in the file to be part of the model its metadata describes, found ${extra.length} it does not use: ${listNames(extra)}`,
  );
}
