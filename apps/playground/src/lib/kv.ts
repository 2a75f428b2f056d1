import { KV_ROW_FORMATS } from "@zero-llm/quant";
import { jsBackend } from "@zero-llm/tensor";
import { KVCache, KV_DTYPES, KV_TYPE_NAMES, modelConfig, type KVTypeName } from "@zero-llm/transformer";
import { fmt } from "../ui/dom";

/**
 * The KV cache's size, by formula and by a real cache: per layer, K and V each hold
 * context × nKvHeads × headDim numbers, stored as the chosen element type (llama.cpp's
 * --cache-type-k / --cache-type-v):
 *
 *   bytes = layers × context × (rowBytes(K type) + rowBytes(V type)),  row = nKvHeads × headDim numbers
 *
 *   f32   4 bytes a number      q8_0  | d: f16 | qs: 32 × i8 |          34 bytes per 32 numbers
 *   f16   2 bytes a number      q4_1  | d: f16 | m: f16 | qs: 16 × u8 | 20 bytes per 32 numbers
 *                               q4_0  | d: f16 | qs: 16 × u8 |          18 bytes per 32 numbers
 *
 * A packed row is whole 32-blocks, the last one zero-padded. The formula takes its row sizes
 * from @zero-llm/quant's KV row formats; its figure is checked against `KVCache.bytes()` of a
 * cache actually allocated by @zero-llm/transformer with the same shape and types (what a server
 * admits requests by).
 */
export interface KvType {
  name: KVTypeName;
  label: string;
  bytesPerRow(rowLen: number): number;
}

export const KV_TYPES: Record<string, KvType> = Object.fromEntries(KV_TYPE_NAMES.map((name) => {
  const bytesPerRow = name === "f32" ? (n: number) => 4 * n : (n: number) => KV_ROW_FORMATS[name].rowBytes(n);
  const perNumber = name === "f32" ? 4 : KV_ROW_FORMATS[name].bytesPerValue;
  return [name, { name, label: `${name} (${fmt(perNumber, 4)} bytes a number)`, bytesPerRow }];
}));

export interface KvShape { layers: number; kvHeads: number; headDim: number; context: number; kType: string; vType: string }

export function kvFormulaBytes(s: KvShape): number {
  const row = s.kvHeads * s.headDim;
  return s.layers * s.context * (KV_TYPES[s.kType].bytesPerRow(row) + KV_TYPES[s.vType].bytesPerRow(row));
}

/** A real cache of this shape and these types (on the js backend: plain typed arrays), and what it says it holds. */
export function realKvBytes(s: KvShape): number {
  const config = modelConfig({ arch: "llama", vocabSize: 1, dim: s.kvHeads * s.headDim, nHeads: s.kvHeads, nKvHeads: s.kvHeads, nLayers: s.layers, seqLen: s.context });
  const cache = new KVCache(config, jsBackend, { capacity: s.context, kType: KV_DTYPES[KV_TYPES[s.kType].name], vType: KV_DTYPES[KV_TYPES[s.vType].name] });
  return cache.bytes();
}

export const KV_PRESETS: Record<string, Omit<KvShape, "kType" | "vType">> = {
  "the embedded model": { layers: 4, kvHeads: 2, headDim: 32, context: 512 },
  "stories15M (llama2.c)": { layers: 6, kvHeads: 6, headDim: 48, context: 256 },
  "Llama 2 7B": { layers: 32, kvHeads: 32, headDim: 128, context: 4096 },
  "Llama 3 8B (GQA)": { layers: 32, kvHeads: 8, headDim: 128, context: 8192 },
};
