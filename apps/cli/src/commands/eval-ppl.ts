import { getBackend, setBackend } from "@zero-llm/tensor";
import { mergedWeights } from "@zero-llm/lora";
import { Model, inferencePerplexity, perplexity } from "@zero-llm/transformer";
import { UsageError, defineCommand, type CommandIO, type FlagTable, type ParsedArgs } from "../command";
import { readFlagText } from "../flag-files";
import { LORA_FLAG } from "./lora-io";
import { MODEL_FLAGS, TOKENIZER_FLAG, modelPath, openModel, openTokenizer } from "./model-io";

/**
 * `zllm eval ppl [--model M] --data F [--json]` (default: the embedded model): perplexity =
 * exp(mean next-token cross-entropy) of held-out text, over non-overlapping windows of the
 * model's context (or a shorter --seq-len): every token but the first is predicted once. With
 * --lora, of the model running those adapters (an f32 model: merged into a copy of the adapted
 * matrices; a quantized model or KV cache: the adapters run in the inference pass).
 */
const FLAGS = {
  ...MODEL_FLAGS,
  ...LORA_FLAG,
  ...TOKENIZER_FLAG,
  data: { type: "string", description: "held-out text file (UTF-8)" },
  "seq-len": { type: "number", description: "window length, at most the model's context (default: the model's context)", integer: true, min: 2 },
  "max-tokens": { type: "number", description: "score only the first N tokens of the file", integer: true, min: 2 },
  json: { type: "boolean", description: "print one JSON object" },
} as const satisfies FlagTable;

/** True when every weight is f32 and the KV cache flags ask for f32 (or nothing). */
function allF32(model: Model, flags: { "cache-type-k"?: string | undefined; "cache-type-v"?: string | undefined }): boolean {
  const cacheF32 = (flags["cache-type-k"] ?? "f32") === "f32" && (flags["cache-type-v"] ?? "f32") === "f32";
  return cacheF32 && model.weights.names().every((name) => model.weights.typeOf(name) === "f32");
}

async function run(args: ParsedArgs<typeof FLAGS>, io: CommandIO): Promise<number> {
  const dataFile = args.flags.data;
  if (dataFile === undefined || dataFile === "") throw new UsageError("--data FILE is required (held-out text)");
  const text = await readFlagText("data", dataFile, "a text file");
  if (text.length === 0) throw new UsageError(`--data ${dataFile}: expected text, found an empty file`);
  const model = modelPath(args);
  const opened = await openModel(args.flags);
  const previous = getBackend();
  try {
    const seqLen = args.flags["seq-len"];
    const context = opened.checkpoint.model.config.seqLen;
    if (seqLen !== undefined && seqLen > context) {
      throw new UsageError(`--seq-len: expected at most ${context} (the model's context), found ${seqLen}`);
    }
    const codec = await openTokenizer(opened.checkpoint, args.flags.tokenizer);
    let tokens = codec.encode(text);
    const max = args.flags["max-tokens"];
    if (max !== undefined) tokens = tokens.slice(0, max);
    if (tokens.length < 2) throw new UsageError(`--data ${dataFile}: expected at least 2 tokens, found ${tokens.length}`);
    setBackend(opened.backend);
    if (opened.lora) io.stderr.write(`${opened.lora.note}\n`);
    const { model: loaded } = opened.checkpoint;
    const base = opened.lora?.base ?? loaded;
    // the training engine's batched pass for an f32 model with an f32 cache (it reads f32 weights:
    // adapters are merged into a copy of the adapted matrices, the same function within float32
    // rounding); a model kept in stored blocks, or a quantized KV cache, is measured through the
    // inference pass it runs with, adapters and all
    const batched = allF32(base, args.flags);
    const scored = batched && opened.lora ? new Model(base.config, mergedWeights(base, opened.lora.uses), { backend: opened.backend }) : loaded;
    const score = batched ? perplexity : inferencePerplexity;
    const t0 = performance.now();
    const result = score(scored, tokens, seqLen !== undefined ? { seqLen } : {});
    const seconds = (performance.now() - t0) / 1000;
    if (args.flags.json) {
      io.stdout.write(`${JSON.stringify({ model, data: dataFile, tokens: result.tokens, loss: result.loss, perplexity: result.perplexity, seconds })}\n`);
    } else {
      io.stdout.write(`perplexity ${result.perplexity.toFixed(3)} (mean cross-entropy ${result.loss.toFixed(4)} nats over ${result.tokens} tokens, ${seconds.toFixed(1)} s)\n`);
    }
    return 0;
  } finally {
    setBackend(previous);
    await opened.dispose();
  }
}

export const evalPplCommand = defineCommand({
  path: ["eval", "ppl"],
  summary: "Perplexity of a model on held-out text: exp(mean cross-entropy)",
  usage: "eval ppl [--model M] [--lora DIR[:scale]]... --data FILE [--tokenizer FILE] [--seq-len N] [--max-tokens N] [--cache-type-k T] [--cache-type-v T] [--json]",
  flags: FLAGS,
  positionals: { min: 0, max: 0 },
  run,
});
