import type { optim } from "@zero-llm/autograd";
import { SafetensorsFile, serializeSafetensors, type SafetensorsTensorInput } from "@zero-llm/tensor";
import { resolveSettings, validateConfig, type Config, type DataFingerprint, type HistoryRow, type TrainSettings, type Weights } from "@zero-llm/transformer";
import { LoraAdapter, type LoraModuleWeights } from "../adapter";
import { checkLoraConfig, moduleRankAlpha, type LoraConfig } from "../config";
import { LoraError } from "../errors";
import { moduleOrder } from "../modules";
import type { LoraTrainer } from "./trainer";

/**
 * A LoRA run's checkpoint: ONE safetensors file, so one atomic rename publishes all of it.
 *
 *   tensors (F32)
 *     <module>.lora_A.weight                        the adapter (Hugging Face row order, as in the adapter files)
 *     <module>.lora_B.weight
 *     optimizer.exp_avg.<module>.lora_{A,B}.weight  AdamW moments (rows in the base's order)
 *     optimizer.exp_avg_sq.<module>.lora_{A,B}.weight
 *   __metadata__
 *     "format": "zero-llm-lora-train"
 *     "zero-llm.lora-train": JSON { version: 1, arch, lora (LoraConfig), baseModel, model (Config),
 *        base: fingerprint of the base weights, settings, step, history, data: fingerprint,
 *        optimizer: { <name>: steps taken } }
 *
 * Random draws need no state: everything step s draws is seeded from (settings.seed, s).
 */
export const LORA_CHECKPOINT_FILE = "checkpoint.safetensors";
export const LORA_CHECKPOINT_FORMAT = "zero-llm-lora-train";
const VERSION = 1;

export interface LoraCheckpointState {
  arch: Config["arch"];
  lora: LoraConfig;
  baseModel: string;
  model: Config;
  /** FNV-1a over the base model's config and weights. */
  base: string;
  settings: TrainSettings;
  step: number;
  history: HistoryRow[];
  data: DataFingerprint;
  optimizerSteps: Record<string, number>;
  tensors: Map<string, Float32Array>;
}

/** FNV-1a (32 bits) of a base model: its config and every tensor's bytes (a quantized matrix's blocks), by name. */
export function baseFingerprint(config: Config, weights: Weights): string {
  let h = 0x811c9dc5;
  const eat = (bytes: Uint8Array): void => {
    for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i], 0x01000193) >>> 0;
  };
  eat(new TextEncoder().encode(JSON.stringify(config)));
  for (const name of weights.names().sort()) {
    eat(new TextEncoder().encode(name));
    const linear = weights.linear(name);
    // a quantized matrix's blocks in GGUF's order, whatever order it holds them in (q4_0 tiles)
    const held = linear as { bytes?: unknown; ggmlBytes?: () => Uint8Array } | undefined;
    const stored = held ? (held.ggmlBytes?.() ?? held.bytes) : weights.get(name).data;
    if (stored instanceof Uint8Array || stored instanceof Float32Array) eat(new Uint8Array(stored.buffer, stored.byteOffset, stored.byteLength));
    else eat(new TextEncoder().encode(linear?.type ?? ""));
  }
  return h.toString(16).padStart(8, "0");
}

/** The checkpoint of a trainer's current step, as file bytes. */
export function serializeLoraCheckpoint(trainer: LoraTrainer, baseHash: string): Uint8Array {
  const tensors = new Map<string, SafetensorsTensorInput>();
  const adapter = trainer.lora.toAdapter();
  for (const m of adapter.modules.values()) {
    tensors.set(`${m.key}.lora_A.weight`, { dtype: "F32", shape: [m.rank, m.inFeatures], data: m.a });
    tensors.set(`${m.key}.lora_B.weight`, { dtype: "F32", shape: [m.outFeatures, m.rank], data: m.b });
  }
  const state = trainer.optimizer.stateDict();
  const optimizerSteps: Record<string, number> = {};
  trainer.lora.namedParameters().forEach(([name, p], i) => {
    optimizerSteps[name] = state.steps[i] ?? 0;
    const m = state.buffers.expAvg?.[i] ?? null, v = state.buffers.expAvgSq?.[i] ?? null;
    if (m !== null && v !== null) {
      tensors.set(`optimizer.exp_avg.${name}`, { dtype: "F32", shape: p.shape, data: m });
      tensors.set(`optimizer.exp_avg_sq.${name}`, { dtype: "F32", shape: p.shape, data: v });
    }
  });
  const meta = {
    version: VERSION,
    arch: adapter.arch,
    lora: adapter.config,
    baseModel: adapter.baseModel,
    model: trainer.base.config,
    base: baseHash,
    settings: trainer.settings,
    step: trainer.step,
    history: trainer.history,
    data: trainer.data.fingerprint(),
    optimizer: optimizerSteps,
  };
  return serializeSafetensors({ tensors, metadata: { format: LORA_CHECKPOINT_FORMAT, "zero-llm.lora-train": JSON.stringify(meta) } });
}

function bad(message: string, cause?: unknown): never {
  throw new LoraError("BAD_CHECKPOINT", `lora checkpoint: ${message}`, cause === undefined ? undefined : { cause });
}

/** Parses and checks checkpoint bytes; BAD_CHECKPOINT says what is wrong. */
export function parseLoraCheckpoint(bytes: Uint8Array): LoraCheckpointState {
  let file: SafetensorsFile;
  try {
    file = SafetensorsFile.parse(bytes);
  } catch (e) {
    bad(`expected a complete safetensors file, found ${bytes.length} bytes that do not parse (${e instanceof Error ? e.message : String(e)})`, e);
  }
  if (file.metadata.format !== LORA_CHECKPOINT_FORMAT) bad(`expected metadata format "${LORA_CHECKPOINT_FORMAT}", found ${JSON.stringify(file.metadata.format ?? null)}`);
  let meta: Partial<Omit<LoraCheckpointState, "tensors">> & { version?: unknown; optimizer?: Record<string, number> };
  try {
    meta = JSON.parse(file.metadata["zero-llm.lora-train"] ?? "") as typeof meta;
  } catch (e) {
    bad(`expected JSON in metadata "zero-llm.lora-train"`, e);
  }
  if (meta.version !== VERSION) bad(`expected version ${VERSION}, found ${JSON.stringify(meta.version)}`);
  if (typeof meta.step !== "number" || !Number.isInteger(meta.step) || meta.step < 0) bad(`expected a step count, found ${JSON.stringify(meta.step)}`);
  if (!Array.isArray(meta.history) || typeof meta.data !== "object" || typeof meta.optimizer !== "object" || typeof meta.base !== "string") {
    bad("expected history, data, base and optimizer fields, found some missing");
  }
  if (meta.arch !== "llama" && meta.arch !== "gpt2") bad(`expected arch llama or gpt2, found ${JSON.stringify(meta.arch)}`);
  let model: Config, settings: TrainSettings, lora: LoraConfig;
  try {
    model = validateConfig(meta.model as Config);
    settings = resolveSettings(meta.settings ?? {});
    lora = checkLoraConfig(meta.lora as LoraConfig);
  } catch (e) {
    bad(e instanceof Error ? e.message : String(e), e);
  }
  const tensors = new Map<string, Float32Array>();
  for (const info of file.tensors) {
    if (info.dtype !== "F32") bad(`expected F32 tensors, found ${info.name} as ${info.dtype}`);
    tensors.set(info.name, file.tensorToFloat32(info.name));
  }
  return {
    arch: meta.arch, lora, baseModel: typeof meta.baseModel === "string" ? meta.baseModel : "", model, base: meta.base, settings,
    step: meta.step, history: meta.history, data: meta.data, optimizerSteps: meta.optimizer ?? {}, tensors,
  };
}

/** The adapter a checkpoint holds (its tensors, shapes checked). */
export function adapterFromCheckpoint(state: LoraCheckpointState): LoraAdapter {
  const keys = [...state.tensors.keys()]
    .filter((n) => n.endsWith(".lora_A.weight") && !n.startsWith("optimizer."))
    .map((n) => n.slice(0, -".lora_A.weight".length))
    .sort((x, y) => moduleOrder(x) - moduleOrder(y));
  const modules = keys.map((key): LoraModuleWeights => {
    const a = state.tensors.get(`${key}.lora_A.weight`) as Float32Array;
    const b = state.tensors.get(`${key}.lora_B.weight`) ?? bad(`expected ${key}.lora_B.weight, found none`);
    const { rank, alpha } = moduleRankAlpha(state.lora, key);
    if (a.length % rank !== 0 || b.length % rank !== 0) bad(`${key}: expected matrices of rank ${rank}, found ${a.length} and ${b.length} values`);
    return { key, rank, alpha, inFeatures: a.length / rank, outFeatures: b.length / rank, a, b };
  });
  return new LoraAdapter(state.arch, state.lora, modules, state.baseModel);
}

/** Puts the checkpoint's AdamW state, step count and history into a trainer built on its adapter. */
export function restoreLoraTrainer(trainer: LoraTrainer, state: LoraCheckpointState): void {
  const named = trainer.lora.namedParameters();
  const restored: optim.OptimizerState = { lr: trainer.schedule(Math.max(0, state.step - 1)), steps: [], buffers: { expAvg: [], expAvgSq: [] } };
  for (const [name, p] of named) {
    const steps = state.optimizerSteps[name] ?? 0;
    const m = state.tensors.get(`optimizer.exp_avg.${name}`) ?? null;
    const v = state.tensors.get(`optimizer.exp_avg_sq.${name}`) ?? null;
    if (steps > 0 && (m === null || v === null)) bad(`expected AdamW moments for ${name} (${steps} steps taken), found none`);
    if ((m !== null && m.length !== p.size) || (v !== null && v.length !== p.size)) bad(`expected moments of ${p.size} values for ${name}, found ${m?.length} and ${v?.length}`);
    restored.steps.push(steps);
    restored.buffers.expAvg?.push(m);
    restored.buffers.expAvgSq?.push(v);
  }
  trainer.optimizer.loadStateDict(restored);
  trainer.step = state.step;
  trainer.history.length = 0;
  trainer.history.push(...state.history);
}
