import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { jsBackend } from "@zero-llm/tensor";
import { writeFileAtomic } from "@zero-llm/tensor/node";
import { BpeTokenizer } from "@zero-llm/tokenizer-bpe";
import { serializeLlama2c, type Checkpoint } from "@zero-llm/transformer";
import { openCheckpoint, writeGgufModel, writeHfModel } from "@zero-llm/transformer/node";
import { UsageError, type Command, type CommandIO, type ParsedArgs } from "../command";
import { MODEL_FLAGS, modelPath, openTokenizer } from "./model-io";

/**
 * `zllm export [--model M] --out PATH [--type F32|F16|BF16]` (default: the embedded model)
 *
 * Writes the model in another checkpoint format, chosen by PATH: `*.gguf` a GGUF file that
 * llama.cpp loads (with the model's own tokenizer when it has a byte-level BPE one:
 * tokenizer.json beside a Hugging Face checkpoint, or the tokenizer.ggml.* keys of a GGUF),
 * `*.bin` a llama2.c checkpoint (f32, llama only, no tokenizer: llama2.c keeps it apart), and
 * anything else a Hugging Face directory (config.json + model.safetensors, + tokenizer.json when
 * the source has one). Every file is written atomically. Prints one line saying what it wrote.
 */

type Target = "gguf" | "llama2c" | "hf";

function targetOf(out: string): Target {
  if (out.endsWith(".gguf")) return "gguf";
  if (out.endsWith(".bin")) return "llama2c";
  return "hf";
}

/** The source's tokenizer.json text (Hugging Face directories), if it has one. */
async function tokenizerJsonOf(checkpoint: Checkpoint): Promise<string | undefined> {
  if (!checkpoint.directory) return undefined;
  return readFile(path.join(checkpoint.directory, "tokenizer.json"), "utf8").catch(() => undefined);
}

async function run(args: ParsedArgs, io: CommandIO): Promise<number> {
  const out = args.flags.out;
  if (typeof out !== "string" || out === "") throw new UsageError("--out PATH is required: a .gguf file, a llama2.c .bin, or a directory for the Hugging Face layout");
  const type = (args.flags.type as "F32" | "F16" | "BF16" | undefined) ?? "F32";
  const target = targetOf(out);
  if (target === "llama2c" && type !== "F32") throw new UsageError(`--type ${type}: llama2.c checkpoints hold f32 weights only`);
  if (target === "hf" && type !== "F32") throw new UsageError(`--type ${type}: the Hugging Face export writes f32 (convert with --out FILE.gguf for F16/BF16)`);

  // no kernels run: the reference backend keeps the weights in plain arrays
  const checkpoint = await openCheckpoint(modelPath(args), { backend: jsBackend });
  const { model } = checkpoint;
  if (target === "llama2c" && model.config.arch !== "llama") {
    throw new UsageError(`--out ${out}: llama2.c checkpoints hold llama models, found a ${model.config.arch} model`);
  }
  const parameters = model.weights.parameterCount();
  let tokenizerNote = "no tokenizer";

  if (target === "gguf") {
    // the tokenizer, bos and eos exactly as generate and chat would use them
    const codec = checkpoint.directory && existsSync(path.join(checkpoint.directory, "tokenizer.json")) ? await openTokenizer(checkpoint) : undefined;
    if (codec?.tokenizer instanceof BpeTokenizer) {
      const [eos] = codec.eos;
      await writeGgufModel(out, model, {
        type, tokenizer: codec.tokenizer,
        tokenizerOptions: { ...(codec.bos !== undefined ? { bosTokenId: codec.bos, addBosToken: true } : {}), ...(eos !== undefined ? { eosTokenId: eos } : {}) },
      });
      tokenizerNote = `tokenizer: byte-level BPE, ${codec.tokenizer.vocabSize} tokens`;
    } else if (checkpoint.ggufMetadata) {
      const entries = [...checkpoint.ggufMetadata].filter(([key]) => key.startsWith("tokenizer."));
      await writeGgufModel(out, model, { type, tokenizer: entries });
      tokenizerNote = entries.length > 0 ? "tokenizer: copied from the source GGUF" : "a placeholder vocabulary (the source has none)";
    } else {
      await writeGgufModel(out, model, { type });
      tokenizerNote = "a placeholder vocabulary (the source has no tokenizer: llama.cpp needs one to load the file)";
    }
  } else if (target === "llama2c") {
    await writeFileAtomic(out, [serializeLlama2c(model.config, model.weights)]);
  } else {
    const json = await tokenizerJsonOf(checkpoint);
    await writeHfModel(out, model, json === undefined ? {} : { tokenizer: json });
    if (json !== undefined) tokenizerNote = "tokenizer.json copied";
  }
  io.stdout.write(`wrote ${out} (${target === "hf" ? "Hugging Face directory" : target}, ${type}, ${model.config.arch}, ${parameters.toLocaleString("en-US")} parameters; ${tokenizerNote})\n`);
  return 0;
}

export const exportCommand: Command = {
  path: ["export"],
  summary: "Write a model as GGUF (llama.cpp), a llama2.c .bin or a Hugging Face directory",
  usage: "export [--model FILE] --out PATH.gguf|PATH.bin|DIR [--type F32|F16|BF16]",
  flags: {
    model: MODEL_FLAGS.model,
    out: { type: "string", description: "where to write: *.gguf a GGUF file, *.bin a llama2.c checkpoint, anything else a Hugging Face directory" },
    type: { type: "string", description: "matrix storage for GGUF (default F32); the other formats are f32", choices: ["F32", "F16", "BF16"] },
  },
  positionals: { min: 0, max: 0 },
  run,
};
