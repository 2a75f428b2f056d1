import { stat } from "node:fs/promises";
import { LoraError, withAdapters, type AdapterUse, type LoraAdapter } from "@zero-llm/lora";
import { readAdapter } from "@zero-llm/lora/node";
import type { Config, Model } from "@zero-llm/transformer";
import { UsageError, type FlagTable } from "../command";

/**
 * `--lora DIR[:scale]` on the model commands (generate, chat, eval logits, eval ppl, bench):
 * adapters run on the base without changing it (a @zero-llm/lora LoraModel), several add up, each
 * at its scale (llama.cpp's --lora-scaled). DIR is a PEFT adapter directory (what `zllm lora
 * train` writes) or a llama.cpp .gguf adapter file.
 */
export const LORA_FLAG = {
  lora: {
    type: "strings",
    description: "run a LoRA adapter on the model: DIR[:scale], a PEFT adapter directory (zllm lora train writes one) or a llama.cpp .gguf adapter, scale default 1; repeatable: the adapters add up",
  },
} as const satisfies FlagTable;

export interface LoraChoice {
  /** The path given. */
  path: string;
  scale: number;
}

const SCALE = /^(.+):([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)$/;

/** "DIR" → scale 1; "DIR:0.5" → scale 0.5 (the last ":number" is the scale). */
export function parseLoraValue(value: string): LoraChoice {
  if (value === "") throw new UsageError("--lora: expected DIR[:scale], found an empty value");
  const m = SCALE.exec(value);
  if (!m) return { path: value, scale: 1 };
  const scale = Number(m[2]);
  if (!Number.isFinite(scale)) throw new UsageError(`--lora ${value}: expected a finite scale after ":", found ${m[2]}`);
  return { path: m[1] as string, scale };
}

/**
 * Reads every --lora adapter for a base of config `config`. A path that does not exist is a usage
 * error naming the flag; an adapter that is damaged or made for another model is the adapter's
 * typed error (BAD_ADAPTER_FILE, BASE_MISMATCH naming the module), exit 1.
 */
export async function readLoraChoices(values: readonly string[], config: Config): Promise<AdapterUse[]> {
  const uses: AdapterUse[] = [];
  for (const value of values) {
    const { path, scale } = parseLoraValue(value);
    if ((await stat(path).catch(() => undefined)) === undefined) {
      throw new UsageError(`--lora ${value}: expected a PEFT adapter directory or a .gguf adapter file, found nothing at "${path}"`);
    }
    let adapter: LoraAdapter;
    try {
      adapter = await readAdapter(path, config);
    } catch (e) {
      if (e instanceof LoraError) throw new LoraError(e.code, `--lora ${path}: ${e.message}`, { cause: e });
      throw e;
    }
    uses.push({ adapter, scale });
  }
  return uses;
}

/** One line for stderr: what runs on the base. */
export function describeAdapters(uses: readonly AdapterUse[], values: readonly string[]): string {
  return uses
    .map(({ adapter, scale = 1 }, i) => {
      const { path } = parseLoraValue(values[i] ?? "");
      return `lora: ${path} (${adapter.modules.size} modules, rank ${adapter.config.r}, ${adapter.parameterCount().toLocaleString("en-US")} parameters) at scale ${scale}`;
    })
    .join("\n");
}

/** The base with the adapters, or the base itself when none are given. */
export async function adaptedModel(base: Model, values: readonly string[] | undefined): Promise<{ model: Model; uses: AdapterUse[] }> {
  if (values === undefined || values.length === 0) return { model: base, uses: [] };
  const uses = await readLoraChoices(values, base.config);
  return { model: withAdapters(base, uses), uses };
}
