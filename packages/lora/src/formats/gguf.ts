import { GgufFile, f32ArrayToF16, ggufValue, serializeGguf, type GgufTensorInput, type GgufValue } from "@zero-llm/tensor";
import { halfToInterleaved, headDimOf, interleavedToHalf, type Config } from "@zero-llm/transformer";
import { LoraAdapter, type Allocate, type LoraModuleWeights } from "../adapter";
import { DEFAULT_LORA_CONFIG, checkLoraConfig } from "../config";
import { LoraError, listNames } from "../errors";
import { linearModules, moduleOrder, type LinearModule } from "../modules";

/**
 * llama.cpp's LoRA adapter file (what convert_lora_to_gguf.py writes and llama_adapter_lora_init
 * reads, `llama-cli --lora FILE`):
 *
 *   metadata   general.architecture   "llama" | "gpt2" (must be the base model's)
 *              general.type           "adapter"
 *              adapter.type           "lora"
 *              adapter.lora.alpha     f32
 *   tensors    <base tensor>.lora_a   ggml ne = [in, r]    (row-major [r, in], PEFT's lora_A)
 *              <base tensor>.lora_b   ggml ne = [r, out]   (row-major [out, r], PEFT's lora_B)
 *
 * with <base tensor> the model's GGUF name (blk.0.attn_q.weight, blk.0.attn_qkv.weight, …).
 * llama.cpp adds scale · (alpha / r) · B·(A·x) to each such matrix's product, r being the rows of
 * lora_a (alpha 0 means a factor of 1); it has no rsLoRA switch, so an rsLoRA adapter is written
 * with alpha·√r, which gives the same alpha / √r. When the modules' scalings cannot be one
 * alpha / r (rsLoRA with several ranks, alpha_pattern), alpha is written 0 and each module's
 * scaling is folded into its lora_b. A GGUF llama rotates adjacent RoPE pairs, so the q/k rows of
 * lora_b are permuted from Hugging Face order on the way out, and back on the way in.
 */

export interface GgufAdapterOptions {
  /** Storage of lora_a / lora_b: F32 (default) or F16. */
  type?: "F32" | "F16";
  /** general.name (default the adapter's base_model_name_or_path, or "zero-llm-lora"). */
  name?: string;
}

/** Relative agreement below which modules' alpha·r products count as one alpha. */
const SAME_ALPHA = 1e-6;

/** The GGUF tensors' row order for a module's lora_b: llama q/k rows interleaved (GGUF's RoPE order). */
function toGgufRows(model: Config, m: LinearModule, b: Float32Array, rank: number): Float32Array {
  const heads = m.parts[0]?.ropeHeads;
  return heads === undefined ? b : halfToInterleaved(b, heads, headDimOf(model), rank);
}

/** The adapter as a GGUF file's contents, for a base model of config `model` (checked first). */
export function ggufAdapterInput(model: Config, adapter: LoraAdapter, options: GgufAdapterOptions = {}): { metadata: [string, GgufValue][]; tensors: GgufTensorInput[] } {
  const modules = adapter.check(model);
  // alpha such that alpha / r_m is every module's scaling, if there is one
  const products = modules.map((m) => adapter.scaling(m.key) * adapter.module(m.key).rank);
  const first = products[0] ?? 0;
  const oneAlpha = products.every((p) => Math.abs(p - first) <= SAME_ALPHA * Math.max(Math.abs(first), 1));
  const type = options.type ?? "F32";
  const tensors: GgufTensorInput[] = [];
  for (const m of modules) {
    const w = adapter.module(m.key);
    let b = toGgufRows(model, m, w.b, w.rank);
    if (!oneAlpha) {
      const s = adapter.scaling(m.key);
      b = b.map((v) => v * s);
    }
    const encode = (data: Float32Array): { type: string; data: ArrayBufferView } => (type === "F16" ? { type, data: f32ArrayToF16(data) } : { type, data });
    tensors.push({ name: `${m.gguf}.lora_a`, shape: [w.rank, w.inFeatures], ...encode(w.a) });
    tensors.push({ name: `${m.gguf}.lora_b`, shape: [w.outFeatures, w.rank], ...encode(b) });
  }
  const metadata: [string, GgufValue][] = [
    ["general.architecture", ggufValue.string(model.arch)],
    ["general.type", ggufValue.string("adapter")],
    ["general.name", ggufValue.string(options.name ?? (adapter.baseModel || "zero-llm-lora"))],
    ["adapter.type", ggufValue.string("lora")],
    ["adapter.lora.alpha", ggufValue.f32(oneAlpha ? first : 0)],
  ];
  return { metadata, tensors };
}

/** The GGUF adapter file's bytes. */
export function serializeGgufAdapter(model: Config, adapter: LoraAdapter, options: GgufAdapterOptions = {}): Uint8Array {
  return serializeGguf(ggufAdapterInput(model, adapter, options));
}

function bad(message: string, cause?: unknown): never {
  throw new LoraError("BAD_ADAPTER_FILE", `GGUF adapter: ${message}`, cause === undefined ? undefined : { cause });
}

/**
 * An adapter from a GGUF adapter file, for a base model of config `model` (as llama.cpp, the
 * base decides what the tensor names and RoPE rows mean). Its scaling is alpha / r per module
 * (1 when alpha is 0), written back as lora_alpha = alpha (and per-module alphas when 0).
 */
export function adapterFromGguf(bytes: Uint8Array, model: Config, options: { allocate?: Allocate; baseModel?: string } = {}): LoraAdapter {
  let file: GgufFile;
  try {
    file = GgufFile.parse(bytes);
  } catch (e) {
    bad(`expected a GGUF file, found one that does not parse (${e instanceof Error ? e.message : String(e)})`, e);
  }
  const text = (key: string): string | undefined => {
    const v = file.get(key);
    return typeof v === "string" ? v : undefined;
  };
  if (text("general.type") !== "adapter") bad(`expected general.type "adapter", found ${JSON.stringify(file.get("general.type") ?? null)} (a model file, not an adapter?)`);
  if (text("adapter.type") !== "lora") throw new LoraError("UNSUPPORTED_ADAPTER", `GGUF adapter: expected adapter.type "lora", found ${JSON.stringify(file.get("adapter.type") ?? null)}`);
  const arch = text("general.architecture");
  if (arch !== model.arch) throw new LoraError("BASE_MISMATCH", `GGUF adapter: expected general.architecture "${model.arch}" (the base model's), found ${JSON.stringify(arch ?? null)}`);
  const alphaValue = file.get("adapter.lora.alpha") ?? 0;
  if (typeof alphaValue !== "number" || !Number.isFinite(alphaValue) || alphaValue < 0) bad(`expected adapter.lora.alpha to be a finite number >= 0, found ${String(alphaValue)}`);

  const byGguf = new Map(linearModules(model).map((m) => [m.gguf, m]));
  const pairs = new Map<string, { a?: string; b?: string }>();
  for (const { name } of file.tensors) {
    const m = /^(.+)\.lora_([ab])$/.exec(name);
    if (!m) throw new LoraError("UNSUPPORTED_ADAPTER", `GGUF adapter: expected tensors named <tensor>.lora_a / .lora_b, found ${name} (norm and embedding adapters are not run by this package)`);
    const pair = pairs.get(m[1]) ?? {};
    pair[m[2] as "a" | "b"] = name;
    pairs.set(m[1], pair);
  }
  const unknown = [...pairs.keys()].filter((t) => !byGguf.has(t));
  if (unknown.length > 0) {
    throw new LoraError("BASE_MISMATCH", `GGUF adapter: expected tensors of this ${model.nLayers}-layer ${model.arch} model's linear layers, found ${unknown.length} others: ${listNames(unknown)}`);
  }
  const allocate = options.allocate ?? ((n: number) => new Float32Array(n));
  const modules: LoraModuleWeights[] = [];
  for (const [tensor, { a, b }] of pairs) {
    const m = byGguf.get(tensor) as LinearModule;
    if (a === undefined || b === undefined) bad(`expected ${tensor}.lora_a and .lora_b, found only .lora_${a === undefined ? "b" : "a"}`);
    const aInfo = file.tensorInfo(a), bInfo = file.tensorInfo(b);
    const [inFeatures, rank] = aInfo.dims.map(Number);
    const [rankB, outFeatures] = bInfo.dims.map(Number);
    if (aInfo.dims.length !== 2 || bInfo.dims.length !== 2 || rank !== rankB || inFeatures !== m.inFeatures || outFeatures !== m.outFeatures) {
      throw new LoraError(
        "BASE_MISMATCH",
        `${m.key} (${tensor}): expected lora_a ne [${m.inFeatures}, r] and lora_b ne [r, ${m.outFeatures}], found [${aInfo.dims.join(", ")}] and [${bInfo.dims.join(", ")}]`,
      );
    }
    const read = (name: string, n: number): Float32Array => {
      try {
        return file.tensorToFloat32(name, allocate(n));
      } catch (e) {
        bad(`${name}: expected f32, f16, bf16 or q8_0/q4_0 values, found type ${file.tensorInfo(name).type.name}`, e);
      }
    };
    let bValues = read(b, outFeatures * rank);
    const heads = m.parts[0]?.ropeHeads;
    if (heads !== undefined) {
      const halfOrder = interleavedToHalf(bValues, heads, headDimOf(model), rank);
      bValues = allocate(halfOrder.length);
      bValues.set(halfOrder);
    }
    modules.push({ key: m.key, rank, alpha: alphaValue === 0 ? rank : alphaValue, inFeatures, outFeatures, a: read(a, rank * inFeatures), b: bValues });
  }
  modules.sort((x, y) => moduleOrder(x.key) - moduleOrder(y.key));
  const r = modules[0]?.rank ?? bad("expected at least one lora_a / lora_b pair, found none");
  const names = [...new Set(modules.map((m) => byName(m.key)))];
  const config = checkLoraConfig({
    ...DEFAULT_LORA_CONFIG,
    r,
    alpha: alphaValue === 0 ? r : alphaValue,
    targetModules: names,
    rankPattern: Object.fromEntries(modules.filter((m) => m.rank !== r).map((m) => [m.key, m.rank])),
    alphaPattern: alphaValue === 0 ? Object.fromEntries(modules.filter((m) => m.rank !== r).map((m) => [m.key, m.rank])) : {},
  });
  return new LoraAdapter(model.arch, config, modules, options.baseModel ?? text("general.name") ?? "");
}

/** The name a target list would use for a module: its last component ("q_proj", "c_attn"). */
function byName(key: string): string {
  return key.slice(key.lastIndexOf(".") + 1);
}
