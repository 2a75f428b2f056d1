import { getBackend, setBackend } from "@zero-llm/tensor";
import { perplexity } from "@zero-llm/transformer";
import { UsageError, defineCommand, type CommandIO, type FlagTable, type ParsedArgs } from "../command";
import { readFlagText } from "../flag-files";
import { MODEL_FLAGS, TOKENIZER_FLAG, modelPath, openModel, openTokenizer } from "./model-io";

/**
 * `zllm eval ppl [--model M] --data F [--json]` (default: the embedded model): perplexity =
 * exp(mean next-token cross-entropy) of held-out text, over non-overlapping windows of the
 * model's context (or a shorter --seq-len): every token but the first is predicted once.
 */
const FLAGS = {
  ...MODEL_FLAGS,
  ...TOKENIZER_FLAG,
  data: { type: "string", description: "held-out text file (UTF-8)" },
  "seq-len": { type: "number", description: "window length, at most the model's context (default: the model's context)", integer: true, min: 2 },
  "max-tokens": { type: "number", description: "score only the first N tokens of the file", integer: true, min: 2 },
  json: { type: "boolean", description: "print one JSON object" },
} as const satisfies FlagTable;

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
    const t0 = performance.now();
    const result = perplexity(opened.checkpoint.model, tokens, seqLen !== undefined ? { seqLen } : {});
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
  usage: "eval ppl [--model M] --data FILE [--tokenizer FILE] [--seq-len N] [--max-tokens N] [--json]",
  flags: FLAGS,
  positionals: { min: 0, max: 0 },
  run,
});
