import { SafetensorsFile, serializeSafetensors, type SafetensorsTensorInput } from "@zero-llm/tensor";
import type { Config } from "@zero-llm/transformer";
import { LoraAdapter, type Allocate, type LoraModuleWeights } from "../adapter";
import { DEFAULT_LORA_CONFIG, checkLoraConfig, moduleRankAlpha, type LoraConfig } from "../config";
import { LoraError, listNames } from "../errors";
import { moduleOrder } from "../modules";

/**
 * PEFT's adapter directory (what `peft_model.save_pretrained(dir)` writes and
 * `PeftModel.from_pretrained(base, dir)` reads):
 *
 *   adapter_config.json          LoraConfig: peft_type "LORA", task_type "CAUSAL_LM", r, lora_alpha,
 *                                target_modules, lora_dropout, use_rslora, fan_in_fan_out,
 *                                bias "none", base_model_name_or_path, init_lora_weights,
 *                                rank_pattern, alpha_pattern, …
 *   adapter_model.safetensors    one pair per adapted module, the adapter name left out:
 *     base_model.model.<module>.lora_A.weight   [r, in]    (lora_A is an nn.Linear(in, r))
 *     base_model.model.<module>.lora_B.weight   [out, r]   (lora_B is an nn.Linear(r, out))
 *
 * <module> is the module's name in the transformers model: model.layers.0.self_attn.q_proj
 * (LlamaForCausalLM), transformer.h.0.attn.c_attn (GPT2LMHeadModel). GPT-2's Conv1D layers store
 * their weight [in, out]; PEFT marks them fan_in_fan_out = true, which changes only how a merge
 * transposes B·A into such a weight, never the A and B tensors (both stay nn.Linear weights).
 * The update is W·x + scaling · B·(A·x), scaling = lora_alpha / r (or / √r with use_rslora), per
 * module with rank_pattern / alpha_pattern.
 */

export const ADAPTER_CONFIG_FILE = "adapter_config.json";
export const ADAPTER_WEIGHTS_FILE = "adapter_model.safetensors";
const PREFIX = "base_model.model.";

/** PEFT's adapter_config.json as written for this adapter (every key PEFT's LoraConfig reads, with PEFT's defaults where we have nothing to say). */
export function peftConfigJson(adapter: LoraAdapter): Record<string, unknown> {
  const { config } = adapter;
  // per-module ranks and alphas as exact module names (PEFT's patterns match a name's suffix)
  const rankPattern: Record<string, number> = {};
  const alphaPattern: Record<string, number> = {};
  for (const m of adapter.modules.values()) {
    if (m.rank !== config.r) rankPattern[m.key] = m.rank;
    if (m.alpha !== config.alpha) alphaPattern[m.key] = m.alpha;
  }
  return {
    alpha_pattern: alphaPattern,
    auto_mapping: null,
    base_model_name_or_path: adapter.baseModel === "" ? null : adapter.baseModel,
    bias: "none",
    exclude_modules: null,
    fan_in_fan_out: adapter.arch === "gpt2",
    inference_mode: true,
    init_lora_weights: config.init === "gaussian" ? "gaussian" : true,
    layers_pattern: null,
    layers_to_transform: config.layersToTransform === null ? null : [...config.layersToTransform],
    lora_alpha: config.alpha,
    lora_bias: false,
    lora_dropout: config.dropout,
    modules_to_save: null,
    peft_type: "LORA",
    r: config.r,
    rank_pattern: rankPattern,
    revision: null,
    target_modules: typeof config.targetModules === "string" ? config.targetModules : [...config.targetModules],
    task_type: "CAUSAL_LM",
    use_dora: false,
    use_rslora: config.useRslora,
  };
}

/** The two files of a PEFT adapter directory, as text and bytes (F32 tensors). */
export function peftAdapterFiles(adapter: LoraAdapter): { configJson: string; safetensors: Uint8Array } {
  const tensors = new Map<string, SafetensorsTensorInput>();
  for (const m of adapter.modules.values()) {
    tensors.set(`${PREFIX}${m.key}.lora_A.weight`, { dtype: "F32", shape: [m.rank, m.inFeatures], data: m.a });
    tensors.set(`${PREFIX}${m.key}.lora_B.weight`, { dtype: "F32", shape: [m.outFeatures, m.rank], data: m.b });
  }
  return {
    configJson: `${JSON.stringify(peftConfigJson(adapter), null, 2)}\n`,
    safetensors: serializeSafetensors({ tensors, metadata: { format: "pt" } }),
  };
}

type Json = Record<string, unknown>;

function bad(message: string, cause?: unknown): never {
  throw new LoraError("BAD_ADAPTER_FILE", `PEFT adapter: ${message}`, cause === undefined ? undefined : { cause });
}

function unsupported(message: string): never {
  throw new LoraError("UNSUPPORTED_ADAPTER", `PEFT adapter: ${message}`);
}

function numberOf(json: Json, key: string, fallback: number): number {
  const v = json[key];
  if (v === undefined) return fallback;
  if (typeof v !== "number" || !Number.isFinite(v)) bad(`expected "${key}" in ${ADAPTER_CONFIG_FILE} to be a number, found ${JSON.stringify(v)}`);
  return v;
}

function patternOf(json: Json, key: string): Record<string, number> {
  const v = json[key];
  if (v === undefined || v === null) return {};
  if (typeof v !== "object" || Array.isArray(v) || Object.values(v).some((x) => typeof x !== "number")) {
    bad(`expected "${key}" in ${ADAPTER_CONFIG_FILE} to map module patterns to numbers, found ${JSON.stringify(v)}`);
  }
  return v as Record<string, number>;
}

/** LoraConfig from adapter_config.json's text; refuses what these adapters cannot run (DoRA, trained biases, …). */
export function parsePeftConfig(text: string): { config: LoraConfig; baseModel: string } {
  let json: Json;
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new Error("not an object");
    json = parsed as Json;
  } catch (e) {
    bad(`expected ${ADAPTER_CONFIG_FILE} to hold a JSON object, found ${JSON.stringify(text.slice(0, 40))}`, e);
  }
  if (json.peft_type !== "LORA") unsupported(`expected peft_type "LORA", found ${JSON.stringify(json.peft_type)}`);
  if (json.task_type !== undefined && json.task_type !== null && json.task_type !== "CAUSAL_LM") {
    unsupported(`expected task_type "CAUSAL_LM" (a causal language model's adapter), found ${JSON.stringify(json.task_type)}`);
  }
  if (json.use_dora === true) unsupported("use_dora: DoRA's magnitude vectors are not LoRA; expected use_dora false");
  if (json.lora_bias === true) unsupported("lora_bias: expected adapters without a bias on lora_B, found lora_bias true");
  if (json.bias !== undefined && json.bias !== "none") unsupported(`bias: expected "none" (biases left as the base has them), found ${JSON.stringify(json.bias)}`);
  if (Array.isArray(json.modules_to_save) && json.modules_to_save.length > 0) {
    unsupported(`modules_to_save: expected none (whole trained layers besides the adapters), found ${JSON.stringify(json.modules_to_save)}`);
  }
  const targets = json.target_modules;
  const targetModules = typeof targets === "string" ? targets : Array.isArray(targets) && targets.every((t) => typeof t === "string") ? (targets as string[]) : bad(`expected target_modules to be names or a pattern, found ${JSON.stringify(targets)}`);
  const init = json.init_lora_weights === "gaussian" ? "gaussian" : "kaiming";
  const layers = json.layers_to_transform;
  const layersToTransform = layers === undefined || layers === null ? null : typeof layers === "number" ? [layers] : Array.isArray(layers) ? (layers as number[]) : bad(`expected layers_to_transform to be layer indices, found ${JSON.stringify(layers)}`);
  const base = json.base_model_name_or_path;
  return {
    config: checkedConfig({
      r: numberOf(json, "r", 8),
      alpha: numberOf(json, "lora_alpha", 8),
      dropout: numberOf(json, "lora_dropout", 0),
      targetModules,
      useRslora: json.use_rslora === true,
      init,
      layersToTransform,
      rankPattern: patternOf(json, "rank_pattern"),
      alphaPattern: patternOf(json, "alpha_pattern"),
    }),
    baseModel: typeof base === "string" ? base : "",
  };
}

/** "model.layers.0.self_attn.q_proj" → llama; "transformer.h.0.attn.c_attn" (or "h.0…") → gpt2. */
function archOf(key: string): Config["arch"] | undefined {
  if (/^model\.layers\.\d+\./.test(key)) return "llama";
  if (/^(transformer\.)?h\.\d+\./.test(key)) return "gpt2";
  return undefined;
}

/**
 * An adapter from PEFT's two files. Tensor names must be PEFT's (the adapter name may be kept,
 * `lora_A.default.weight`); F32, F16 and BF16 tensors are read as f32. Each module's rank must
 * be the one its config gives it (r, or rank_pattern), as PEFT itself requires to load it.
 */
export function adapterFromPeft(configText: string, safetensors: Uint8Array, options: { allocate?: Allocate } = {}): LoraAdapter {
  const { config, baseModel } = parsePeftConfig(configText);
  let file: SafetensorsFile;
  try {
    file = SafetensorsFile.parse(safetensors);
  } catch (e) {
    bad(`expected ${ADAPTER_WEIGHTS_FILE} to be a safetensors file, found one that does not parse (${e instanceof Error ? e.message : String(e)})`, e);
  }
  const pairs = new Map<string, { a?: string; b?: string }>();
  const foreign: string[] = [];
  for (const { name } of file.tensors) {
    const m = /^(?:base_model\.model\.)?(.+)\.lora_([AB])(?:\.[^.]+)?\.weight$/.exec(name);
    if (!m) {
      foreign.push(name);
      continue;
    }
    let key = m[1];
    if (/^h\.\d+\./.test(key)) key = `transformer.${key}`; // a GPT2Model (no LM head) names its blocks h.N
    const pair = pairs.get(key) ?? {};
    if (pair[m[2] === "A" ? "a" : "b"] !== undefined) bad(`expected one lora_${m[2]} tensor for ${key}, found two (${name})`);
    pair[m[2] === "A" ? "a" : "b"] = name;
    pairs.set(key, pair);
  }
  if (foreign.length > 0) {
    unsupported(`expected only lora_A / lora_B weights, found ${foreign.length} other tensors: ${listNames(foreign)} (embedding adapters, biases and saved modules are not run by this package)`);
  }
  const allocate = options.allocate ?? ((n: number) => new Float32Array(n));
  const archs = new Set<Config["arch"]>();
  const modules: LoraModuleWeights[] = [];
  for (const [key, { a, b }] of pairs) {
    if (a === undefined || b === undefined) bad(`expected lora_A and lora_B for ${key}, found only lora_${a === undefined ? "B" : "A"}`);
    const arch = archOf(key) ?? unsupported(`expected Llama (model.layers.N.…) or GPT-2 (transformer.h.N.…) module names, found ${key}`);
    archs.add(arch);
    const aInfo = file.tensorInfo(a), bInfo = file.tensorInfo(b);
    if (aInfo.shape.length !== 2 || bInfo.shape.length !== 2 || aInfo.shape[0] !== bInfo.shape[1]) {
      bad(`${key}: expected lora_A [r, in] and lora_B [out, r] with one r, found [${aInfo.shape.join(", ")}] and [${bInfo.shape.join(", ")}]`);
    }
    const [rank, inFeatures] = aInfo.shape as [number, number];
    const outFeatures = bInfo.shape[0] as number;
    const expected = moduleRankAlpha(config, key);
    if (expected.rank !== rank) bad(`${key}: expected rank ${expected.rank} (r or rank_pattern in ${ADAPTER_CONFIG_FILE}), found lora_A with ${rank} rows`);
    const read = (name: string, n: number): Float32Array => {
      try {
        return file.tensorToFloat32(name, allocate(n));
      } catch (e) {
        bad(`${name}: expected F32, F16 or BF16 values, found ${file.tensorInfo(name).dtype} (${e instanceof Error ? e.message : String(e)})`, e);
      }
    };
    modules.push({ key, rank, alpha: expected.alpha, inFeatures, outFeatures, a: read(a, rank * inFeatures), b: read(b, outFeatures * rank) });
  }
  if (archs.size > 1) bad(`expected the modules of one architecture, found both Llama and GPT-2 names`);
  const [arch] = archs;
  if (arch === undefined) bad(`expected lora_A / lora_B tensors in ${ADAPTER_WEIGHTS_FILE}, found none`);
  modules.sort((x, y) => moduleOrder(x.key) - moduleOrder(y.key));
  return new LoraAdapter(arch, config, modules, baseModel);
}

/** The file's config with PEFT's defaults for absent keys, checked (BAD_ADAPTER_FILE names the broken field). */
function checkedConfig(config: Partial<LoraConfig> & Pick<LoraConfig, "targetModules">): LoraConfig {
  try {
    return checkLoraConfig({ ...DEFAULT_LORA_CONFIG, ...config });
  } catch (e) {
    bad(`${ADAPTER_CONFIG_FILE}: ${e instanceof Error ? e.message : String(e)}`, e);
  }
}
