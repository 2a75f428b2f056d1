import { PromptLookupDrafter, Sampler } from "@zero-llm/sampling";
import type { GenerateOptions, GenerateStats, KVCache, Model } from "@zero-llm/transformer";
import { openCheckpoint } from "@zero-llm/transformer/node";
import { UsageError, type FlagTable, type FlagValues } from "../command";
import { contextCache, findTokenizer, type OpenedModel, type TextCodec } from "./model-io";

/**
 * `zllm generate`'s speculative decoding: --draft-model FILE (a smaller model with the same
 * vocabulary drafts, the model verifies all the drafts in one batched pass) or --lookup N (prompt
 * lookup: the drafts are what followed the latest earlier occurrence of the last N tokens). The
 * output follows the same distribution as without (with --greedy: the same tokens); only the
 * speed changes. The acceptance rule lives in @zero-llm/sampling, the batched verify in
 * @zero-llm/transformer (ModelSequence).
 */

export const DRAFT_MAX_DEFAULT = 16;
/** llama.cpp's --draft-p-min default: draft while the draft model is at least this sure of its token. */
export const DRAFT_P_MIN_DEFAULT = 0.75;

export const SPECULATIVE_FLAGS = {
  "draft-model": {
    type: "string",
    description: "speculative decoding: a smaller checkpoint with the same vocabulary drafts tokens and the model verifies them in one pass per round (same output distribution; with --greedy the same tokens)",
  },
  "draft-max": { type: "number", description: `most draft tokens verified per pass (default ${DRAFT_MAX_DEFAULT})`, integer: true, min: 1, max: 256 },
  "draft-min": { type: "number", description: "a shorter proposal is not verified: that round decodes one token (default 0)", integer: true, min: 0, max: 256 },
  "draft-p-min": { type: "number", description: `the draft model stops drafting when its next token's probability is below this (default ${DRAFT_P_MIN_DEFAULT}, as llama.cpp)`, min: 0, max: 1 },
  lookup: {
    type: "number",
    description: "prompt lookup decoding, no draft model: draft what followed the latest earlier occurrence of the last N tokens (N down to 1) in the prompt and output",
    integer: true, min: 1, max: 64,
  },
} as const satisfies FlagTable;

export interface SpeculativeChoice {
  /** What generate() takes: the draft and its options. */
  readonly options: Pick<GenerateOptions, "draft" | "draftMax" | "draftMin" | "draftPMin" | "draftCache">;
  /** For messages and --json: "model FILE" or "lookup N". */
  readonly draft: string;
  readonly draftMax: number;
  readonly draftMin: number;
  /** The draft model's --draft-p-min; undefined for prompt lookup. */
  readonly pMin?: number;
}

type Flags = FlagValues<typeof SPECULATIVE_FLAGS> & { "allow-context-overflow": boolean };

/**
 * The draft the flags ask for, opened on the target's backend (its weights live and die with the
 * target's) with a cache as long as the target's; undefined for none. Refused before any generation (usage errors, exit 2): both a
 * draft model and --lookup, a draft option with neither, a draft whose vocabulary differs from
 * the model's (size, any token's bytes, or the end-of-sequence ids), a draft whose context is
 * shorter than the target's cache.
 */
export async function speculativeFrom(flags: Flags, target: OpenedModel, targetCodec: TextCodec | undefined, capacity: number): Promise<SpeculativeChoice | undefined> {
  const file = flags["draft-model"], lookup = flags.lookup;
  if (file !== undefined && lookup !== undefined) throw new UsageError("expected one way to draft, found both --draft-model and --lookup");
  const draftMax = flags["draft-max"] ?? DRAFT_MAX_DEFAULT;
  const draftMin = flags["draft-min"] ?? 0;
  if (file === undefined && lookup === undefined) {
    const stray = (["draft-max", "draft-min", "draft-p-min"] as const).find((name) => flags[name] !== undefined);
    if (stray !== undefined) throw new UsageError(`--${stray}: expected with --draft-model or --lookup, found neither`);
    return undefined;
  }
  if (draftMin > draftMax) throw new UsageError(`--draft-min: expected at most --draft-max (${draftMax}), found ${draftMin}`);
  if (lookup !== undefined) {
    if (flags["draft-p-min"] !== undefined) throw new UsageError("--draft-p-min: expected with --draft-model (a draft model's confidence), found --lookup");
    return { options: { draft: new PromptLookupDrafter(lookup), draftMax, draftMin }, draft: `lookup ${lookup}`, draftMax, draftMin };
  }
  const path = file ?? "";
  const checkpoint = await openCheckpoint(path, { backend: target.backend });
  const model = checkpoint.model;
  checkSameVocabulary(path, target.checkpoint.model, targetCodec, model, await findTokenizer(checkpoint));
  const draftCache: KVCache = contextCache(model, capacity, `--draft-model ${path}: the draft's cache (as long as the model's: prompt + --max-tokens)`, flags["allow-context-overflow"]);
  const pMin = flags["draft-p-min"] ?? DRAFT_P_MIN_DEFAULT;
  return {
    options: { draft: model, draftMax, draftMin, draftPMin: pMin, draftCache },
    draft: `model ${path}`, draftMax, draftMin, pMin,
  };
}

/**
 * A draft must speak the model's vocabulary: the same number of ids and, when both come with a
 * tokenizer, the same bytes for every id and the same end-of-sequence ids (llama.cpp checks
 * token texts too). A token that means something else to the draft would be proposed and judged
 * as another token.
 */
function checkSameVocabulary(file: string, target: Model, targetCodec: TextCodec | undefined, draft: Model, draftCodec: TextCodec | undefined): void {
  const V = target.config.vocabSize;
  const refuse = (found: string): never => {
    throw new UsageError(`--draft-model ${file}: expected the model's vocabulary, found ${found} (VOCAB_MISMATCH)`);
  };
  if (draft.config.vocabSize !== V) refuse(`${draft.config.vocabSize} token ids where the model has ${V}`);
  if (targetCodec === undefined || draftCodec === undefined) return;
  const bytesOf = (codec: TextCodec, id: number): string => {
    try {
      return Buffer.from(codec.tokenizer.tokenBytes(id)).toString("hex");
    } catch {
      return "(none)";
    }
  };
  for (let id = 0; id < V; id++) {
    const ours = bytesOf(targetCodec, id), theirs = bytesOf(draftCodec, id);
    if (ours !== theirs) refuse(`token ${id} = ${targetCodec.tokenizer.tokenText(id)} in the model but ${draftCodec.tokenizer.tokenText(id)} in the draft's tokenizer`);
  }
  const eos = (codec: TextCodec): string => [...codec.eos].sort((a, b) => a - b).join(",");
  if (eos(targetCodec) !== eos(draftCodec)) refuse(`end-of-sequence ids [${eos(draftCodec)}] where the model has [${eos(targetCodec)}]`);
}

/**
 * The cost of one token from the model alone (a decode step and a sample), measured after the
 * run on its own cache at the middle of the output (so attention reads an average number of
 * positions): median of 7. Speculative speed-up = that × tokens ÷ the run's generation time.
 */
export function measureTargetStepMs(model: Model, cache: KVCache, sampler: Sampler, history: readonly number[], promptLength: number): number {
  const generated = history.length - promptLength;
  const position = Math.min(promptLength + Math.floor(generated / 2), cache.length, cache.capacity - 1);
  if (position < 1) return 0;
  const probe = new Sampler(sampler.options);
  const context = history.slice(0, position);
  const token = history[position] ?? history[history.length - 1];
  const times: number[] = [];
  for (let i = 0; i < 7; i++) {
    cache.truncate(position);
    const t0 = performance.now();
    probe.sample(model.decode(token, cache), context);
    times.push(performance.now() - t0);
  }
  cache.truncate(position);
  return times.sort((a, b) => a - b)[3];
}

export interface SpeculativeSummary {
  draft: string;
  draftMax: number;
  draftMin: number;
  pMin?: number;
  /** Accepted ÷ proposed draft tokens. */
  acceptance: number;
  /** New tokens per forward pass of the model. */
  tokensPerPass: number;
  /** The model alone: ms per token (decode + sample), measured after the run. */
  targetStepMs: number;
  /** The model alone's time for these tokens ÷ the run's generation time. */
  speedup: number;
}

export function summarize(choice: SpeculativeChoice, stats: GenerateStats, targetStepMs: number): SpeculativeSummary {
  return {
    draft: choice.draft,
    draftMax: choice.draftMax,
    draftMin: choice.draftMin,
    ...(choice.pMin !== undefined ? { pMin: choice.pMin } : {}),
    acceptance: stats.draftTokens > 0 ? stats.acceptedDraftTokens / stats.draftTokens : 0,
    tokensPerPass: stats.targetPasses > 0 ? stats.generatedTokens / stats.targetPasses : 0,
    targetStepMs,
    speedup: stats.generateMs > 0 ? (targetStepMs * stats.generatedTokens) / stats.generateMs : 0,
  };
}

/** The streamed summary's speculative part: "draft: model d.gguf, 40/52 accepted (76.9%), 2.9 tokens per pass, speed-up ×1.62 (…)". */
export function formatSpeculative(s: SpeculativeSummary, stats: GenerateStats): string {
  return (
    `draft: ${s.draft}, ${stats.acceptedDraftTokens}/${stats.draftTokens} accepted (${(100 * s.acceptance).toFixed(1)}%), ` +
    `${s.tokensPerPass.toFixed(2)} tokens per pass, speed-up ×${s.speedup.toFixed(2)} ` +
    `(the model alone: ${s.targetStepMs.toFixed(2)} ms per token, measured after the run)`
  );
}
