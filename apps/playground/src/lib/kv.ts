import { KV_ROW_FORMATS } from "@zero-llm/quant";
import { jsBackend } from "@zero-llm/tensor";
import { fmt } from "../ui/dom";
import { KVCache, f32KV, modelConfig, type KVDType } from "@zero-llm/transformer";

/**
 * The KV cache's size, by formula and by a real cache: per layer, K and V each hold
 * context × nKvHeads × headDim numbers, stored as the chosen element type:
 *
 *   bytes = layers × context × (bytesPerRow(K type) + bytesPerRow(V type)),  row = nKvHeads × headDim numbers
 *
 * The formula's figure is checked against `KVCache.bytes()` of a cache actually allocated with
 * the same shape (what a server admits requests by).
 */
export interface KvType {
  /** The transformer's store for this type; null while @zero-llm/transformer has none (formula only). */
  dtype: KVDType | null;
  label: string;
  bytesPerRow(rowLen: number): number;
}

/**
 * f32 is the transformer's own store. The packed types are @zero-llm/quant's KV row formats
 * (llama.cpp's --cache-type names): their sizes come from `rowBytes` (whole 32-blocks per row, the
 * last one zero-padded); the transformer has no KVCache store for them yet.
 */
export const KV_TYPES: Record<string, KvType> = {
  f32: { dtype: f32KV, label: "f32 (4 bytes a number)", bytesPerRow: (n) => 4 * n },
  ...Object.fromEntries((["f16", "q8_0", "q4_1", "q4_0"] as const).map((name) => {
    const format = KV_ROW_FORMATS[name];
    return [name, { dtype: null, label: `${name} (${fmt(format.bytesPerValue, 4)} bytes a number)`, bytesPerRow: (n: number) => format.rowBytes(n) }];
  })),
};

export interface KvShape { layers: number; kvHeads: number; headDim: number; context: number; kType: string; vType: string }

export function kvFormulaBytes(s: KvShape): number {
  const row = s.kvHeads * s.headDim;
  return s.layers * s.context * (KV_TYPES[s.kType].bytesPerRow(row) + KV_TYPES[s.vType].bytesPerRow(row));
}

/** A real cache of this shape (on the js backend: plain typed arrays), and what it says it holds. */
export function realKvBytes(s: KvShape): number | null {
  const kType = KV_TYPES[s.kType].dtype, vType = KV_TYPES[s.vType].dtype;
  if (kType === null || vType === null) return null;
  const config = modelConfig({ arch: "llama", vocabSize: 1, dim: s.kvHeads * s.headDim, nHeads: s.kvHeads, nKvHeads: s.kvHeads, nLayers: s.layers, seqLen: s.context });
  const cache = new KVCache(config, jsBackend, { capacity: s.context, kType, vType });
  return cache.bytes();
}

export const KV_PRESETS: Record<string, Omit<KvShape, "kType" | "vType">> = {
  "the embedded model": { layers: 4, kvHeads: 2, headDim: 32, context: 512 },
  "stories15M (llama2.c)": { layers: 6, kvHeads: 6, headDim: 48, context: 256 },
  "Llama 2 7B": { layers: 32, kvHeads: 32, headDim: 128, context: 4096 },
  "Llama 3 8B (GQA)": { layers: 32, kvHeads: 8, headDim: 128, context: 8192 },
};
