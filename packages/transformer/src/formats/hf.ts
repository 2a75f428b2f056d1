import { READ_CHUNK_BYTES, SafetensorsReader, bytesSource, type ByteSource, type SafetensorsTensorInfo } from "@zero-llm/tensor";
import { TransformerError } from "../errors";
import { MAX_CONTEXT, validateConfig, type Config } from "../infer/config";
import { optionalWeightShapes, weightShapes, type Weights } from "../infer/weights";
import { hfPlace } from "./hf-names";
import { checkAllUsed, fillWeights, type LoadOptions, type TensorPlacement } from "./placement";

/**
 * Hugging Face checkpoints: `config.json` (the hyperparameters) + `model.safetensors` (or shards
 * listed by model.safetensors.index.json). Two architectures:
 *
 *   config.json key          Llama (model_type "llama")          GPT-2 (model_type "gpt2")
 *   dim                      hidden_size                         n_embd
 *   hiddenDim                intermediate_size                   n_inner (null: 4 · n_embd)
 *   nLayers                  num_hidden_layers                   n_layer
 *   nHeads / nKvHeads        num_attention_heads / num_key_value_heads (default: the same)   n_head
 *   vocabSize                vocab_size                          vocab_size
 *   seqLen                   max_position_embeddings             n_positions (or n_ctx)
 *   normEps                  rms_norm_eps (default 1e-6)         layer_norm_epsilon (default 1e-5)
 *   ropeTheta                rope_theta (default 10000)          —
 *   tiedEmbeddings           tie_word_embeddings (default false) tie_word_embeddings (default true)
 *
 * Llama gets ropeStyle "half": HF's LlamaRotaryEmbedding rotates the two halves of each head
 * (rotate_half). `attention_bias: true` adds biases to q, k, v and o, `mlp_bias: true` to gate, up
 * and down (the checkpoint must then hold them). Variants this forward pass does not implement
 * are refused by name (rope_scaling, a head_dim that is not hidden_size / heads, another
 * activation).
 */

type Json = Record<string, unknown>;

function fail(code: "MISSING_METADATA" | "BAD_METADATA" | "UNSUPPORTED_ARCHITECTURE", message: string, cause?: unknown): never {
  throw new TransformerError(code, `hf config.json: ${message}`, cause === undefined ? undefined : { cause });
}

function positiveInt(json: Json, key: string, fallback?: number): number {
  const value = json[key];
  if (value === undefined || value === null) return fallback ?? fail("MISSING_METADATA", `expected key "${key}", found none`);
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value <= 0) {
    fail("BAD_METADATA", `expected "${key}" to be a positive integer, found ${JSON.stringify(value)}`);
  }
  return value;
}

/**
 * A positive number with a default when the key is absent. `null` is not absent: transformers
 * keeps None for these (rms_norm_eps, layer_norm_epsilon, rope_theta) and then fails in the
 * forward pass, so a null is a damaged file, never a silent default.
 */
function positiveNumber(json: Json, key: string, fallback: number): number {
  const value = json[key];
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !(value > 0) || !Number.isFinite(value)) {
    fail("BAD_METADATA", `expected "${key}" to be a positive number (or the key left out for the default ${fallback}), found ${JSON.stringify(value)}`);
  }
  return value;
}

function flag(json: Json, key: string, fallback: boolean): boolean {
  const value = json[key];
  if (value === undefined || value === null) return fallback;
  if (typeof value !== "boolean") fail("BAD_METADATA", `expected "${key}" to be true or false, found ${JSON.stringify(value)}`);
  return value;
}

/** The Config a Hugging Face config.json describes (its parsed JSON). */
export function hfConfig(json: unknown): Config {
  if (typeof json !== "object" || json === null || Array.isArray(json)) fail("BAD_METADATA", `expected a JSON object, found ${JSON.stringify(json)?.slice(0, 40)}`);
  const j = json as Json;
  const modelType = j.model_type;
  if (modelType !== "llama" && modelType !== "gpt2") {
    fail("UNSUPPORTED_ARCHITECTURE", `expected model_type "llama" or "gpt2", found ${JSON.stringify(modelType)}`);
  }
  let config: Config;
  if (modelType === "llama") {
    const nHeads = positiveInt(j, "num_attention_heads");
    config = {
      arch: "llama",
      dim: positiveInt(j, "hidden_size"),
      hiddenDim: positiveInt(j, "intermediate_size"),
      nLayers: positiveInt(j, "num_hidden_layers"),
      nHeads,
      nKvHeads: positiveInt(j, "num_key_value_heads", nHeads),
      vocabSize: positiveInt(j, "vocab_size"),
      seqLen: positiveInt(j, "max_position_embeddings"),
      normEps: positiveNumber(j, "rms_norm_eps", 1e-6),
      ropeTheta: positiveNumber(j, "rope_theta", 10000),
      ropeStyle: "half",
      tiedEmbeddings: flag(j, "tie_word_embeddings", false),
    };
    if (j.rope_scaling !== undefined && j.rope_scaling !== null) fail("UNSUPPORTED_ARCHITECTURE", `expected no rope_scaling, found ${JSON.stringify(j.rope_scaling)}`);
    const act = j.hidden_act ?? "silu";
    if (act !== "silu") fail("UNSUPPORTED_ARCHITECTURE", `expected hidden_act "silu", found ${JSON.stringify(act)}`);
    if (j.head_dim !== undefined && j.head_dim !== null && j.head_dim !== config.dim / nHeads) {
      fail("UNSUPPORTED_ARCHITECTURE", `expected head_dim = hidden_size / num_attention_heads = ${config.dim / nHeads}, found ${JSON.stringify(j.head_dim)}`);
    }
  } else {
    const dim = positiveInt(j, "n_embd");
    const nHeads = positiveInt(j, "n_head");
    config = {
      arch: "gpt2",
      dim,
      hiddenDim: positiveInt(j, "n_inner", 4 * dim),
      nLayers: positiveInt(j, "n_layer"),
      nHeads,
      nKvHeads: nHeads,
      vocabSize: positiveInt(j, "vocab_size"),
      seqLen: positiveInt(j, "n_positions", positiveInt(j, "n_ctx", 1024)),
      normEps: positiveNumber(j, "layer_norm_epsilon", 1e-5),
      ropeTheta: 10000,
      ropeStyle: "interleaved",
      tiedEmbeddings: flag(j, "tie_word_embeddings", true),
    };
    const act = j.activation_function ?? "gelu_new";
    if (act !== "gelu_new" && act !== "gelu_pytorch_tanh") {
      fail("UNSUPPORTED_ARCHITECTURE", `expected activation_function "gelu_new" (tanh GELU), found ${JSON.stringify(act)}`);
    }
  }
  // the KV cache (and gpt2's position table) is sized by the context length: bound it as GGUF's is
  if (config.seqLen > MAX_CONTEXT) {
    fail("BAD_METADATA", `expected "${configKey(config, "seqLen")}" ≤ ${MAX_CONTEXT}, found ${config.seqLen}`);
  }
  try {
    validateConfig(config);
  } catch (e) {
    fail("BAD_METADATA", e instanceof Error ? e.message : String(e), e);
  }
  return config;
}

/** The config.json key a Config field was read from (for messages). */
function configKey(c: Config, field: "dim" | "hiddenDim" | "nLayers" | "nKvHeads" | "vocabSize" | "seqLen"): string {
  const llama = { dim: "hidden_size", hiddenDim: "intermediate_size", nLayers: "num_hidden_layers", nKvHeads: "num_key_value_heads", vocabSize: "vocab_size", seqLen: "max_position_embeddings" };
  const gpt2 = { dim: "n_embd", hiddenDim: "n_inner", nLayers: "n_layer", nKvHeads: "n_head", vocabSize: "vocab_size", seqLen: "n_positions" };
  return (c.arch === "llama" ? llama : gpt2)[field];
}

/** The config.json keys that decide the shape of one of our weights. */
function shapeKeys(c: Config, name: string): string {
  const fields: Parameters<typeof configKey>[1][] = /embed_tokens|lm_head/.test(name) ? ["vocabSize", "dim"]
    : /embed_positions/.test(name) ? ["seqLen", "dim"]
    : /[kv]_proj/.test(name) && c.arch === "llama" ? ["nKvHeads", "dim"]
    : /mlp\./.test(name) ? ["hiddenDim", "dim"]
    : ["dim"];
  return fields.map((f) => configKey(c, f)).join(", ");
}

/** Looks a tensor up across the shards of one checkpoint. */
class ShardSet {
  private readonly where = new Map<string, { file: SafetensorsReader; info: SafetensorsTensorInfo }>();

  constructor(files: readonly SafetensorsReader[]) {
    for (const file of files) {
      for (const info of file.tensors) {
        if (this.where.has(info.name)) {
          throw new TransformerError("BAD_METADATA", `hf safetensors: expected each tensor in one shard, found ${info.name} twice`);
        }
        this.where.set(info.name, { file, info });
      }
    }
  }

  /** Tensors across all shards (bounded by the files' sizes: each has a header entry). */
  get count(): number {
    return this.where.size;
  }

  names(): string[] {
    return [...this.where.keys()];
  }

  /** GPT-2 checkpoints may prefix every name with "transformer." (GPT2LMHeadModel) or not (GPT2Model). */
  find(name: string): { file: SafetensorsReader; info: SafetensorsTensorInfo } | undefined {
    return this.where.get(name) ?? this.where.get(`transformer.${name}`);
  }
}

const FLOAT_DTYPES = ["F32", "F16", "BF16", "F64"];

/**
 * Tensors a Hugging Face checkpoint may hold that are not weights, ignored by the loader:
 * GPT-2's causal-mask buffers (`h.N.attn.bias`, `h.N.attn.masked_bias`), older Llama checkpoints'
 * RoPE frequency buffers (`rotary_emb.inv_freq`, recomputed from rope_theta), and lm_head.weight
 * when tie_word_embeddings says the head is the embedding (a saved duplicate).
 */
function ignoredHfTensor(config: Config, name: string): boolean {
  const bare = name.startsWith("transformer.") ? name.slice("transformer.".length) : name;
  if (config.arch === "gpt2" && /^h\.\d+\.attn\.(bias|masked_bias)$/.test(bare)) return true;
  if (config.arch === "llama" && /\.rotary_emb\.inv_freq$/.test(name)) return true;
  return config.tiedEmbeddings && name === "lm_head.weight";
}

/** The llama biases config.json switches on (attention_bias, mlp_bias): then required. */
function configBiases(config: Config, json: Json): Map<string, number[]> {
  const wanted = new Map<string, number[]>();
  if (config.arch !== "llama") return wanted;
  const attention = flag(json, "attention_bias", false), mlp = flag(json, "mlp_bias", false);
  for (const [name, shape] of optionalWeightShapes(config)) {
    if (/self_attn\.[qkvo]_proj\.bias$/.test(name) ? attention : mlp) wanted.set(name, shape);
  }
  return wanted;
}

/**
 * Builds our weights from a Hugging Face checkpoint (each shard as bytes, a ByteSource or an open
 * SafetensorsReader): shapes and dtypes are checked for every tensor before anything is
 * allocated; then each weight is read from its offset straight into its final home
 * (options.backend), checked finite. GPT-2's Conv1D matrices are transposed and c_attn split on
 * the way, a chunk of rows at a time. Every tensor in the shards must be used (UNUSED_WEIGHT),
 * except the non-weights of ignoredHfTensor.
 */
export async function readHf(
  configJson: unknown, shards: readonly (Uint8Array | ByteSource | SafetensorsReader)[], options: LoadOptions = {},
): Promise<{ config: Config; weights: Weights }> {
  const config = hfConfig(configJson);
  const readers: SafetensorsReader[] = [];
  for (const [i, shard] of shards.entries()) {
    readers.push(shard instanceof SafetensorsReader ? shard : await SafetensorsReader.open(shard instanceof Uint8Array ? bytesSource(shard, `shard ${i}`) : shard));
  }
  const files = new ShardSet(readers);
  // the expected tensor list below is sized by the layer count: bound it by the tensors present first
  if (config.nLayers > files.count) {
    throw new TransformerError(
      "BAD_METADATA",
      `hf config.json: expected "${configKey(config, "nLayers")}" ≤ the ${files.count} tensors in the checkpoint (each layer has several), found ${config.nLayers}`,
    );
  }
  const weightTypes = options.weightTypes ?? {};

  const placements: TensorPlacement[] = [];
  const used = new Set<string>();
  for (const [name, shape] of [...weightShapes(config), ...configBiases(config, configJson as Json)]) {
    if (name === "lm_head.weight" && config.tiedEmbeddings) continue;
    const place = hfPlace(config, name);
    const found = files.find(place.hf);
    if (!found) throw new TransformerError("MISSING_WEIGHT", `hf safetensors: expected a tensor named ${place.hf} (for ${name}), found none`);
    // the stored shape: Conv1D [in, out] with out = 3·dim for c_attn
    const out = place.outputs ? 3 * config.dim : shape[0];
    const expected = shape.length === 1 ? [out] : place.transposed ? [shape[1], out] : [out, shape[1]];
    const { file, info } = found;
    if (info.shape.length !== expected.length || info.shape.some((d, i) => d !== expected[i])) {
      throw new TransformerError(
        "WEIGHT_SHAPE_MISMATCH",
        `hf safetensors: expected ${info.name} of shape [${expected.join(", ")}] (from config.json ${shapeKeys(config, name)}), found [${info.shape.join(", ")}]`,
      );
    }
    const plain = !place.transposed && !place.outputs;
    if (!FLOAT_DTYPES.includes(info.dtype) && !(plain && shape.length === 2 && weightTypes[info.dtype])) {
      throw new TransformerError("UNSUPPORTED_TENSOR_TYPE", `hf safetensors: expected ${info.name} to be one of ${FLOAT_DTYPES.join(", ")}, found ${info.dtype}`);
    }
    used.add(info.name);
    const [begin, end] = place.outputs ?? [0, shape[0]];
    placements.push({
      name, shape, from: place.outputs ? `hf ${info.name} outputs ${begin}…${end - 1}` : `hf ${info.name}`,
      async readF32(dst) {
        if (plain) await file.readTensorFloat32(info.name, dst);
        else if (shape.length === 1) await file.readRowsFloat32(info.name, begin, end, dst); // a part of c_attn's bias
        else await readConv1D(file, info, begin, end, dst);
      },
      ...(plain ? { raw: { type: info.dtype, byteLength: info.byteLength, read: async (target: Uint8Array) => { await file.readTensorBytes(info.name, target); } } } : {}),
    });
  }
  checkAllUsed("hf safetensors", files.names(), used, (name) => ignoredHfTensor(config, name));
  return { config, weights: await fillWeights(config, placements, options) };
}

/**
 * A Conv1D matrix src [in, outTotal] as ours [out, in] = its columns begin…end, transposed:
 * dst[o, i] = src[i, begin + o], reading the source a block of rows at a time (bounded memory).
 */
async function readConv1D(file: SafetensorsReader, info: SafetensorsTensorInfo, begin: number, end: number, dst: Float32Array): Promise<void> {
  const [inDim = 0, outTotal = 0] = info.shape;
  const rowsPerBlock = Math.max(1, Math.floor(READ_CHUNK_BYTES / 4 / Math.max(1, outTotal)));
  const block = new Float32Array(Math.min(inDim, rowsPerBlock) * outTotal);
  for (let i0 = 0; i0 < inDim; i0 += rowsPerBlock) {
    const rows = Math.min(rowsPerBlock, inDim - i0);
    const src = await file.readRowsFloat32(info.name, i0, i0 + rows, block.subarray(0, rows * outTotal));
    for (let r = 0; r < rows; r++) {
      const from = r * outTotal + begin, i = i0 + r;
      for (let o = 0; o < end - begin; o++) dst[o * inDim + i] = src[from + o];
    }
  }
}
