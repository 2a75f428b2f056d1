import {
  f32ArrayToBf16, f32ArrayToF16, serializeSafetensors,
  type SafetensorsTensorInput, type SafetensorsWriteInput,
} from "@zero-llm/tensor";
import { TransformerError } from "../errors";
import { headDimOf, validateConfig, type Config } from "../infer/config";
import { checkWeights, optionalWeightShapes, weightShapes, type Weights } from "../infer/weights";
import { hfPlace } from "./hf-names";
import { interleavedToHalf } from "./rope-permute";

/**
 * Our models as Hugging Face checkpoints (config.json + model.safetensors) that `transformers`
 * loads with LlamaForCausalLM / GPT2LMHeadModel:
 *
 * - llama: q/k rows in "half" RoPE order (an interleaved model, e.g. from llama2.c or GGUF, is
 *   permuted the way HF's converter does); lm_head.weight omitted when tied.
 * - gpt2: names with the "transformer." prefix, Conv1D matrices stored [in, out], q/k/v fused
 *   into c_attn (columns q | k | v); lm_head tied (GPT-2 always ties it).
 */

export interface HfExportOptions {
  /** Storage dtype of every tensor. Default F32. */
  dtype?: "F32" | "F16" | "BF16";
}

export interface HfCheckpoint {
  /** The content of config.json. */
  readonly config: Record<string, unknown>;
  /** The content of model.safetensors (serializeSafetensors / writeSafetensorsFile). */
  readonly safetensors: SafetensorsWriteInput;
}

const TORCH_DTYPE = { F32: "float32", F16: "float16", BF16: "bfloat16" } as const;

/**
 * config.json for a Config; hfConfig(hfConfigJson(c)) gives c back (with the file's ropeStyle).
 * `biases` switches on a llama's attention_bias (q, k, v, o) and mlp_bias (gate, up, down).
 */
export function hfConfigJson(
  c: Config, dtype: "F32" | "F16" | "BF16" = "F32", biases: { attention: boolean; mlp: boolean } = { attention: false, mlp: false },
): Record<string, unknown> {
  if (c.arch === "llama") {
    return {
      architectures: ["LlamaForCausalLM"],
      model_type: "llama",
      hidden_size: c.dim,
      intermediate_size: c.hiddenDim,
      num_hidden_layers: c.nLayers,
      num_attention_heads: c.nHeads,
      num_key_value_heads: c.nKvHeads,
      head_dim: headDimOf(c),
      vocab_size: c.vocabSize,
      max_position_embeddings: c.seqLen,
      rms_norm_eps: c.normEps,
      rope_theta: c.ropeTheta,
      rope_scaling: null,
      hidden_act: "silu",
      attention_bias: biases.attention,
      mlp_bias: biases.mlp,
      tie_word_embeddings: c.tiedEmbeddings,
      bos_token_id: 1,
      eos_token_id: 2,
      torch_dtype: TORCH_DTYPE[dtype],
    };
  }
  return {
    architectures: ["GPT2LMHeadModel"],
    model_type: "gpt2",
    n_embd: c.dim,
    n_inner: c.hiddenDim,
    n_layer: c.nLayers,
    n_head: c.nHeads,
    vocab_size: c.vocabSize,
    n_positions: c.seqLen,
    n_ctx: c.seqLen,
    layer_norm_epsilon: c.normEps,
    activation_function: "gelu_new",
    tie_word_embeddings: true,
    torch_dtype: TORCH_DTYPE[dtype],
  };
}

/** A Hugging Face checkpoint of the model (config.json content + safetensors input). */
export function hfFromModel(config: Config, weights: Weights, options: HfExportOptions = {}): HfCheckpoint {
  validateConfig(config);
  checkWeights(config, weights);
  const dtype = options.dtype ?? "F32";
  if (!(dtype in TORCH_DTYPE)) throw new TransformerError("UNSUPPORTED_TENSOR_TYPE", `hf export: expected dtype F32, F16 or BF16, found ${dtype}`);
  if (config.arch === "gpt2" && !config.tiedEmbeddings) {
    throw new TransformerError("UNSUPPORTED_ARCHITECTURE", "hf export: expected a gpt2 model with tied embeddings (GPT2LMHeadModel always ties them), found an untied lm_head");
  }
  const encode = (data: Float32Array, shape: readonly number[]): SafetensorsTensorInput => ({
    dtype,
    shape,
    data: dtype === "F32" ? data : dtype === "F16" ? f32ArrayToF16(data) : f32ArrayToBf16(data),
  });
  const prefix = config.arch === "gpt2" ? "transformer." : "";

  // a llama's optional biases: HF switches them on per group (attention_bias: q, k, v and o;
  // mlp_bias: gate, up and down), so a group with some writes zeros for the others (same outputs)
  const optional = optionalWeightShapes(config);
  const present = [...optional.keys()].filter((name) => weights.has(name));
  const biases = {
    attention: present.some((name) => /self_attn\./.test(name)),
    mlp: present.some((name) => /mlp\./.test(name)),
  };
  const biasShapes = [...optional].filter(([name]) => (/self_attn\./.test(name) ? biases.attention : biases.mlp));

  const tensors = new Map<string, SafetensorsTensorInput>();
  const fused = new Map<string, { shape: number[]; data: Float32Array }>(); // c_attn, filled by parts
  for (const [name, shape] of [...weightShapes(config), ...biasShapes]) {
    if (name === "lm_head.weight" && config.tiedEmbeddings) continue;
    let data = weights.has(name) ? weights.get(name).data : new Float32Array(shape.reduce((a, b) => a * b, 1));
    if (config.arch === "llama" && config.ropeStyle === "interleaved") {
      // Hugging Face Llama rotates halves: permute each head's q/k rows as its converter does
      // (a q/k bias moves with its rows)
      const cols = name.endsWith(".bias") ? 1 : config.dim;
      if (/self_attn\.q_proj\.(weight|bias)$/.test(name)) data = interleavedToHalf(data, config.nHeads, headDimOf(config), cols);
      if (/self_attn\.k_proj\.(weight|bias)$/.test(name)) data = interleavedToHalf(data, config.nKvHeads, headDimOf(config), cols);
    }
    const place = hfPlace(config, name);
    const hfName = place.hf === "lm_head.weight" ? place.hf : prefix + place.hf;
    if (!place.transposed && !place.outputs) {
      tensors.set(hfName, encode(data, shape));
      continue;
    }
    // Conv1D layout [in, outTotal]; a c_attn part fills output columns begin…end
    const [begin, end] = place.outputs ?? [0, shape[0]];
    const outTotal = place.outputs ? 3 * config.dim : shape[0];
    const storedShape = shape.length === 1 ? [outTotal] : [shape[1], outTotal];
    let target = fused.get(hfName);
    if (!target) {
      target = { shape: storedShape, data: new Float32Array(storedShape.reduce((a, b) => a * b, 1)) };
      fused.set(hfName, target);
    }
    if (shape.length === 1) {
      target.data.set(data, begin);
    } else {
      const inDim = shape[1];
      for (let o = 0; o < end - begin; o++) {
        for (let i = 0; i < inDim; i++) target.data[i * outTotal + begin + o] = data[o * inDim + i];
      }
    }
    if (end === outTotal) tensors.set(hfName, encode(target.data, target.shape)); // complete
  }
  return { config: hfConfigJson(config, dtype, biases), safetensors: { metadata: { format: "pt" }, tensors } };
}

/** Bytes of config.json and model.safetensors for the model. */
export function serializeHfModel(config: Config, weights: Weights, options: HfExportOptions = {}): { configJson: string; safetensors: Uint8Array } {
  const checkpoint = hfFromModel(config, weights, options);
  return { configJson: `${JSON.stringify(checkpoint.config, null, 2)}\n`, safetensors: serializeSafetensors(checkpoint.safetensors) };
}
