import { GgufReader, bytesSource, type ByteSource, type GgufHeader, type GgufTensorInfo, type GgufValue } from "@zero-llm/tensor";
import { TransformerError } from "../errors";
import { MAX_CONTEXT, headDimOf, validateConfig, type Config } from "../infer/config";
import { optionalWeightShapes, weightShapes, type Weights } from "../infer/weights";
import { ggufPlace } from "./gguf-names";
import { DEFAULT_WEIGHT_TYPES, checkAllUsed, fillWeights, keepsStoredType, type LoadOptions, type TensorPlacement } from "./placement";

/**
 * A model from a GGUF file (llama.cpp's container; the byte layout is read by @zero-llm/tensor).
 * This module turns the metadata into a Config and the tensors into our Weights:
 *
 *   general.architecture            "llama" | "gpt2"   (anything else: UNSUPPORTED_ARCHITECTURE)
 *   {arch}.embedding_length         dim
 *   {arch}.feed_forward_length      hiddenDim
 *   {arch}.block_count              nLayers
 *   {arch}.attention.head_count     nHeads
 *   {arch}.attention.head_count_kv  nKvHeads (llama; default nHeads)
 *   {arch}.context_length           seqLen
 *   llama.attention.layer_norm_rms_epsilon | gpt2.attention.layer_norm_epsilon   normEps
 *   llama.rope.freq_base            ropeTheta (default 10000)
 *   vocabSize                       rows of token_embd.weight
 *   tiedEmbeddings                  output.weight absent
 *
 * ggml's llama RoPE (NORM mode) rotates adjacent pairs, so a GGUF llama is ropeStyle
 * "interleaved"; llama.cpp's converter permutes Hugging Face q/k rows into that order.
 * Llama variants this forward pass does not implement (RoPE scaling, rope_freqs, partial
 * rotary, mixture of experts, per-layer head counts) are refused by name, not run wrongly.
 *
 * Safety: every tensor's shape is checked against the config and its byte range against the file
 * (by the GGUF parser) before any weight is allocated, so allocation is bounded by the file size;
 * a tensor the model would not use is refused by name (UNUSED_WEIGHT).
 */

/** ggml types this loader can expand to f32 (Q4_1 and Q4_K are kept as stored: DEFAULT_WEIGHT_TYPES). */
export const GGUF_LOADABLE_TYPES: readonly string[] = ["F32", "F16", "BF16", "F64", "Q8_0", "Q4_0"];
/** Largest context_length accepted: the KV cache is sized by it, and no header may size an allocation unchecked. */
export const GGUF_MAX_CONTEXT = MAX_CONTEXT;

type Metadata = ReadonlyMap<string, GgufValue>;

function missing(key: string, why = ""): never {
  throw new TransformerError("MISSING_METADATA", `gguf: expected metadata key ${key}${why}, found none`);
}

/** An integer-valued key (any integer type), checked to be a safe positive integer. */
function metaInt(meta: Metadata, key: string, fallback?: number): number {
  const entry = meta.get(key);
  if (entry === undefined) return fallback ?? missing(key);
  let value: number;
  if (entry.type === "u64" || entry.type === "i64") value = Number(entry.value);
  else if (entry.type === "u8" || entry.type === "i8" || entry.type === "u16" || entry.type === "i16" || entry.type === "u32" || entry.type === "i32") value = entry.value;
  else {
    const what = entry.type === "array" ? `an array of ${entry.itemType} (per-layer values are not supported)` : `${entry.type} ${String(entry.value)}`;
    throw new TransformerError("BAD_METADATA", `gguf: expected ${key} to be an integer, found ${what}`);
  }
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new TransformerError("BAD_METADATA", `gguf: expected ${key} to be a positive integer, found ${String(entry.value)}`);
  }
  return value;
}

function metaFloat(meta: Metadata, key: string, fallback?: number): number {
  const entry = meta.get(key);
  if (entry === undefined) return fallback ?? missing(key);
  if (entry.type !== "f32" && entry.type !== "f64") {
    throw new TransformerError("BAD_METADATA", `gguf: expected ${key} to be f32, found ${entry.type} ${entry.type === "array" ? "" : String(entry.value)}`);
  }
  if (!Number.isFinite(entry.value) || entry.value <= 0) {
    throw new TransformerError("BAD_METADATA", `gguf: expected ${key} to be a positive number, found ${entry.value}`);
  }
  return entry.type === "f32" ? shortestF32(entry.value) : entry.value;
}

/** The shortest decimal that rounds to the same f32 (1e-5, not 0.000009999999747): what the writer meant. */
function shortestF32(value: number): number {
  for (let digits = 1; digits < 9; digits++) {
    const candidate = Number(value.toPrecision(digits));
    if (Math.fround(candidate) === value) return candidate;
  }
  return value;
}

function metaString(meta: Metadata, key: string): string | undefined {
  const entry = meta.get(key);
  if (entry === undefined) return undefined;
  if (entry.type !== "string") throw new TransformerError("BAD_METADATA", `gguf: expected ${key} to be a string, found ${entry.type}`);
  return entry.value;
}

function findTensor(header: GgufHeader, name: string): GgufTensorInfo | undefined {
  return header.tensors.find((t) => t.name === name);
}

function unsupported(what: string): never {
  throw new TransformerError("UNSUPPORTED_ARCHITECTURE", `gguf: expected a plain llama or gpt2 model, found ${what}`);
}

/** The Config a GGUF header describes. Throws typed errors naming the key that is missing or wrong. */
export function ggufConfig(header: GgufHeader): Config {
  const meta = header.metadata;
  const arch = metaString(meta, "general.architecture") ?? missing("general.architecture");
  if (arch !== "llama" && arch !== "gpt2") {
    throw new TransformerError("UNSUPPORTED_ARCHITECTURE", `gguf: expected general.architecture "llama" or "gpt2", found "${arch}"`);
  }
  const embed = findTensor(header, "token_embd.weight");
  if (!embed) throw new TransformerError("MISSING_WEIGHT", `gguf: expected a tensor named token_embd.weight, found ${header.tensors.length} tensors without it`);
  if (embed.shape.length !== 2) {
    throw new TransformerError("WEIGHT_SHAPE_MISMATCH", `gguf: expected token_embd.weight to be 2-D [vocab, dim], found [${embed.shape.join(", ")}]`);
  }
  const nHeads = metaInt(meta, `${arch}.attention.head_count`);
  const config: Config = {
    arch,
    dim: metaInt(meta, `${arch}.embedding_length`),
    hiddenDim: metaInt(meta, `${arch}.feed_forward_length`),
    nLayers: metaInt(meta, `${arch}.block_count`),
    nHeads,
    nKvHeads: arch === "llama" ? metaInt(meta, "llama.attention.head_count_kv", nHeads) : nHeads,
    vocabSize: embed.shape[0],
    seqLen: metaInt(meta, `${arch}.context_length`),
    normEps: arch === "llama"
      ? metaFloat(meta, "llama.attention.layer_norm_rms_epsilon")
      : metaFloat(meta, "gpt2.attention.layer_norm_epsilon"),
    ropeTheta: arch === "llama" ? metaFloat(meta, "llama.rope.freq_base", 10000) : 10000,
    ropeStyle: "interleaved",
    tiedEmbeddings: findTensor(header, "output.weight") === undefined,
  };
  if (config.seqLen > GGUF_MAX_CONTEXT) {
    throw new TransformerError("BAD_METADATA", `gguf: expected ${arch}.context_length ≤ ${GGUF_MAX_CONTEXT}, found ${config.seqLen}`);
  }
  // every per-layer loop (the expected tensor list first) is sized by block_count: bound it by
  // the tensors the file really lists, which the parser bounded by the file size
  if (config.nLayers > header.tensors.length) {
    throw new TransformerError(
      "BAD_METADATA",
      `gguf: expected ${arch}.block_count ≤ the ${header.tensors.length} tensors in the file (each block has several), found ${config.nLayers}`,
    );
  }
  try {
    validateConfig(config);
  } catch (e) {
    throw new TransformerError("BAD_METADATA", `gguf metadata: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  if (arch === "llama") {
    const headDim = headDimOf(config);
    const rotary = metaInt(meta, "llama.rope.dimension_count", headDim);
    if (rotary !== headDim) unsupported(`llama.rope.dimension_count ${rotary} ≠ head size ${headDim} (partial rotary)`);
    for (const key of ["llama.attention.key_length", "llama.attention.value_length"]) {
      const n = metaInt(meta, key, headDim);
      if (n !== headDim) unsupported(`${key} ${n} ≠ embedding_length / head_count = ${headDim}`);
    }
    const scaling = metaString(meta, "llama.rope.scaling.type");
    if (scaling !== undefined && scaling !== "none") unsupported(`llama.rope.scaling.type "${scaling}"`);
    if (findTensor(header, "rope_freqs.weight")) unsupported("a rope_freqs.weight tensor (Llama 3.1 RoPE scaling)");
    if (meta.has("llama.expert_count") && metaInt(meta, "llama.expert_count", 1) > 0) unsupported("llama.expert_count > 0 (mixture of experts)");
  }
  return config;
}

/**
 * Reads a GGUF model (bytes in memory, any ByteSource such as a file from openFileSource of
 * @zero-llm/tensor/node, or an open GgufReader): config from the metadata; every tensor found and
 * checked (shape, type) before anything is allocated; then each weight read from its offset
 * straight into its final home (options.backend's memory) and checked finite. Every tensor in the
 * file must be one the model uses (UNUSED_WEIGHT otherwise: a GGUF whose block_count says 1 but
 * which holds 2 blocks is refused, not run on half its weights); llama's optional biases are used
 * when present. Matrices whose stored type has a LinearWeightType in options.weightTypes keep
 * their bytes as stored; the others are expanded to f32. The metadata (the tokenizer is in its
 * tokenizer.ggml.* keys) stays available on `file`.
 */
export async function readGguf(
  input: Uint8Array | ByteSource | GgufReader, options: LoadOptions = {},
): Promise<{ config: Config; weights: Weights; file: GgufReader }> {
  const file = input instanceof GgufReader ? input : await GgufReader.open(input instanceof Uint8Array ? bytesSource(input, "gguf") : input);
  const config = ggufConfig(file);
  const weightTypes = options.weightTypes ?? DEFAULT_WEIGHT_TYPES;

  const placements: TensorPlacement[] = [];
  const used = new Set<string>();
  const optional = optionalWeightShapes(config);
  for (const [name, shape] of [...weightShapes(config), ...optional]) {
    if (name === "lm_head.weight" && config.tiedEmbeddings) continue;
    const place = ggufPlace(config, name);
    const info = findTensor(file, place.gguf);
    if (!info) {
      if (optional.has(name)) continue;
      throw new TransformerError("MISSING_WEIGHT", `gguf: expected a tensor named ${place.gguf} (for ${name}), found none`);
    }
    const expected = place.rows ? [3 * shape[0], ...shape.slice(1)] : shape;
    if (info.shape.length !== expected.length || info.shape.some((d, i) => d !== expected[i])) {
      throw new TransformerError("WEIGHT_SHAPE_MISMATCH", `gguf: expected ${place.gguf} of shape [${expected.join(", ")}], found [${info.shape.join(", ")}]`);
    }
    const typeName = info.type.name;
    const projection = keepsStoredType(name);
    if (!GGUF_LOADABLE_TYPES.includes(typeName) && !(projection && weightTypes[typeName])) {
      throw new TransformerError(
        "UNSUPPORTED_TENSOR_TYPE",
        `gguf: expected ${place.gguf} to be one of ${GGUF_LOADABLE_TYPES.join(", ")}${projection ? " (or a type given in weightTypes)" : ""}, found ${typeName}`,
      );
    }
    used.add(info.name);
    const rows = place.rows;
    const from = rows ? `gguf ${info.name} rows ${rows[0]}…${rows[1] - 1}` : `gguf ${info.name}`;
    placements.push({
      name, shape, from,
      async readF32(out) {
        if (rows) await file.readRowsFloat32(info.name, rows[0], rows[1], out);
        else await file.readTensorFloat32(info.name, out);
      },
      raw: {
        type: typeName,
        byteLength: rows ? (info.byteLength / info.shape[0]) * (rows[1] - rows[0]) : info.byteLength,
        async read(target) {
          if (rows) await file.readRowsBytes(info.name, rows[0], rows[1], target);
          else await file.readTensorBytes(info.name, target);
        },
      },
    });
  }
  checkAllUsed("gguf", file.tensors.map((t) => t.name), used, () => false);
  return { config, weights: await fillWeights(config, placements, options), file };
}
