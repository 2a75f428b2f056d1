import { stat } from "node:fs/promises";
import path from "node:path";
import { FILE_WEIGHT_TYPES } from "@zero-llm/quant";
import { jsBackend } from "@zero-llm/tensor";
import { writeGgufFile } from "@zero-llm/tensor/node";
import { ggufFromModel, type GgufExportType } from "@zero-llm/transformer";
import { openCheckpoint } from "@zero-llm/transformer/node";
import { UsageError, defineCommand, type CommandIO, type FlagTable, type ParsedArgs } from "../command";
import { ggufVocabulary } from "./export";
import { MODEL_FLAGS, findTokenizer, modelPath } from "./model-io";

/**
 * `zllm quantize --model IN --type q8_0|q4_0|q4_1|q4_k --out OUT.gguf` (llama-quantize's job):
 * every 2-D weight matrix of the model, the token embedding included, in the given ggml block
 * type (byte for byte what ggml's reference quantizers write); 1-D tensors (norms, biases) f32.
 * A matrix whose rows are not whole blocks takes llama.cpp's fallback (Q4_K: Q4_1 for rows of
 * whole 32-blocks, e.g. stories15M's 288; otherwise F16). The input is any checkpoint we read (a
 * GGUF already quantized too: matrices already in the type are copied as they are, others are
 * decoded and quantized again). The file is written atomically; a progress bar goes to stderr
 * and a summary (bytes before and after, bits per weight, time) to stdout.
 */

const TYPES = { q8_0: "Q8_0", q4_0: "Q4_0", q4_1: "Q4_1", q4_k: "Q4_K" } as const satisfies Record<string, GgufExportType>;
/** The --type choices, typed as TYPES' keys so the parsed flag indexes TYPES. */
const TYPE_NAMES = Object.keys(TYPES) as (keyof typeof TYPES)[];

const FLAGS = {
  model: MODEL_FLAGS.model,
  type: { type: "string", description: "ggml block type of the matrices: q8_0 (8.5 bits per weight), q4_0 (4.5), q4_1 (5.0), q4_k (4.5)", choices: TYPE_NAMES },
  out: { type: "string", description: "the GGUF file to write (written atomically)" },
} as const satisfies FlagTable;

const MB = 1e6;
const BAR_WIDTH = 30;

/** Bytes of a checkpoint on disk: the file, or every file of a Hugging Face directory. */
async function sizeOnDisk(file: string): Promise<number> {
  const info = await stat(file);
  if (!info.isDirectory()) return info.size;
  const { readdir } = await import("node:fs/promises");
  let total = 0;
  for (const name of await readdir(file)) {
    const entry = await stat(path.join(file, name));
    if (entry.isFile()) total += entry.size;
  }
  return total;
}

async function run(args: ParsedArgs<typeof FLAGS>, io: CommandIO): Promise<number> {
  const { out, type } = args.flags;
  if (type === undefined) throw new UsageError(`--type is required: one of ${Object.keys(TYPES).join(", ")}`);
  if (out === undefined || out === "") throw new UsageError("--out FILE.gguf is required");
  if (path.extname(out).toLowerCase() !== ".gguf") throw new UsageError(`--out: expected a .gguf file, found ${out}`);
  const input = modelPath(args);
  const t0 = performance.now();

  // every stored type kept as it is (F16 and blocks too), decoded only where it must be
  const checkpoint = await openCheckpoint(input, { backend: jsBackend, weightTypes: FILE_WEIGHT_TYPES });
  const { model } = checkpoint;
  const bytesBefore = model.weights.bytes();
  const parameters = model.weights.parameterCount();
  const codec = checkpoint.ggufMetadata !== undefined ? undefined : await findTokenizer(checkpoint);
  const vocabulary = ggufVocabulary(checkpoint, codec);

  // a bar redrawn in place on a terminal; elsewhere (a log, a pipe) only its final state
  const tty = (io.stderr as NodeJS.WriteStream).isTTY === true;
  const bar = (done: number, total: number): string => {
    const filled = Math.round((done / total) * BAR_WIDTH);
    return `quantizing [${"#".repeat(filled)}${" ".repeat(BAR_WIDTH - filled)}] ${done}/${total} tensors`;
  };
  let last = "";
  const onProgress = (done: number, total: number): void => {
    last = bar(done, total);
    if (tty) io.stderr.write(`\r${last}`);
  };
  const file = ggufFromModel(model.config, model.weights, { type: TYPES[type], ...vocabulary.options, onProgress });
  io.stderr.write(tty ? "\n" : `${last}\n`);
  await writeGgufFile(out, file);
  const seconds = (performance.now() - t0) / 1000;

  // what the file holds, by type: bits per weight over the matrices and vectors alike
  const byType = new Map<string, { tensors: number; bytes: number }>();
  let bytesAfter = 0;
  for (const t of file.tensors ?? []) {
    const entry = byType.get(String(t.type)) ?? { tensors: 0, bytes: 0 };
    entry.tensors++;
    entry.bytes += t.data.byteLength;
    byType.set(String(t.type), entry);
    bytesAfter += t.data.byteLength;
  }
  const [fileBefore, fileAfter] = await Promise.all([sizeOnDisk(input), sizeOnDisk(out)]);
  const bits = (bytes: number): string => ((8 * bytes) / parameters).toFixed(2);
  const kinds = [...byType].map(([name, e]) => `${e.tensors} ${name}`).join(", ");
  io.stdout.write(
    `wrote ${out} (${TYPES[type]}; ${model.config.arch}, ${parameters.toLocaleString("en-US")} parameters; ${vocabulary.note})\n` +
      `tensors: ${kinds}\n` +
      `weights: ${(bytesBefore / MB).toFixed(2)} MB → ${(bytesAfter / MB).toFixed(2)} MB (${bits(bytesBefore)} → ${bits(bytesAfter)} bits per weight, ${(bytesBefore / bytesAfter).toFixed(2)}× smaller)\n` +
      `file: ${(fileBefore / MB).toFixed(2)} MB → ${(fileAfter / MB).toFixed(2)} MB in ${seconds.toFixed(1)} s\n`,
  );
  return 0;
}

export const quantizeCommand = defineCommand({
  path: ["quantize"],
  summary: "Write a model as a quantized GGUF file (Q8_0, Q4_0, Q4_1, Q4_K: llama.cpp's block types)",
  usage: "quantize [--model IN] --type q8_0|q4_0|q4_1|q4_k --out OUT.gguf",
  flags: FLAGS,
  positionals: { min: 0, max: 0 },
  run,
});
