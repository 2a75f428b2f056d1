import { existsSync } from "node:fs";
import { mergedWeights, type AdapterUse } from "@zero-llm/lora";
import { readPeftAdapter, writeGgufAdapter } from "@zero-llm/lora/node";
import { jsBackend } from "@zero-llm/tensor";
import { openCheckpoint } from "@zero-llm/transformer/node";
import { UsageError, defineCommand, type CommandIO, type FlagTable, type ParsedArgs } from "../command";
import { checkExportFlags, writeExport } from "./export";
import { LORA_FLAG, parseLoraValue, readLoraChoices } from "./lora-io";
import { MODEL_FLAGS, modelFile } from "./model-io";

/**
 * `zllm lora merge --model M --lora DIR[:scale] --out PATH`: the base with the adapters folded into
 * its weights (W ← W + scale · (alpha / r) · B·A), written as `zllm export` writes (format by the
 * extension of PATH, the base's tokenizer), ready to load, serve or quantize like any model.
 *
 * `zllm lora export --lora DIR --out FILE.gguf [--model M]`: the adapter as a llama.cpp GGUF
 * adapter (`llama-cli -m base.gguf --lora FILE.gguf`). A GGUF adapter names the base's tensors and
 * keeps a Llama's q/k rows in GGUF order, so it is written for a base model: --model, else the
 * adapter's base_model_name_or_path when that path exists, else the embedded default model.
 */

const MERGE_FLAGS = {
  model: MODEL_FLAGS.model,
  ...LORA_FLAG,
  out: { type: "string", description: "where to write the merged model: *.gguf, *.bin (llama2.c), *.safetensors, or a Hugging Face directory (as zllm export)" },
  type: { type: "string", description: "matrix storage for GGUF (default F32); the other formats are f32", choices: ["F32", "F16", "BF16"] },
  force: { type: "boolean", description: "write a Hugging Face export into a directory that holds other files (they are left as they are)" },
} as const satisfies FlagTable;

async function merge(args: ParsedArgs<typeof MERGE_FLAGS>, io: CommandIO): Promise<number> {
  const values = args.flags.lora ?? [];
  if (values.length === 0) throw new UsageError("--lora DIR[:scale] is required: the adapter(s) to merge into the model");
  const type = args.flags.type ?? "F32";
  const target = await checkExportFlags(args.flags.out, type, args.flags.force);
  const checkpoint = await openCheckpoint(modelFile(args.flags.model), { backend: jsBackend });
  const uses: AdapterUse[] = await readLoraChoices(values, checkpoint.model.config);
  // the adapted matrices come back f32; any other matrix of a quantized base is decoded too, as
  // zllm export does (the merged model can be quantized again with zllm quantize)
  const merged = { config: checkpoint.model.config, weights: mergedWeights(checkpoint.model, uses).expanded() };
  const line = await writeExport(args.flags.out ?? "", target, type, checkpoint, merged, io);
  const what = uses.map(({ adapter, scale = 1 }, i) => `${parseLoraValue(values[i] ?? "").path} (${adapter.modules.size} modules, scale ${scale})`).join(", ");
  io.stdout.write(`${line}; merged ${what}\n`);
  return 0;
}

export const loraMergeCommand = defineCommand({
  path: ["lora", "merge"],
  summary: "Fold LoRA adapters into a model's weights and write it (GGUF, llama2.c, safetensors or Hugging Face)",
  usage: "lora merge [--model M] --lora DIR[:scale]... --out PATH.gguf|PATH.bin|PATH.safetensors|DIR [--type F32|F16|BF16] [--force]",
  flags: MERGE_FLAGS,
  positionals: { min: 0, max: 0 },
  run: merge,
});

const EXPORT_FLAGS = {
  lora: { type: "string", description: "the adapter: a PEFT adapter directory (zllm lora train writes one)" },
  out: { type: "string", description: "the GGUF adapter file to write (*.gguf)" },
  model: { type: "string", description: "the base model the adapter is for (default: the adapter's base_model_name_or_path if that path exists, else the embedded model)" },
  type: { type: "string", description: "storage of lora_a / lora_b (default F32)", choices: ["F32", "F16"] },
} as const satisfies FlagTable;

async function exportGguf(args: ParsedArgs<typeof EXPORT_FLAGS>, io: CommandIO): Promise<number> {
  const { lora, out } = args.flags;
  if (lora === undefined || lora === "") throw new UsageError("--lora DIR is required: the adapter to export");
  if (out === undefined || !out.toLowerCase().endsWith(".gguf")) throw new UsageError(`--out: expected a .gguf file to write, found ${out === undefined ? "none" : JSON.stringify(out)}`);
  if (!existsSync(lora)) throw new UsageError(`--lora ${lora}: expected a PEFT adapter directory, found nothing`);
  const adapter = await readPeftAdapter(lora);
  const baseFile = args.flags.model ?? (adapter.baseModel !== "" && existsSync(adapter.baseModel) ? adapter.baseModel : modelFile(undefined));
  const checkpoint = await openCheckpoint(baseFile, { backend: jsBackend });
  const { config } = checkpoint.model;
  await writeGgufAdapter(out, config, adapter, { type: args.flags.type ?? "F32" });
  io.stdout.write(
    `wrote ${out} (llama.cpp LoRA adapter for ${config.arch} ${baseFile}: ${adapter.modules.size} modules, rank ${adapter.config.r}, ` +
      `${adapter.parameterCount().toLocaleString("en-US")} parameters, ${args.flags.type ?? "F32"})\n`,
  );
  return 0;
}

export const loraExportCommand = defineCommand({
  path: ["lora", "export"],
  summary: "Write a LoRA adapter as a llama.cpp GGUF adapter (llama-cli --lora FILE.gguf)",
  usage: "lora export --lora DIR --out FILE.gguf [--model M] [--type F32|F16]",
  flags: EXPORT_FLAGS,
  positionals: { min: 0, max: 0 },
  run: exportGguf,
});
