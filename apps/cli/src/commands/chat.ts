import { createInterface } from "node:readline";
import { generate } from "@zero-llm/transformer";
import { defineCommand, type Command, type CommandIO, type FlagTable, type ParsedArgs } from "../command";
import { SAMPLING_FLAGS, formatStats, samplingFrom } from "./generate";
import { LORA_FLAG } from "./lora-io";
import { CONTEXT_FLAG, MODEL_FLAGS, TOKENIZER_FLAG, contextCache, openModel, openTokenizer } from "./model-io";

/**
 * `zllm chat [--model FILE]` (default: the embedded model): an interactive session. Each line you type is appended to one running
 * KV cache (the conversation so far is never recomputed), and the model continues from it until
 * an end-of-sequence token or --max-tokens. The text is plain continuation: no chat template is
 * applied (a base model, like every model this project trains, has none). When the context is
 * full the session starts over with an empty cache. An empty line or end of input ends it.
 */

/** Where the lines come from: stdin for the real command, any stream in tests. */
export type ChatInput = () => NodeJS.ReadableStream;

const FLAGS = {
  ...MODEL_FLAGS,
  ...LORA_FLAG,
  ...TOKENIZER_FLAG,
  ...SAMPLING_FLAGS,
  ...CONTEXT_FLAG,
  stats: { type: "boolean", description: "after each reply, print tokens/s and time to first token (stderr)" },
  ctx: { type: "number", description: "KV cache length in tokens, at most the model's context unless --allow-context-overflow (default: the model's context, at most 4096)", integer: true, min: 2, max: 1 << 24 },
} as const satisfies FlagTable;

async function runChat(args: ParsedArgs<typeof FLAGS>, io: CommandIO, input: NodeJS.ReadableStream): Promise<number> {
  const sampling = samplingFrom(args.flags);
  const opened = await openModel(args.flags);
  try {
    const { model } = opened.checkpoint;
    const codec = await openTokenizer(opened.checkpoint, args.flags.tokenizer);
    if (opened.backendNote) io.stderr.write(`${opened.backendNote}\n`);
    if (opened.lora) io.stderr.write(`${opened.lora.note}\n`);
    const showStats = args.flags.stats;
    // the KV cache holds the whole conversation: --ctx, or the model's context up to 4096
    const { ctx } = args.flags;
    const allowOverflow = args.flags["allow-context-overflow"];
    const capacity = ctx ?? Math.min(model.config.seqLen, 4096);
    const newCache = (): ReturnType<typeof model.newCache> => contextCache(model, capacity, "--ctx", allowOverflow);
    let cache = newCache();
    io.stderr.write(`chat: ${model.config.arch} model, context ${capacity} tokens, ${sampling.describe}; an empty line ends the session\n`);
    let first = true;
    const lines = createInterface({ input, terminal: false });
    io.stdout.write("> ");
    for await (const line of lines) {
      if (line.trim() === "") break;
      let prompt = first && codec.bos !== undefined ? [codec.bos] : [];
      prompt = prompt.concat(codec.tokenizer.encode(first ? line : `\n${line}`));
      if (cache.length + prompt.length + 1 > cache.capacity) {
        io.stderr.write("[context full: starting over]\n");
        cache = newCache();
        prompt = (codec.bos !== undefined ? [codec.bos] : []).concat(codec.tokenizer.encode(line));
        if (prompt.length + 1 > cache.capacity) {
          io.stderr.write(`[that line is ${prompt.length} tokens, more than the context ${cache.capacity}]\n> `);
          first = true;
          continue;
        }
      }
      first = false;
      const run = generate(model, prompt, { maxTokens: sampling.maxTokens, sampler: sampling.sampler, eos: codec.eos, cache });
      const decoder = codec.decoder();
      for (const id of run) {
        const piece = decoder.push(id);
        if (piece) io.stdout.write(piece);
      }
      io.stdout.write(`${decoder.flush()}\n`);
      if (showStats) io.stderr.write(`${formatStats(run.stats)}\n`);
      io.stdout.write("> ");
    }
    io.stdout.write("\n");
    return 0;
  } finally {
    await opened.dispose();
  }
}

export function makeChatCommand(input: ChatInput = () => process.stdin): Command<typeof FLAGS> {
  return defineCommand({
    path: ["chat"],
    summary: "Interactive session: each line continues one running KV cache",
    usage: "chat [--model FILE] [--lora DIR[:scale]]... [--tokenizer FILE] [sampling flags] [--ctx N] [--allow-context-overflow] [--stats]",
    flags: FLAGS,
    positionals: { min: 0, max: 0 },
    run: (args, io) => runChat(args, io, input()),
  });
}

export const chatCommand = makeChatCommand();
