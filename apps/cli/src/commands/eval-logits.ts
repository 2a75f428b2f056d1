import { UsageError, defineCommand, type CommandIO, type FlagTable, type ParsedArgs } from "../command";
import { LORA_FLAG } from "./lora-io";
import { CONTEXT_FLAG, MODEL_FLAGS, checkIds, contextCache, openModel, tokenIdsFlag } from "./model-io";

/**
 * `zllm eval logits [--model FILE] --tokens 1,450,9038 [--json]` (default: the embedded model)
 *
 * A public contract (conformance scripts outside the repository call it; keep it stable):
 * the tokens go one at a time through the KV-cache decode path from position 0, and for each
 * position i the output holds the full logits vector [vocabSize] of the prediction of token i+1.
 *
 * --json prints exactly one line: a JSON array of tokens.length arrays of vocabSize numbers, each
 * number the exact f32 logit written as the shortest decimal that reads back to the same double.
 * Without --json: one line per position with the token, the 5 largest logits and their ids.
 */

const FLAGS = {
  ...MODEL_FLAGS,
  ...LORA_FLAG,
  ...CONTEXT_FLAG,
  tokens: tokenIdsFlag("comma-separated token ids, evaluated from position 0 (at most the model's context)"),
  json: { type: "boolean", description: "print one JSON array: for each position, the full logits vector" },
} as const satisfies FlagTable;

async function run(args: ParsedArgs<typeof FLAGS>, io: CommandIO): Promise<number> {
  const { tokens } = args.flags;
  if (tokens === undefined) throw new UsageError("--tokens 1,450,9038 is required: the token ids to evaluate");
  const opened = await openModel(args.flags);
  try {
    const { model } = opened.checkpoint;
    checkIds("tokens", tokens, model.config.vocabSize);
    if (opened.backendNote) io.stderr.write(`${opened.backendNote}\n`);
    if (opened.lora) io.stderr.write(`${opened.lora.note}\n`);
    const cache = contextCache(model, tokens.length, "--tokens", args.flags["allow-context-overflow"]);
    const { json } = args.flags;
    if (json) io.stdout.write("[");
    tokens.forEach((token, position) => {
      const logits = model.decode(token, cache);
      if (json) {
        io.stdout.write(`${position > 0 ? "," : ""}[${Array.from(logits).join(",")}]`);
      } else {
        const top = Array.from(logits.keys()).sort((a, b) => logits[b] - logits[a]).slice(0, 5);
        io.stdout.write(`position ${position} token ${token}: ${top.map((id) => `${id} (${logits[id].toFixed(4)})`).join(", ")}\n`);
      }
    });
    if (json) io.stdout.write("]\n");
    return 0;
  } finally {
    await opened.dispose();
  }
}

export const evalLogitsCommand = defineCommand({
  path: ["eval", "logits"],
  summary: "Print the next-token logits at every position of a token sequence (KV-cache path)",
  usage: "eval logits [--model FILE] [--lora DIR[:scale]]... --tokens 1,450,9038 [--json] [--allow-context-overflow] [--backend wasm|js] [--threads N]",
  flags: FLAGS,
  positionals: { min: 0, max: 0 },
  run,
});
