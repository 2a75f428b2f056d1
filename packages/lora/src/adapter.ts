import { Rng } from "@zero-llm/tensor";
import type { Config } from "@zero-llm/transformer";
import { loraConfig, loraScaling, moduleRankAlpha, targetedModules, type LoraConfig } from "./config";
import { LoraError, listNames } from "./errors";
import { linearModules, type LinearModule } from "./modules";

/**
 * One adapted module's low-rank update ΔW = scaling · B·A, in the layout of PEFT's files (and
 * llama.cpp's): A = lora_A.weight [rank, in], B = lora_B.weight [out, rank], row-major, with the
 * output rows in Hugging Face order (a Llama's q/k rows in "half" RoPE order).
 */
export interface LoraModuleWeights {
  /** The module's name in the model ("model.layers.0.self_attn.q_proj"). */
  readonly key: string;
  readonly rank: number;
  /** This module's alpha (the adapter's, or its alpha_pattern entry). */
  readonly alpha: number;
  readonly inFeatures: number;
  readonly outFeatures: number;
  /** [rank, inFeatures] */
  readonly a: Float32Array;
  /** [outFeatures, rank] */
  readonly b: Float32Array;
}

/** Where an adapter's matrices are allocated: plain arrays, or a backend's memory (`backend.allocF32`). */
export type Allocate = (length: number) => Float32Array;

const plainArrays: Allocate = (n) => new Float32Array(n);

/**
 * A LoRA adapter: its config and one low-rank pair per adapted module. The matrices are plain
 * data: a training run updates them in place, inference copies them next to the kernels, the
 * file writers serialise them. Nothing here refers to base weights: an adapter is checked against
 * a model (`check`) where it is applied.
 */
export class LoraAdapter {
  /** The modules, in the model's layer order. */
  readonly modules: ReadonlyMap<string, LoraModuleWeights>;

  constructor(
    /** The model family the module names belong to. */
    readonly arch: Config["arch"],
    readonly config: LoraConfig,
    modules: Iterable<LoraModuleWeights>,
    /** base_model_name_or_path: where the base model came from (a path or a hub name), "" when unknown. */
    readonly baseModel = "",
  ) {
    const map = new Map<string, LoraModuleWeights>();
    for (const m of modules) {
      if (!Number.isInteger(m.rank) || m.rank < 1) throw new LoraError("BAD_CONFIG", `${m.key}: expected a rank >= 1, found ${m.rank}`);
      if (m.a.length !== m.rank * m.inFeatures || m.b.length !== m.outFeatures * m.rank) {
        throw new LoraError(
          "BASE_MISMATCH",
          `${m.key}: expected lora_A [${m.rank}, ${m.inFeatures}] and lora_B [${m.outFeatures}, ${m.rank}], found ${m.a.length} and ${m.b.length} values`,
        );
      }
      if (map.has(m.key)) throw new LoraError("BAD_ADAPTER_FILE", `${m.key}: expected one lora_A / lora_B pair per module, found two`);
      map.set(m.key, m);
    }
    if (map.size === 0) throw new LoraError("BAD_ADAPTER_FILE", "lora adapter: expected at least one adapted module, found none");
    this.modules = map;
  }

  /**
   * A new adapter for `model`: the targeted modules (TARGET_NOT_FOUND names a target that
   * matches nothing), A drawn from `seed` (Kaiming-uniform a = √5, or Gaussian N(0, 1/r²)), B = 0.
   */
  static create(model: Config, config: Partial<LoraConfig> = {}, options: { seed?: number; allocate?: Allocate; baseModel?: string } = {}): LoraAdapter {
    const full = loraConfig(model, config);
    const allocate = options.allocate ?? plainArrays;
    const g = new Rng(options.seed ?? 1337);
    const modules = targetedModules(model, full).map((m): LoraModuleWeights => {
      const { rank, alpha } = moduleRankAlpha(full, m.key);
      const a = allocate(rank * m.inFeatures);
      if (full.init === "gaussian") {
        for (let i = 0; i < a.length; i++) a[i] = g.normal() / rank;
      } else {
        // kaiming_uniform_(a=√5): gain √(2/(1+5)), bound gain·√(3/fan_in) = 1/√in
        const bound = 1 / Math.sqrt(m.inFeatures);
        for (let i = 0; i < a.length; i++) a[i] = -bound + 2 * bound * g.uniform();
      }
      return { key: m.key, rank, alpha, inFeatures: m.inFeatures, outFeatures: m.outFeatures, a, b: allocate(m.outFeatures * rank) };
    });
    return new LoraAdapter(model.arch, full, modules, options.baseModel ?? "");
  }

  /** The module's scaling: alpha / rank, or alpha / √rank with rsLoRA. */
  scaling(key: string): number {
    const m = this.module(key);
    return loraScaling(m.alpha, m.rank, this.config.useRslora);
  }

  module(key: string): LoraModuleWeights {
    const m = this.modules.get(key);
    if (m === undefined) throw new LoraError("BASE_MISMATCH", `lora adapter: expected a module named ${key}, found none`);
    return m;
  }

  /** Trainable numbers: Σ rank·(in + out). */
  parameterCount(): number {
    let n = 0;
    for (const m of this.modules.values()) n += m.a.length + m.b.length;
    return n;
  }

  /** The same adapter with its matrices copied into `allocate`'s memory. */
  copy(allocate: Allocate = plainArrays): LoraAdapter {
    const clone = (x: Float32Array): Float32Array => {
      const y = allocate(x.length);
      y.set(x);
      return y;
    };
    return new LoraAdapter(this.arch, this.config, [...this.modules.values()].map((m) => ({ ...m, a: clone(m.a), b: clone(m.b) })), this.baseModel);
  }

  /**
   * Throws BASE_MISMATCH unless every module exists in `model` with the adapter's shapes: a
   * module the model does not have, another architecture, or matrices of another width name the
   * module and both shapes.
   */
  check(model: Config): LinearModule[] {
    if (model.arch !== this.arch) {
      throw new LoraError("BASE_MISMATCH", `lora adapter: expected a ${this.arch} base model (its modules are ${this.arch} names), found a ${model.arch} model`);
    }
    const byKey = new Map(linearModules(model).map((m) => [m.key, m]));
    const missing = [...this.modules.keys()].filter((k) => !byKey.has(k));
    if (missing.length > 0) {
      throw new LoraError("BASE_MISMATCH", `lora adapter: expected modules of this ${model.nLayers}-layer ${model.arch} model, found ${missing.length} it does not have: ${listNames(missing)}`);
    }
    return [...this.modules.values()].map((w) => {
      const m = byKey.get(w.key) as LinearModule;
      if (m.inFeatures !== w.inFeatures || m.outFeatures !== w.outFeatures) {
        throw new LoraError(
          "BASE_MISMATCH",
          `${w.key}: expected an adapter for a [${m.outFeatures}, ${m.inFeatures}] weight (out, in), found one for [${w.outFeatures}, ${w.inFeatures}] (another base model?)`,
        );
      }
      return m;
    });
  }
}
