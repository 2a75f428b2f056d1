import { Sampler, type Constraint } from "@zero-llm/sampling";
import { generate, type GenerateStats, type Model } from "@zero-llm/transformer";
import { UsageError, defineCommand, type CommandIO, type FlagTable, type FlagValues, type ParsedArgs } from "../command";
import { CONSTRAINT_FLAGS, compileFor, constraintFrom } from "./constraint-flags";
import { LORA_FLAG } from "./lora-io";
import { SPECULATIVE_FLAGS, formatSpeculative, measureTargetStepMs, speculativeFrom, summarize } from "./speculative-flags";
import { CONTEXT_FLAG, MODEL_FLAGS, TOKENIZER_FLAG, checkIds, checkPromptIds, contextCache, findTokenizer, noTokenizer, openModel, tokenIdsFlag } from "./model-io";

/**
 * `zllm generate [--model FILE] "prompt"` (default: the embedded model): streams the continuation as it is produced, then prints
 * prompt-processing speed, generation speed and time to first token (stderr, so stdout is only
 * the text). Sampling: greedy, or top-k → top-p → temperature with a seed (@zero-llm/sampling, llama.cpp's order).
 * Speculative decoding (--draft-model, --lookup: speculative-flags.ts) and constrained decoding
 * (--json-schema, --json-object, --grammar, --regex, --choice: constraint-flags.ts) change how
 * the tokens are found, never which distribution they follow.
 */

export const SAMPLING_FLAGS = {
  "max-tokens": { type: "number", description: "most new tokens", integer: true, min: 0, max: 1_000_000, default: 256 },
  temperature: { type: "number", description: "softmax temperature; 0 = greedy", min: 0, max: 100, default: 0.8 },
  "top-k": { type: "number", description: "keep the k most likely tokens (0 = off)", integer: true, min: 0, max: 1_000_000, default: 40 },
  "top-p": { type: "number", description: "nucleus: keep tokens up to this cumulative probability (1 = off)", min: 0, max: 1, minExclusive: true, default: 0.95 },
  seed: { type: "number", description: "seed of the sampler (default: random, printed with the stats)", integer: true, min: 0, max: 4294967295 },
  greedy: { type: "boolean", description: "always take the most likely token (same as --temperature 0)" },
} as const satisfies FlagTable;

export interface SamplingChoice {
  sampler: Sampler;
  seed: number;
  maxTokens: number;
  describe: string;
}

export function samplingFrom(flags: FlagValues<typeof SAMPLING_FLAGS>): SamplingChoice {
  const greedy = flags.greedy || flags.temperature === 0;
  const temperature = greedy ? 0 : flags.temperature;
  const topK = flags["top-k"];
  const topP = flags["top-p"];
  const seed = flags.seed ?? Math.floor(Math.random() * 2 ** 32);
  const sampler = new Sampler({ temperature, topK, topP, seed });
  const describe = greedy ? "greedy" : `temperature ${temperature}, top-k ${topK}, top-p ${topP}, seed ${seed}`;
  return { sampler, seed, maxTokens: flags["max-tokens"], describe };
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

const FLAGS = {
  ...MODEL_FLAGS,
  ...LORA_FLAG,
  ...TOKENIZER_FLAG,
  ...SAMPLING_FLAGS,
  ...CONTEXT_FLAG,
  ...SPECULATIVE_FLAGS,
  ...CONSTRAINT_FLAGS,
  ids: tokenIdsFlag("the prompt as comma-separated token ids (output: ids, unless a tokenizer is available)"),
  json: { type: "boolean", description: "print one JSON object at the end (prompt, tokens, text, sampling, stats; speculative, constraint when used) instead of streaming" },
} as const satisfies FlagTable;

async function run(args: ParsedArgs<typeof FLAGS>, io: CommandIO): Promise<number> {
  const { ids } = args.flags;
  const text = args.positionals[0];
  if ((ids === undefined) === (text === undefined)) throw new UsageError('expected a prompt: either "TEXT" or --ids 1,2,3 (not both)');
  const sampling = samplingFrom(args.flags);
  const constraintChoice = await constraintFrom(args.flags); // files read and checked before the model loads
  const opened = await openModel(args.flags);
  try {
    const { model } = opened.checkpoint;
    if (opened.backendNote) io.stderr.write(`${opened.backendNote}\n`);
    if (opened.lora) io.stderr.write(`${opened.lora.note}\n`);
    // text needs a tokenizer; with --ids and none available, the output is ids too
    const codec = await findTokenizer(opened.checkpoint, args.flags.tokenizer);
    let prompt: number[];
    if (ids !== undefined) {
      checkIds("ids", ids, model.config.vocabSize);
      prompt = ids;
    } else {
      if (codec === undefined) throw new UsageError(`${noTokenizer(opened.checkpoint)}, or use --ids`);
      prompt = codec.encode(text ?? "");
      checkPromptIds(prompt, model.config.vocabSize, args.flags.tokenizer);
    }
    // a constraint works on token bytes: it needs the tokenizer even for an --ids prompt
    let constraint: Constraint | undefined;
    if (constraintChoice !== undefined) {
      if (codec === undefined) throw new UsageError(`${constraintChoice.flag}: a constraint works on the tokens' text; ${noTokenizer(opened.checkpoint)}`);
      constraint = compileFor(constraintChoice, codec, model.config.vocabSize);
    }
    const cache = cacheFor(model, prompt.length, sampling.maxTokens, args.flags["allow-context-overflow"]);
    const speculative = await speculativeFrom(args.flags, opened, codec, cache.capacity);
    const run = generate(model, prompt, {
      maxTokens: sampling.maxTokens, sampler: sampling.sampler, eos: codec?.eos ?? [], cache,
      ...(constraint !== undefined ? { constraint } : {}),
      ...speculative?.options,
    });

    const { json } = args.flags;
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
    const summary = speculative !== undefined
      ? summarize(speculative, run.stats, measureTargetStepMs(model, cache, sampling.sampler, run.history, prompt.length))
      : undefined;
    if (json) {
      io.stdout.write(`${JSON.stringify({
        prompt, tokens, ...(decoder ? { text: out } : {}), sampling: sampling.describe, stats: run.stats,
        ...(summary !== undefined ? { speculative: summary } : {}),
        ...(constraintChoice !== undefined ? { constraint: constraintChoice.flag } : {}),
      })}\n`);
    } else {
      io.stdout.write(`${rest}\n`);
      const parts = [formatStats(run.stats), `sampling: ${sampling.describe}`];
      if (constraintChoice !== undefined) parts.push(`constraint: ${constraintChoice.flag}`);
      if (summary !== undefined) parts.push(formatSpeculative(summary, run.stats));
      io.stderr.write(`${parts.join(" | ")}\n`);
    }
    return 0;
  } finally {
    await opened.dispose();
  }
}

export const generateCommand = defineCommand({
  path: ["generate"],
  summary: "Continue a prompt, streaming tokens (optionally constrained, or sped up by a draft); then print prompt/generation tokens/s and time to first token",
  usage:
    'generate [--model FILE] [--lora DIR[:scale]]... [--tokenizer FILE] [sampling flags] [--draft-model FILE [--draft-max N] [--draft-min N] [--draft-p-min P] | --lookup N] ' +
    '[--json-schema FILE | --json-object | --grammar FILE.gbnf | --regex RE | --choice a,b,c] [--allow-context-overflow] [--json] "PROMPT" | --ids 1,2,3',
  flags: FLAGS,
  positionals: { min: 0, max: 1 },
  run,
});
