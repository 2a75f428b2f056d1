import { readFile } from "node:fs/promises";
import path from "node:path";
import { jsBackend } from "@zero-llm/tensor";
import { writeFileAtomic, writeSafetensorsFile } from "@zero-llm/tensor/node";
import { BpeTokenizer, exportTokenizerJson } from "@zero-llm/tokenizer-bpe";
import { hfFromModel, serializeLlama2c, type Checkpoint, type GgufExportOptions, type Model } from "@zero-llm/transformer";
import { openCheckpoint, writeGgufModel } from "@zero-llm/transformer/node";
import { UsageError, defineCommand, type CommandIO, type FlagTable, type ParsedArgs } from "../command";
import { CONFIG_FILE, TOKENIZER_FILE, checkExportTarget, exportTarget, prepareExportDirectory, type ExportTarget } from "./export-target";
import { MODEL_FLAGS, findTokenizer, modelPath, type TextCodec } from "./model-io";

/**
 * `zllm export [--model M] --out PATH [--type F32|F16|BF16] [--force]` (default: the embedded model)
 *
 * Writes the model in another checkpoint format, chosen by PATH (see export-target.ts): `*.gguf`
 * a GGUF file that llama.cpp loads (with the model's own tokenizer when it has a byte-level BPE
 * one, or the tokenizer.ggml.* keys of a source GGUF), `*.bin` a llama2.c checkpoint (f32, llama
 * only, no tokenizer: llama2.c keeps it apart), `*.safetensors` the weights with config.json
 * beside them, anything else a Hugging Face directory (config.json + model.safetensors +
 * tokenizer.json when the model has one). Every file is written atomically. Prints one line
 * saying what it wrote.
 */

const FLAGS = {
  model: MODEL_FLAGS.model,
  out: { type: "string", description: "where to write: *.gguf a GGUF file, *.bin a llama2.c checkpoint, *.safetensors the weights (config.json beside them), anything else a Hugging Face directory (extensions in any case)" },
  type: { type: "string", description: "matrix storage for GGUF (default F32); the other formats are f32", choices: ["F32", "F16", "BF16"] },
  force: { type: "boolean", description: "write a Hugging Face export into a directory that holds other files (they are left as they are)" },
} as const satisfies FlagTable;

/**
 * The tokenizer.json a Hugging Face export carries: the source's own file, copied byte for byte,
 * or a byte-level BPE (from a GGUF) exported; a SentencePiece vocabulary has no tokenizer.json form.
 */
async function tokenizerJsonFor(checkpoint: Checkpoint, codec: TextCodec | undefined): Promise<string | undefined> {
  if (checkpoint.directory !== undefined && codec !== undefined) return readFile(path.join(checkpoint.directory, TOKENIZER_FILE), "utf8");
  return codec?.tokenizer instanceof BpeTokenizer ? exportTokenizerJson(codec.tokenizer) : undefined;
}

/**
 * config.json for the export: the model's hyperparameters, and the bos / eos ids of its
 * tokenizer (what `generate` prepends and stops at), so that the directory describes the same
 * model as its source. Without a tokenizer, the writer's defaults (llama2.c's 1 / 2).
 */
function withTokenIds(config: Record<string, unknown>, codec: TextCodec | undefined): Record<string, unknown> {
  if (codec === undefined) return config;
  const [onlyEos] = codec.eos;
  return { ...config, bos_token_id: codec.bos ?? null, eos_token_id: codec.eos.length > 1 ? [...codec.eos] : (onlyEos ?? null) };
}

/** Writes the Hugging Face layout: weights, tokenizer.json, then config.json last (see prepareExportDirectory). */
async function writeHfExport(target: ExportTarget, model: Pick<Model, "config" | "weights">, codec: TextCodec | undefined, tokenizerJson: string | undefined): Promise<void> {
  const { directory } = target;
  const hf = hfFromModel(model.config, model.weights);
  await writeSafetensorsFile(path.join(directory, target.weightsFile), hf.safetensors);
  if (tokenizerJson !== undefined) await writeFileAtomic(path.join(directory, TOKENIZER_FILE), [new TextEncoder().encode(tokenizerJson)]);
  const config = `${JSON.stringify(withTokenIds(hf.config, codec), null, 2)}\n`;
  await writeFileAtomic(path.join(directory, CONFIG_FILE), [new TextEncoder().encode(config)]);
}

/**
 * The vocabulary a GGUF export carries: the model's byte-level BPE tokenizer (with the bos / eos
 * that generate uses), else a GGUF source's tokenizer.* keys as they are, else a placeholder;
 * and a note saying which. `codec` is findTokenizer's answer (undefined for a GGUF source).
 */
export function ggufVocabulary(checkpoint: Checkpoint, codec: TextCodec | undefined): { options: Pick<GgufExportOptions, "tokenizer" | "tokenizerOptions">; note: string } {
  if (codec?.tokenizer instanceof BpeTokenizer) {
    const [eos] = codec.eos;
    return {
      options: {
        tokenizer: codec.tokenizer,
        tokenizerOptions: { ...(codec.bos !== undefined ? { bosTokenId: codec.bos, addBosToken: true } : {}), ...(eos !== undefined ? { eosTokenId: eos } : {}) },
      },
      note: `tokenizer: byte-level BPE, ${codec.tokenizer.vocabSize} tokens`,
    };
  }
  if (checkpoint.ggufMetadata) {
    const entries = [...checkpoint.ggufMetadata].filter(([key]) => key.startsWith("tokenizer."));
    return { options: { tokenizer: entries }, note: entries.length > 0 ? "tokenizer: copied from the source GGUF" : "a placeholder vocabulary (the source has none)" };
  }
  return { options: {}, note: "a placeholder vocabulary (the source has no tokenizer: llama.cpp needs one to load the file)" };
}

/**
 * Checks --out and --type before anything is read (see export-target.ts): the target, and that
 * the format can hold the type. Returns the target.
 */
export async function checkExportFlags(out: string | undefined, type: "F32" | "F16" | "BF16", force: boolean): Promise<ExportTarget> {
  if (out === undefined || out === "") throw new UsageError("--out PATH is required: a .gguf file, a llama2.c .bin, a .safetensors file or a directory for the Hugging Face layout");
  const target = exportTarget(out);
  if (target.format === "llama2c" && type !== "F32") throw new UsageError(`--type ${type}: llama2.c checkpoints hold f32 weights only`);
  if (target.format === "hf" && type !== "F32") throw new UsageError(`--type ${type}: the Hugging Face export writes f32 (convert with --out FILE.gguf for F16/BF16)`);
  await checkExportTarget(out, target, force);
  return target;
}

/**
 * Writes `model` to `out` in the target's format, with the tokenizer of `checkpoint` (the file the
 * model came from: `zllm lora merge` writes a merged model with its base's tokenizer). The model's
 * weights are f32 (a quantized source is decoded first: weights.expanded()). Returns the line to
 * print.
 */
export async function writeExport(out: string, target: ExportTarget, type: "F32" | "F16" | "BF16", checkpoint: Checkpoint, model: Pick<Model, "config" | "weights">, io: CommandIO): Promise<string> {
  if (target.format === "llama2c" && model.config.arch !== "llama") {
    throw new UsageError(`--out ${out}: llama2.c checkpoints hold llama models, found a ${model.config.arch} model`);
  }
  const parameters = model.weights.parameterCount();
  // the tokenizer, bos and eos exactly as generate and chat would use them (a GGUF file from a
  // GGUF source copies the tokenizer.* keys as they are, whatever vocabulary they hold)
  const copiesGgufKeys = target.format === "gguf" && checkpoint.ggufMetadata !== undefined;
  const codec = target.format === "llama2c" || copiesGgufKeys ? undefined : await findTokenizer(checkpoint);
  const tokenizerJson = target.format === "hf" ? await tokenizerJsonFor(checkpoint, codec) : undefined;

  const writes = [target.weightsFile, CONFIG_FILE, ...(tokenizerJson !== undefined ? [TOKENIZER_FILE] : [])];
  const removed = await prepareExportDirectory(target, writes);
  if (removed.length > 0) io.stderr.write(`removed ${removed.length} temporary file(s) an interrupted export left in ${target.directory}: ${removed.join(", ")}\n`);

  let tokenizerNote = "no tokenizer";
  if (target.format === "gguf") {
    const vocabulary = ggufVocabulary(checkpoint, codec);
    await writeGgufModel(out, model, { type, ...vocabulary.options });
    tokenizerNote = vocabulary.note;
  } else if (target.format === "llama2c") {
    await writeFileAtomic(out, [serializeLlama2c(model.config, model.weights)]);
  } else {
    await writeHfExport(target, model, codec, tokenizerJson);
    if (tokenizerJson !== undefined) tokenizerNote = checkpoint.directory !== undefined ? "tokenizer.json copied" : "tokenizer.json from the source's byte-level BPE";
    else if (codec !== undefined) tokenizerNote = "no tokenizer: a SentencePiece vocabulary has no tokenizer.json form";
  }
  return `wrote ${out} (${target.label}, ${type}, ${model.config.arch}, ${parameters.toLocaleString("en-US")} parameters; ${tokenizerNote})`;
}

async function run(args: ParsedArgs<typeof FLAGS>, io: CommandIO): Promise<number> {
  const { out } = args.flags;
  const type = args.flags.type ?? "F32";
  const target = await checkExportFlags(out, type, args.flags.force);
  // no kernels run: the reference backend keeps the weights in plain arrays; a quantized source
  // is decoded to f32 (a GGUF export in a float type writes those values)
  const checkpoint = await openCheckpoint(modelPath(args), { backend: jsBackend });
  const model = { config: checkpoint.model.config, weights: checkpoint.model.weights.expanded() };
  io.stdout.write(`${await writeExport(out ?? "", target, type, checkpoint, model, io)}\n`);
  return 0;
}

export const exportCommand = defineCommand({
  path: ["export"],
  summary: "Write a model as GGUF (llama.cpp), a llama2.c .bin, safetensors or a Hugging Face directory",
  usage: "export [--model FILE] --out PATH.gguf|PATH.bin|PATH.safetensors|DIR [--type F32|F16|BF16] [--force]",
  flags: FLAGS,
  positionals: { min: 0, max: 0 },
  run,
});
