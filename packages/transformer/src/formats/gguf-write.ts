import {
  f32ArrayToBf16, f32ArrayToF16, ggufValue, serializeGguf,
  type GgufTensorInput, type GgufValue, type GgufWriteInput,
} from "@zero-llm/tensor";
import {
  TokenizerError, minimalGpt2Vocabulary, minimalLlamaVocabulary, toGgufMetadata, type BpeTokenizer, type GgufTokenizerEntries, type GgufTokenizerOptions,
} from "@zero-llm/tokenizer-bpe";
import { fallbackWeightType, quantizeMatrix, weightFormat, type QuantType } from "@zero-llm/quant";
import { TransformerError } from "../errors";
import { headDimOf, validateConfig, type Config } from "../infer/config";
import { checkWeights, type Weights } from "../infer/weights";
import { ggufPlace } from "./gguf-names";
import { halfToInterleaved } from "./rope-permute";

/**
 * Our models as GGUF files that llama.cpp loads, laid out as its converter (convert_hf_to_gguf)
 * writes them:
 *
 * - metadata: general.architecture, general.name, general.file_type, the {arch}.* hyperparameters
 *   ggufConfig reads back, then the tokenizer.ggml.* entries (given, or a minimal vocabulary).
 * - tensors: matrices in `type` (F32, F16, BF16, or the ggml blocks Q8_0, Q4_0, Q4_1, Q4_K as
 *   llama-quantize writes them: the token embedding too); 1-D tensors (norms, biases) always F32,
 *   as llama.cpp keeps them. A matrix whose rows are not whole blocks takes fallbackWeightType
 *   of @zero-llm/quant (Q4_K → Q4_1 for rows of whole 32-blocks, else F16). A matrix already
 *   held in the requested block type (a quantized model) is written byte for byte; any other
 *   stored weight is decoded and quantized again. GGUF dims are row-major shapes reversed
 *   (ne[0] = the row length).
 * - llama q/k rows in interleaved RoPE order: a "half" model (Hugging Face) is permuted back.
 * - gpt2 q, k, v fused into attn_qkv (rows q | k | v) with its bias; output.weight omitted when tied.
 */

export interface GgufExportOptions {
  /** Storage of the matrices. Default F32. */
  type?: GgufExportType;
  /**
   * The vocabulary: a trained byte-level BPE tokenizer (its tokens, merges, token types,
   * specials and llama.cpp pre-tokenizer name are written by @zero-llm/tokenizer-bpe's
   * toGgufMetadata), or tokenizer.ggml.* entries as they are. Default: tokenizer-bpe's
   * minimalLlamaVocabulary(vocabSize) for llama with ≥ 259 ids, else minimalGpt2Vocabulary.
   */
  tokenizer?: BpeTokenizer | Iterable<readonly [string, GgufValue]>;
  /** bos / eos ids and add_bos_token, when `tokenizer` is a BpeTokenizer (the vocabulary size is the model's). */
  tokenizerOptions?: Omit<GgufTokenizerOptions, "vocabSize">;
  /** general.name. Default "zero-llm". */
  name?: string;
  /** Extra metadata entries, written after the hyperparameters. */
  metadata?: Iterable<readonly [string, GgufValue]>;
  /** Called after each of the model's tensors is encoded (quantizing takes a while: a progress bar). */
  onProgress?: (done: number, total: number) => void;
}

/** What `zllm export` and `zllm quantize` write a model's matrices as. */
export type GgufExportType = "F32" | "F16" | "BF16" | "Q8_0" | "Q4_0" | "Q4_1" | "Q4_K";

// llama_ftype: what most of the file is stored as (Q4_K everywhere is llama.cpp's MOSTLY_Q4_K_S,
// 14, the closest of its named mixtures; the loader reads each tensor's own type either way).
const FILE_TYPE = { F32: 0, F16: 1, Q4_0: 2, Q4_1: 3, Q8_0: 7, Q4_K: 14, BF16: 32 } as const;
// GGML_QNT_VERSION, which llama-quantize writes as general.quantization_version
const QUANTIZATION_VERSION = 2;

/** The block type of a GGUF export type, or null for the float ones. */
function blockType(type: GgufExportType): QuantType | null {
  return type === "Q8_0" ? "q8_0" : type === "Q4_0" ? "q4_0" : type === "Q4_1" ? "q4_1" : type === "Q4_K" ? "q4_k" : null;
}

/** A weight held in stored bytes that can give its values back (@zero-llm/quant's QuantizedLinear). */
interface StoredMatrix {
  readonly type: string;
  readonly bytes: Uint8Array;
  dequantize(): Float32Array;
  /** The blocks in GGUF's order where `bytes` holds them otherwise (q4_0 tiles). */
  ggmlBytes?(): Uint8Array;
}

function isStoredMatrix(w: unknown): w is StoredMatrix {
  return typeof w === "object" && w !== null && (w as Partial<StoredMatrix>).bytes instanceof Uint8Array && typeof (w as Partial<StoredMatrix>).dequantize === "function";
}

function hyperparameters(c: Config): Array<readonly [string, GgufValue]> {
  const a = c.arch;
  const entries: Array<readonly [string, GgufValue]> = [
    [`${a}.context_length`, ggufValue.u32(c.seqLen)],
    [`${a}.embedding_length`, ggufValue.u32(c.dim)],
    [`${a}.block_count`, ggufValue.u32(c.nLayers)],
    [`${a}.feed_forward_length`, ggufValue.u32(c.hiddenDim)],
    [`${a}.attention.head_count`, ggufValue.u32(c.nHeads)],
  ];
  if (a === "llama") {
    entries.push(
      ["llama.attention.head_count_kv", ggufValue.u32(c.nKvHeads)],
      ["llama.rope.dimension_count", ggufValue.u32(headDimOf(c))],
      ["llama.rope.freq_base", ggufValue.f32(c.ropeTheta)],
      ["llama.attention.layer_norm_rms_epsilon", ggufValue.f32(c.normEps)],
      ["llama.vocab_size", ggufValue.u32(c.vocabSize)],
    );
  } else {
    entries.push(["gpt2.attention.layer_norm_epsilon", ggufValue.f32(c.normEps)]);
  }
  return entries;
}

/** The GGUF file of a model, ready for serializeGguf / writeGgufFile of @zero-llm/tensor. */
export function ggufFromModel(config: Config, weights: Weights, options: GgufExportOptions = {}): GgufWriteInput {
  validateConfig(config);
  checkWeights(config, weights);
  const type = options.type ?? "F32";
  if (!(type in FILE_TYPE)) throw new TransformerError("UNSUPPORTED_TENSOR_TYPE", `gguf export: expected type ${Object.keys(FILE_TYPE).join(", ")}, found ${type}`);
  const blocks = blockType(type);
  const encode = (data: Float32Array, shape: readonly number[]): { type: string; data: ArrayBufferView } => {
    if (shape.length === 1 || type === "F32") return { type: "F32", data };
    if (blocks) {
      const [rows = 0, cols = 0] = shape;
      const chosen = fallbackWeightType(blocks, cols);
      return { type: weightFormat(chosen).ggml, data: quantizeMatrix(data, rows, cols, chosen) };
    }
    return { type, data: type === "F16" ? f32ArrayToF16(data) : f32ArrayToBf16(data) };
  };
  /** A matrix's values; a stored (quantized) one is decoded, except when it is kept as it is. */
  const valuesOf = (name: string): { shape: readonly number[]; data: Float32Array } => {
    const stored = weights.linear(name);
    if (!stored) return weights.get(name);
    if (!isStoredMatrix(stored)) {
      throw new TransformerError("UNSUPPORTED_TENSOR_TYPE", `gguf export: expected ${name} as f32 values or stored bytes it can decode, found a ${stored.type} LinearWeight without them`);
    }
    return { shape: [stored.outFeatures, stored.inFeatures], data: stored.dequantize() };
  };
  /** The stored bytes of `name` when they are already what the export writes for it, else null. */
  const keptAsStored = (name: string): { type: string; data: ArrayBufferView } | null => {
    const stored = weights.linear(name);
    if (!blocks || !isStoredMatrix(stored) || stored.type !== fallbackWeightType(blocks, stored.inFeatures)) return null;
    return { type: weightFormat(stored.type).ggml, data: stored.ggmlBytes?.() ?? stored.bytes };
  };
  const permuted = (name: string): boolean => config.arch === "llama" && config.ropeStyle === "half" && /self_attn\.[qk]_proj\.(weight|bias)$/.test(name);

  const tensors: GgufTensorInput[] = [];
  const fused = new Map<string, { shape: number[]; parts: Float32Array[] }>();
  const names = orderedNames(config, weights).filter((name) => !(name === "lm_head.weight" && config.tiedEmbeddings));
  let done = 0;
  for (const name of names) {
    options.onProgress?.(done++, names.length);
    const place = ggufPlace(config, name);
    const kept = place.rows || permuted(name) ? null : keptAsStored(name);
    if (kept) {
      tensors.push({ name: place.gguf, shape: weights.shapeOf(name), ...kept });
      continue;
    }
    const { shape, data: stored } = valuesOf(name);
    let data = stored;
    if (config.arch === "llama" && config.ropeStyle === "half") {
      // GGUF llama rotates adjacent pairs: put each head's rows back in interleaved order
      // (a q/k bias moves with its rows)
      const cols = name.endsWith(".bias") ? 1 : config.dim;
      if (/self_attn\.q_proj\.(weight|bias)$/.test(name)) data = halfToInterleaved(data, config.nHeads, headDimOf(config), cols);
      if (/self_attn\.k_proj\.(weight|bias)$/.test(name)) data = halfToInterleaved(data, config.nKvHeads, headDimOf(config), cols);
    }
    if (place.rows) {
      // gpt2: q, k, v arrive in that order; the third completes attn_qkv
      const entry = fused.get(place.gguf) ?? { shape: [3 * shape[0], ...shape.slice(1)], parts: [] };
      entry.parts.push(data);
      fused.set(place.gguf, entry);
      if (entry.parts.length < 3) continue;
      const whole = new Float32Array(entry.parts.reduce((n, p) => n + p.length, 0));
      entry.parts.forEach((p, i) => whole.set(p, i * p.length));
      tensors.push({ name: place.gguf, shape: entry.shape, ...encode(whole, entry.shape) });
      fused.delete(place.gguf);
      continue;
    }
    tensors.push({ name: place.gguf, shape, ...encode(data, shape) });
  }

  options.onProgress?.(done, names.length);

  // llama.cpp's SentencePiece loader needs all 256 byte tokens; below 259 ids a byte-level BPE
  // vocabulary (valid for a llama model too, as Llama 3 shows) is the one that loads.
  const tokenizer: Iterable<readonly [string, GgufValue]> = isEntries(options.tokenizer)
    ? options.tokenizer
    : options.tokenizer !== undefined
      ? bpeEntries(options.tokenizer, config.vocabSize, options.tokenizerOptions)
      : config.arch === "llama" && config.vocabSize >= 259 ? minimalLlamaVocabulary(config.vocabSize) : minimalGpt2Vocabulary(config.vocabSize);
  return {
    metadata: [
      ["general.architecture", ggufValue.string(config.arch)],
      ["general.name", ggufValue.string(options.name ?? "zero-llm")],
      ["general.file_type", ggufValue.u32(FILE_TYPE[type])],
      ...(blocks ? [["general.quantization_version", ggufValue.u32(QUANTIZATION_VERSION)] as const] : []),
      ...hyperparameters(config),
      ...(options.metadata ?? []),
      ...tokenizer,
    ],
    tensors,
  };
}

/** Entries are iterable; a tokenizer is not (no instanceof: a second copy of tokenizer-bpe in a bundle is still a tokenizer). */
function isEntries(t: GgufExportOptions["tokenizer"]): t is Iterable<readonly [string, GgufValue]> {
  return typeof t === "object" && t !== null && Symbol.iterator in t;
}

/** The tokenizer's entries; its refusals (larger than the model, a pattern llama.cpp cannot name) as BAD_CONFIG. */
function bpeEntries(tokenizer: BpeTokenizer, vocabSize: number, options: GgufExportOptions["tokenizerOptions"]): GgufTokenizerEntries {
  try {
    return toGgufMetadata(tokenizer, { ...options, vocabSize });
  } catch (error) {
    if (error instanceof TokenizerError) throw new TransformerError("BAD_CONFIG", error.message, { cause: error });
    throw error;
  }
}

/** The GGUF file bytes of a model. */
export function serializeGgufModel(config: Config, weights: Weights, options: GgufExportOptions = {}): Uint8Array {
  return serializeGguf(ggufFromModel(config, weights, options));
}

/**
 * Global tensors first, then each block in llama.cpp's order (q, k, v before o so gpt2 can fuse
 * them); a llama's optional biases (llama.cpp's attn_q.bias, …, ffn_down.bias) after the weights.
 */
function orderedNames(c: Config, weights: Weights): string[] {
  const names = ["model.embed_tokens.weight"];
  if (c.arch === "gpt2") names.push("model.embed_positions.weight");
  names.push("model.norm.weight");
  if (c.arch === "gpt2") names.push("model.norm.bias");
  names.push("lm_head.weight");
  const kinds = c.arch === "gpt2" ? ["weight", "bias"] : ["weight"];
  for (let l = 0; l < c.nLayers; l++) {
    const p = `model.layers.${l}.`;
    const modules = ["input_layernorm", "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj", "post_attention_layernorm"];
    modules.push(...(c.arch === "gpt2" ? ["mlp.up_proj", "mlp.down_proj"] : ["mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"]));
    for (const kind of kinds) for (const m of modules) names.push(`${p}${m}.${kind}`);
    if (c.arch === "llama") for (const m of modules) if (weights.has(`${p}${m}.bias`)) names.push(`${p}${m}.bias`);
  }
  return names;
}
