import { QuantizedLinear } from "@zero-llm/quant";
import { jsBackend, type Backend, type LinearWeight } from "@zero-llm/tensor";
import { Weights, type Config } from "@zero-llm/transformer";
import type { LoraAdapter } from "./adapter";
import { weightDeltas, type WeightDelta } from "./deltas";
import { LoraError } from "./errors";
import type { AdapterUse } from "./infer/adapter-set";

/**
 * Merging folds adapters into the base: W ← W + scale · scaling · B·A for every adapted weight,
 * after which the model runs at the base's speed with no adapter left (and saves, and
 * quantizes, like any model). Unmerging subtracts the same product, so merge then unmerge gives
 * W back within float32 rounding (the product is computed the same way both times).
 *
 * ΔW = B·A is [out, rank]·[rank, in], one matmul per weight; it is added with axpy.
 */

/** Adds (sign +1) or subtracts (sign −1) one delta into the f32 matrix `w` [out, in]. */
function applyDelta(w: Float32Array, d: WeightDelta, factor: number, backend: Backend): void {
  const product = new Float32Array(d.outFeatures * d.inFeatures);
  backend.matmul(product, d.b, d.a, d.outFeatures, d.rank, d.inFeatures); // [out, rank]·[rank, in]
  backend.axpy(w, product, factor);
}

function f32Matrix(weights: Weights, name: string, what: string): Float32Array {
  const linear = weights.linear(name);
  if (linear !== undefined) {
    throw new LoraError(
      "UNSUPPORTED_WEIGHT",
      `${what}: expected ${name} as f32 values to change in place, found it stored as ${linear.type} (use mergedWeights, which writes a new f32 matrix)`,
    );
  }
  return weights.get(name).data;
}

function mergeInPlace(weights: Weights, config: Config, uses: readonly AdapterUse[], sign: 1 | -1, backend: Backend): void {
  const what = sign > 0 ? "mergeAdapters" : "unmergeAdapters";
  const plan = uses.flatMap(({ adapter, scale = 1 }) => weightDeltas(config, adapter).map((d) => ({ d, factor: sign * scale * d.scaling })));
  for (const { d } of plan) f32Matrix(weights, d.weight, what); // every weight checked before any changes
  for (const { d, factor } of plan) applyDelta(f32Matrix(weights, d.weight, what), d, factor, backend);
}

/** W ← W + scale · scaling · B·A, in place in `weights` (f32 matrices; the model that reads them sees the change). */
export function mergeAdapters(weights: Weights, config: Config, uses: readonly AdapterUse[], backend: Backend = jsBackend): void {
  mergeInPlace(weights, config, uses, 1, backend);
}

/** The inverse of mergeAdapters with the same uses: W ← W − scale · scaling · B·A. */
export function unmergeAdapters(weights: Weights, config: Config, uses: readonly AdapterUse[], backend: Backend = jsBackend): void {
  mergeInPlace(weights, config, uses, -1, backend);
}

/**
 * Weights with `uses` merged, the base untouched: every adapted matrix is a new f32 array
 * (a quantized or f16 base matrix is decoded first, see `dequantizeLinear`), every other
 * tensor is the base's own array, shared.
 */
export function mergedWeights(model: { config: Config; weights: Weights }, uses: readonly AdapterUse[], backend: Backend = jsBackend): Weights {
  const { config, weights } = model;
  const plan = uses.flatMap(({ adapter, scale = 1 }) => weightDeltas(config, adapter).map((d) => ({ d, factor: scale * d.scaling })));
  const changed = new Map<string, Float32Array>();
  for (const { d } of plan) if (!changed.has(d.weight)) changed.set(d.weight, f32Copy(weights, d.weight));
  for (const { d, factor } of plan) applyDelta(changed.get(d.weight) as Float32Array, d, factor, backend);
  const out = new Weights();
  for (const name of weights.names()) {
    const merged = changed.get(name);
    const stored = weights.linear(name);
    if (merged !== undefined) out.set(name, weights.shapeOf(name), merged);
    else if (stored !== undefined) out.setLinear(name, stored);
    else out.set(name, weights.get(name).shape, weights.get(name).data);
  }
  return out;
}

/** A new f32 copy of a matrix, however it is stored. */
function f32Copy(weights: Weights, name: string): Float32Array {
  const linear = weights.linear(name);
  if (linear === undefined) return weights.get(name).data.slice();
  return dequantizeLinear(linear, name);
}

/** The f32 values of a matrix stored another way (f16 or quantized blocks: @zero-llm/quant's QuantizedLinear). */
export function dequantizeLinear(linear: LinearWeight, name: string): Float32Array {
  if (linear instanceof QuantizedLinear) return linear.dequantize();
  throw new LoraError("UNSUPPORTED_WEIGHT", `merge: expected ${name} as f32 or as quantized blocks, found ${linear.type}`);
}

/** Merges one adapter at scale 1 (a shorthand for mergeAdapters(weights, config, [{ adapter }])). */
export function mergeAdapter(weights: Weights, config: Config, adapter: LoraAdapter, scale = 1): void {
  mergeAdapters(weights, config, [{ adapter, scale }]);
}

/** Unmerges one adapter merged with mergeAdapter at the same scale. */
export function unmergeAdapter(weights: Weights, config: Config, adapter: LoraAdapter, scale = 1): void {
  unmergeAdapters(weights, config, [{ adapter, scale }]);
}
