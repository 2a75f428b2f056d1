import { DRY_DEFAULT_BREAKERS, dryBreakersFromStrings, type SamplerOptions } from "@zero-llm/sampling";
import type { ServedModel } from "../model/load";
import { invalidType, invalidValue, isObject, type Fields } from "./fields";

/**
 * The request → sampler mapping: every field that shapes which token comes next is read here
 * and becomes the options of @zero-llm/sampling's `Sampler` (llama.cpp's chain, in its order):
 *
 *   constraint mask (response_format, tools) → logit_bias → penalties: repeat_penalty over the
 *   last repeat_last_n tokens of prompt + output, frequency / presence over the output only
 *   (OpenAI's rule) → DRY → top_k → typical_p → top_p → min_p → XTC → temperature → a draw
 *   from the choice's seeded stream (or Mirostat 2.0 in place of top_k … XTC).
 *
 * Beside OpenAI's fields, llama.cpp server's names for the rest of the chain are accepted as
 * documented extensions. Logprobs are those of the model's own distribution (the raw logits,
 * before any of the above), as OpenAI documents them.
 */

export interface GenerationParams {
  /** Explicit max_tokens / max_completion_tokens, or undefined (the rest of the context). */
  maxTokens: number | undefined;
  /** Completions per prompt. */
  n: number;
  stop: string[];
  /** The seed of choice 0 (choice i uses seed + i); undefined: random. */
  seed: number | undefined;
  /** The Sampler's settings, but for the per-choice seed and the prompt length. */
  sampler: Omit<SamplerOptions, "seed" | "frequencyPresenceFrom">;
  /** Top alternatives to report with each token's logprob; undefined: no logprobs. */
  logprobs: number | undefined;
}

/** OpenAI's limits: up to 4 stop sequences, 16 choices (ours). */
export const MAX_STOP = 4;
export const MAX_N = 16;

export function readGenerationParams(f: Fields, kind: "chat" | "completions", served: ServedModel): GenerationParams {
  rejectUnsupported(f, kind);
  const maxTokens = readMaxTokens(f, kind);
  const n = f.number("n", { integer: true, min: 1, max: MAX_N }) ?? 1;
  return { maxTokens, n, stop: readStop(f), seed: readSeed(f), sampler: readChain(f, served), logprobs: readLogprobs(f, kind) };
}

/** Fields no model here can honour: a 400 naming them, never silently ignored. */
function rejectUnsupported(f: Fields, kind: "chat" | "completions"): void {
  if (f.has("functions") || f.has("function_call")) {
    f.unsupported(f.has("functions") ? "functions" : "function_call", "(the deprecated function calling) is not supported: use tools and tool_choice");
  }
  if (kind === "completions") {
    const n = f.number("n", { integer: true, min: 1, max: MAX_N }) ?? 1;
    const bestOf = f.number("best_of", { integer: true, min: 1 });
    if (bestOf !== undefined && bestOf !== n) f.unsupported("best_of", `(ranking ${bestOf} candidates) is not supported: leave it out or equal to n (${n})`);
    const suffix = f.string("suffix");
    if (suffix !== undefined && suffix !== "") f.unsupported("suffix", "(fill-in-the-middle) is not supported by these models");
    if (f.has("tools")) f.unsupported("tools", "are a chat feature: send them to /v1/chat/completions");
  }
}

/** The chain's settings, OpenAI's fields and llama.cpp server's extensions. */
function readChain(f: Fields, served: ServedModel): GenerationParams["sampler"] {
  const repeat = f.number("repeat_penalty", { above: 0, max: 100 });
  const repetition = f.number("repetition_penalty", { above: 0, max: 100 });
  if (repeat !== undefined && repetition !== undefined && repeat !== repetition) {
    throw invalidValue("repetition_penalty", `the same value as repeat_penalty (${repeat}), of which it is an alias`, repetition);
  }
  const mirostat = f.number("mirostat", { integer: true, min: 0, max: 2 }) ?? 0;
  if (mirostat === 1) f.unsupported("mirostat", "1 (Mirostat 1.0) is not implemented: use 2 (Mirostat 2.0) or 0");
  const dryMultiplier = f.number("dry_multiplier", { min: 0, max: 100 }) ?? 0;
  const options: GenerationParams["sampler"] = {
    temperature: f.number("temperature", { min: 0, max: 2 }) ?? 1,
    topK: f.number("top_k", { integer: true, min: 0 }) ?? 0,
    topP: f.number("top_p", { above: 0, max: 1 }) ?? 1,
    minP: f.number("min_p", { min: 0, max: 1 }) ?? 0,
    typicalP: f.number("typical_p", { above: 0, max: 1 }) ?? 1,
    minKeep: f.number("min_keep", { integer: true, min: 0, max: 1024 }) ?? 1,
    repetitionPenalty: repeat ?? repetition ?? 1,
    repetitionWindow: readWindow(f, "repeat_last_n"),
    presencePenalty: f.number("presence_penalty", { min: -2, max: 2 }) ?? 0,
    frequencyPenalty: f.number("frequency_penalty", { min: -2, max: 2 }) ?? 0,
    xtcProbability: f.number("xtc_probability", { min: 0, max: 1 }) ?? 0,
    xtcThreshold: f.number("xtc_threshold", { min: 0, max: 1 }) ?? 0.1,
    mirostat: mirostat === 2 ? 2 : 0,
    mirostatTau: f.number("mirostat_tau", { min: 0, max: 100 }) ?? 5,
    mirostatEta: f.number("mirostat_eta", { min: 0, max: 1 }) ?? 0.1,
    dryMultiplier,
    dryBase: f.number("dry_base", { min: 1, max: 100 }) ?? 1.75,
    dryAllowedLength: f.number("dry_allowed_length", { integer: true, min: 0, max: 1 << 20 }) ?? 2,
    dryWindow: readWindow(f, "dry_penalty_last_n"),
  };
  const logitBias = readLogitBias(f, served.model.config.vocabSize);
  if (logitBias.size > 0) options.logitBias = logitBias;
  const breakers = readDryBreakers(f, served, dryMultiplier > 0);
  if (breakers.length > 0) options.dryBreakers = breakers;
  return options;
}

/** llama.cpp's `*_last_n`: the last n tokens; -1 (or absent) the whole history; 0 turns the step off. */
function readWindow(f: Fields, key: string): number {
  const n = f.number(key, { integer: true, min: -1 });
  return n === undefined || n === -1 ? Infinity : n;
}

/** dry_sequence_breakers: strings, as token sequences of this model; llama.cpp's defaults when DRY is on and none are given. */
function readDryBreakers(f: Fields, served: ServedModel, on: boolean): number[][] {
  const list = f.array("dry_sequence_breakers");
  const strings = list === undefined ? (on ? DRY_DEFAULT_BREAKERS : []) : list.map((s, i) => {
    if (typeof s !== "string") throw invalidType(`dry_sequence_breakers[${i}]`, "a string", s);
    if (s === "") throw invalidValue(`dry_sequence_breakers[${i}]`, "a non-empty string", s);
    return s;
  });
  if (strings.length === 0) return [];
  const { tokenizer } = served;
  try {
    return dryBreakersFromStrings(strings, { size: served.model.config.vocabSize, tokenBytes: (id) => tokenizer.tokenBytes(id), encode: (text) => tokenizer.encode(text) });
  } catch (e) {
    throw invalidValue("dry_sequence_breakers", `sequence breakers this vocabulary can hold (${e instanceof Error ? e.message : String(e)})`, list, e);
  }
}

function readMaxTokens(f: Fields, kind: "chat" | "completions"): number | undefined {
  // completions may ask for 0 new tokens (OpenAI allows it); chat asks for at least one
  const min = kind === "completions" ? 0 : 1;
  const maxTokens = f.number("max_tokens", { integer: true, min });
  const maxCompletion = kind === "chat" ? f.number("max_completion_tokens", { integer: true, min }) : undefined;
  if (maxTokens !== undefined && maxCompletion !== undefined && maxTokens !== maxCompletion) {
    throw invalidValue("max_completion_tokens", `the same value as max_tokens (${maxTokens}) when both are given`, maxCompletion);
  }
  // OpenAI's completions default to 16 new tokens; chat to the rest of the context
  return maxCompletion ?? maxTokens ?? (kind === "completions" ? 16 : undefined);
}

function readStop(f: Fields): string[] {
  const v = f.raw("stop");
  if (v === undefined) return [];
  const list = typeof v === "string" ? [v] : v;
  if (!Array.isArray(list)) throw invalidType("stop", "a string or an array of strings", v);
  if (list.length > MAX_STOP) throw invalidValue("stop", `at most ${MAX_STOP} sequences`, list);
  return list.map((s, i) => {
    if (typeof s !== "string") throw invalidType(`stop[${i}]`, "a string", s);
    if (s === "") throw invalidValue(`stop[${i}]`, "a non-empty string", s);
    return s;
  });
}

/**
 * seed: any integer JSON carries exactly. [0, 2³²) seeds the stream as given; -1 means a random
 * seed (llama.cpp's convention); any other integer is folded to 32 bits by mixing its high and
 * low words (so distinct small negative seeds still give distinct streams).
 */
function readSeed(f: Fields): number | undefined {
  const seed = f.number("seed", { integer: true });
  if (seed === undefined || seed === -1) return undefined;
  if (seed >= 0 && seed < 2 ** 32) return seed;
  const lo = seed >>> 0;
  const hi = Math.floor(seed / 2 ** 32) >>> 0;
  return (lo ^ Math.imul(hi, 0x9e3779b9)) >>> 0;
}

function readLogitBias(f: Fields, vocabSize: number): Map<number, number> {
  const bias = new Map<number, number>();
  const v = f.raw("logit_bias");
  if (v === undefined) return bias;
  if (!isObject(v)) throw invalidType("logit_bias", "an object mapping token ids to numbers", v);
  for (const [key, value] of Object.entries(v)) {
    const param = `logit_bias.${key}`;
    const id = /^\d+$/.test(key) ? Number(key) : NaN;
    if (!Number.isSafeInteger(id) || id >= vocabSize) throw invalidValue("logit_bias", `token ids in [0, ${vocabSize}) as keys`, key);
    if (typeof value !== "number" || !Number.isFinite(value)) throw invalidType(param, "a number", value);
    if (value < -100 || value > 100) throw invalidValue(param, "a number in [-100, 100]", value);
    bias.set(id, value);
  }
  return bias;
}

/** Completions: logprobs 0–5 (an integer); chat: logprobs true and top_logprobs 0–20. */
function readLogprobs(f: Fields, kind: "chat" | "completions"): number | undefined {
  if (kind === "completions") return f.number("logprobs", { integer: true, min: 0, max: 5 });
  const on = f.boolean("logprobs") ?? false;
  const top = f.number("top_logprobs", { integer: true, min: 0, max: 20 });
  if (top !== undefined && !on) throw invalidValue("top_logprobs", "to be used only with logprobs: true", top);
  return on ? (top ?? 0) : undefined;
}
