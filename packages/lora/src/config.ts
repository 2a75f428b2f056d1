import type { Config } from "@zero-llm/transformer";
import { LoraError } from "./errors";
import { defaultTargets, linearModules, moduleNames, type LinearModule } from "./modules";

/**
 * What an adapter is, PEFT's LoraConfig by another spelling (adapter_config.json keys in
 * brackets). The update of a module is ΔW = scaling · B·A with A [r, in] and B [out, r]:
 *
 *   scaling = alpha / r         (use_rslora false, the original LoRA)
 *   scaling = alpha / √r        (use_rslora true: rank-stabilised, so larger ranks keep learning)
 *
 * A starts Kaiming-uniform with a = √5 (PEFT's default, nn.Linear's: U(−1/√in, 1/√in)) or
 * Gaussian N(0, 1/r²) (init_lora_weights "gaussian"), B at zero: the adapted model starts
 * exactly the base model.
 */
export interface LoraConfig {
  /** Rank r ≥ 1 [r]. */
  readonly r: number;
  /** [lora_alpha] */
  readonly alpha: number;
  /** Dropout on the adapter's input during training, in [0, 1) [lora_dropout]. */
  readonly dropout: number;
  /**
   * [target_modules] A list of module names, each matching a module whose name is it or ends in
   * ".name" ("q_proj", "self_attn.q_proj", a full key); or one string, a regular expression the
   * whole module name must match; or "all-linear".
   */
  readonly targetModules: readonly string[] | string;
  /** [use_rslora] */
  readonly useRslora: boolean;
  /** [init_lora_weights] true ("kaiming") or "gaussian". */
  readonly init: "kaiming" | "gaussian";
  /** Only these layer indices [layers_to_transform]; null = every layer. */
  readonly layersToTransform: readonly number[] | null;
  /** Per-module ranks by pattern [rank_pattern]: {"model.layers.0.self_attn.q_proj": 4}. */
  readonly rankPattern: Readonly<Record<string, number>>;
  /** Per-module alphas by pattern [alpha_pattern]. */
  readonly alphaPattern: Readonly<Record<string, number>>;
}

export const DEFAULT_LORA_CONFIG = {
  r: 8,
  alpha: 16,
  dropout: 0,
  useRslora: false,
  init: "kaiming",
  layersToTransform: null,
  rankPattern: {},
  alphaPattern: {},
} as const satisfies Omit<LoraConfig, "targetModules">;

/** Fills defaults (targets: PEFT's for the architecture) and checks every field; BAD_CONFIG names the first broken one. */
export function loraConfig(model: Config, partial: Partial<LoraConfig> = {}): LoraConfig {
  return checkLoraConfig({ ...DEFAULT_LORA_CONFIG, targetModules: defaultTargets(model), ...partial });
}

/** Checks every field of a complete config; BAD_CONFIG names the first broken one. */
export function checkLoraConfig(c: LoraConfig): LoraConfig {
  const fail = (key: string, expected: string, found: unknown): never => {
    throw new LoraError("BAD_CONFIG", `lora config: expected ${key} ${expected}, found ${JSON.stringify(found)}`);
  };
  if (!Number.isInteger(c.r) || c.r < 1) fail("r (the rank)", "to be an integer >= 1", c.r);
  if (!(Number.isFinite(c.alpha) && c.alpha >= 0)) fail("alpha", "to be a finite number >= 0", c.alpha);
  if (!(c.dropout >= 0 && c.dropout < 1)) fail("dropout", "in [0, 1)", c.dropout);
  if (c.init !== "kaiming" && c.init !== "gaussian") fail("init", 'to be "kaiming" or "gaussian"', c.init);
  if (typeof c.targetModules === "string" ? c.targetModules === "" : c.targetModules.length === 0 || c.targetModules.some((t) => typeof t !== "string" || t === "")) {
    fail("targetModules", "to be non-empty module names or a pattern", c.targetModules);
  }
  if (c.layersToTransform !== null && c.layersToTransform.some((l) => !Number.isInteger(l) || l < 0)) {
    fail("layersToTransform", "to be layer indices", c.layersToTransform);
  }
  for (const [key, value] of Object.entries(c.rankPattern)) if (!Number.isInteger(value) || value < 1) fail(`rankPattern["${key}"]`, "to be an integer >= 1", value);
  for (const [key, value] of Object.entries(c.alphaPattern)) if (!(Number.isFinite(value) && value >= 0)) fail(`alphaPattern["${key}"]`, "to be a finite number >= 0", value);
  return c;
}

/** scaling = alpha / r, or alpha / √r with rsLoRA. */
export function loraScaling(alpha: number, rank: number, useRslora: boolean): number {
  return useRslora ? alpha / Math.sqrt(rank) : alpha / rank;
}

/** Python's re.fullmatch for a JavaScript pattern (the same syntax for what target lists use: names, dots, groups, alternation). */
function fullMatch(pattern: string, key: string): boolean {
  let re: RegExp;
  try {
    re = new RegExp(`^(?:${pattern})$`, "u");
  } catch (e) {
    throw new LoraError("BAD_CONFIG", `lora config: expected targetModules to be a valid regular expression, found ${JSON.stringify(pattern)} (${e instanceof Error ? e.message : String(e)})`, { cause: e });
  }
  return re.test(key);
}

/** PEFT's list rule: the module's name is the target, or ends in ".target". */
const namedBy = (target: string, key: string): boolean => key === target || key.endsWith(`.${target}`);

/** PEFT's layer rule: the first numbered component of the name (".layers.3.", ".h.3.") is the layer. */
function layerOf(key: string): number | null {
  const m = /^.*?\.[^.]*\.(\d+)\./.exec(key);
  return m ? Number(m[1]) : null;
}

/**
 * The modules of `model` that `config` adapts, PEFT's rules. Every target name (and a pattern)
 * must match at least one module: one that matches none is TARGET_NOT_FOUND naming it and the
 * names this architecture has (a Llama name on a GPT-2 model, a typo).
 */
export function targetedModules(model: Config, config: LoraConfig): LinearModule[] {
  const all = linearModules(model);
  const { targetModules: targets, layersToTransform: layers } = config;
  const inLayers = (m: LinearModule): boolean => layers === null || (layerOf(m.key) !== null && layers.includes(layerOf(m.key) ?? -1));
  const known = `this ${model.arch} model's linear modules are ${moduleNames(model).join(", ")} (e.g. ${all[0]?.key ?? "none"})`;
  if (typeof targets === "string") {
    const chosen = targets === "all-linear" ? all : all.filter((m) => fullMatch(targets, m.key));
    if (chosen.length === 0) throw new LoraError("TARGET_NOT_FOUND", `lora target pattern ${JSON.stringify(targets)}: expected it to match whole module names, found none; ${known}`);
    return chosen.filter(inLayers);
  }
  for (const t of targets) {
    if (!all.some((m) => namedBy(t, m.key))) throw new LoraError("TARGET_NOT_FOUND", `lora target ${JSON.stringify(t)}: expected a module of that name, found none; ${known}`);
  }
  const chosen = all.filter((m) => targets.some((t) => namedBy(t, m.key)) && inLayers(m));
  if (chosen.length === 0) throw new LoraError("TARGET_NOT_FOUND", `lora layersToTransform ${JSON.stringify(layers)}: expected layers in [0, ${model.nLayers}), found no targeted module in them`);
  return chosen;
}

/** PEFT's get_pattern_key: the first pattern p with name matching (.*\.)?(p)$. */
function patternValue(patterns: Readonly<Record<string, number>>, key: string): number | undefined {
  for (const [pattern, value] of Object.entries(patterns)) {
    let re: RegExp;
    try {
      re = new RegExp(`^(?:.*\\.)?(?:${pattern})$`, "u");
    } catch (e) {
      throw new LoraError("BAD_CONFIG", `lora config: expected a valid regular expression as a rank/alpha pattern key, found ${JSON.stringify(pattern)}`, { cause: e });
    }
    if (re.test(key)) return value;
  }
  return undefined;
}

/** The rank and alpha of one module: rank_pattern / alpha_pattern, else r / alpha. */
export function moduleRankAlpha(config: LoraConfig, key: string): { rank: number; alpha: number } {
  return { rank: patternValue(config.rankPattern, key) ?? config.r, alpha: patternValue(config.alphaPattern, key) ?? config.alpha };
}
