import { Sampler } from "@zero-llm/sampling";
import { generate, type GenerateStats, type Model } from "@zero-llm/transformer";
import { UsageError, type Command, type CommandIO, type FlagSpec, type ParsedArgs } from "../command";
import { CONTEXT_FLAG, MODEL_FLAGS, TOKENIZER_FLAG, checkIds, checkPromptIds, contextCache, openModel, openTokenizer, parseIds, type TextCodec } from "./model-io";

/**
 * `zllm generate [--model FILE] "prompt"` (default: the embedded model): streams the continuation as it is produced, then prints
 * prompt-processing speed, generation speed and time to first token (stderr, so stdout is only
 * the text). Sampling: greedy, or top-k → top-p → temperature with a seed (@zero-llm/sampling, llama.cpp's order).
 */

export const SAMPLING_FLAGS = {
  "max-tokens": { type: "number", description: "most new tokens", integer: true, min: 0, max: 1_000_000, default: 256 },
  temperature: { type: "number", description: "softmax temperature; 0 = greedy", min: 0, max: 100, default: 0.8 },
  "top-k": { type: "number", description: "keep the k most likely tokens (0 = off)", integer: true, min: 0, max: 1_000_000, default: 40 },
  "top-p": { type: "number", description: "nucleus: keep tokens up to this cumulative probability (1 = off)", min: 0, max: 1, default: 0.95 },
  seed: { type: "number", description: "seed of the sampler (default: random, printed with the stats)", integer: true, min: 0, max: 4294967295 },
  greedy: { type: "boolean", description: "always take the most likely token (same as --temperature 0)" },
} as const satisfies Record<string, FlagSpec>;

export interface SamplingChoice {
  sampler: Sampler;
  seed: number;
  maxTokens: number;
  describe: string;
}

export function samplingFrom(args: ParsedArgs): SamplingChoice {
  const greedy = args.flags.greedy === true || args.flags.temperature === 0;
  const temperature = greedy ? 0 : (args.flags.temperature as number);
  const topK = args.flags["top-k"] as number;
  const topP = args.flags["top-p"] as number;
  const seed = (args.flags.seed as number | undefined) ?? Math.floor(Math.random() * 2 ** 32);
  const sampler = new Sampler({ temperature, topK, topP, seed });
  const describe = greedy ? "greedy" : `temperature ${temperature}, top-k ${topK}, top-p ${topP}, seed ${seed}`;
  return { sampler, seed, maxTokens: args.flags["max-tokens"] as number, describe };
}

export function formatStats(s: GenerateStats): string {
  return (
    `prompt: ${s.promptTokens} tokens in ${s.promptMs.toFixed(1)} ms (${s.promptTokensPerSecond.toFixed(1)} tokens/s) | ` +
    `generation: ${s.generatedTokens} tokens in ${s.generateMs.toFixed(1)} ms (${s.generateTokensPerSecond.toFixed(1)} tokens/s) | ` +
    `time to first token: ${s.timeToFirstTokenMs.toFixed(1)} ms | stop: ${s.stopReason}`
  );
}

/**
 * A KV cache big enough for the prompt and the new tokens, within the model's context (generation
 * stops when it is full), or past it with --allow-context-overflow on a RoPE model.
 */
export function cacheFor(model: Model, promptLength: number, maxTokens: number, allowOverflow = false): ReturnType<Model["newCache"]> {
  const { seqLen } = model.config;
  const wanted = promptLength + Math.max(1, maxTokens);
  if (allowOverflow) return contextCache(model, wanted, "prompt + --max-tokens", true);
  if (promptLength > seqLen) contextCache(model, promptLength, "prompt", false); // throws
  return model.newCache({ capacity: Math.min(seqLen, wanted) });
}

async function run(args: ParsedArgs, io: CommandIO): Promise<number> {
  const ids = typeof args.flags.ids === "string" ? parseIds("ids", args.flags.ids) : undefined;
  const text = args.positionals[0];
  if ((ids === undefined) === (text === undefined)) throw new UsageError('expected a prompt: either "TEXT" or --ids 1,2,3 (not both)');
  const sampling = samplingFrom(args);
  const opened = await openModel(args);
  try {
    const { model } = opened.checkpoint;
    if (opened.backendNote) io.stderr.write(`${opened.backendNote}\n`);
    // text needs a tokenizer; with --ids and none available, the output is ids too
    let codec: TextCodec | undefined;
    try {
      codec = await openTokenizer(opened.checkpoint, args.flags.tokenizer as string | undefined);
    } catch (error) {
      if (text !== undefined || !(error instanceof UsageError)) throw error;
    }
    const prompt = ids ?? codec?.encode(text ?? "") ?? [];
    if (ids !== undefined) checkIds("ids", prompt, model.config.vocabSize);
    else checkPromptIds(prompt, model.config.vocabSize, args.flags.tokenizer as string | undefined);
    const cache = cacheFor(model, prompt.length, sampling.maxTokens, args.flags["allow-context-overflow"] === true);
    const run = generate(model, prompt, { maxTokens: sampling.maxTokens, sampler: sampling.sampler, eos: codec?.eos ?? [], cache });

    const json = args.flags.json === true;
    const decoder = codec?.decoder();
    const tokens: number[] = [];
    let out = "";
    for (const id of run) {
      tokens.push(id);
      const piece = decoder ? decoder.push(id) : `${tokens.length > 1 ? "," : ""}${id}`;
      out += piece;
      if (!json && piece) io.stdout.write(piece);
    }
    const rest = decoder?.flush() ?? "";
    out += rest;
    if (json) {
      io.stdout.write(`${JSON.stringify({ prompt, tokens, ...(decoder ? { text: out } : {}), sampling: sampling.describe, stats: run.stats })}\n`);
    } else {
      io.stdout.write(`${rest}\n`);
      io.stderr.write(`${formatStats(run.stats)} | sampling: ${sampling.describe}\n`);
    }
    return 0;
  } finally {
    await opened.dispose();
  }
}

export const generateCommand: Command = {
  path: ["generate"],
  summary: "Continue a prompt, streaming tokens; then print prompt/generation tokens/s and time to first token",
  usage: 'generate [--model FILE] [--tokenizer FILE] [sampling flags] [--allow-context-overflow] "PROMPT" | --ids 1,2,3',
  flags: {
    ...MODEL_FLAGS,
    ...TOKENIZER_FLAG,
    ...SAMPLING_FLAGS,
    ...CONTEXT_FLAG,
    ids: { type: "string", description: "the prompt as comma-separated token ids (output: ids, unless a tokenizer is available)" },
    json: { type: "boolean", description: "print one JSON object at the end (prompt, tokens, text, stats) instead of streaming" },
  },
  positionals: { min: 0, max: 1 },
  run,
};
