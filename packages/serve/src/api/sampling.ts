import { randomInt } from "node:crypto";
import { Sampler } from "@zero-llm/sampling";
import type { TokenChooser } from "../engine/sequence";
import { ServeError } from "../errors";
import { invalidType, invalidValue, isObject, type Fields } from "./fields";

/**
 * The request → sampler mapping: every field that shapes which token comes next is read and
 * turned into a TokenChooser here, and nowhere else. (Round 2 swaps @zero-llm/sampling's full
 * chain, its logprobs and stop-string matcher, and constrained decoding for response_format and
 * tools in behind the same two functions.)
 *
 * Order, per token, on a copy of the model's logits:
 *   logit_bias (added) → presence / frequency penalties (OpenAI's formula, over the generated
 *   tokens) → @zero-llm/sampling's Sampler: repeat_penalty (over prompt + generated) →
 *   temperature → top_k → top_p → min_p → a draw from the request's seeded stream.
 * Logprobs are those of the model's own distribution (log-softmax of the raw logits, before any
 * of the above), as vLLM and OpenAI report them.
 */

export interface GenerationParams {
  /** Explicit max_tokens / max_completion_tokens, or undefined (the rest of the context). */
  maxTokens: number | undefined;
  /** Completions per prompt. */
  n: number;
  stop: string[];
  /** The seed of choice 0 (choice i uses seed + i); undefined: random. */
  seed: number | undefined;
  temperature: number;
  topP: number;
  topK: number;
  minP: number;
  repeatPenalty: number;
  presencePenalty: number;
  frequencyPenalty: number;
  logitBias: ReadonlyMap<number, number>;
  /** Top alternatives to report with each token's logprob; undefined: no logprobs. */
  logprobs: number | undefined;
}

/** OpenAI's limits: up to 4 stop sequences, 20 top logprobs (chat) or 5 (completions). */
export const MAX_STOP = 4;
export const MAX_N = 16;

export function readGenerationParams(f: Fields, kind: "chat" | "completions", vocabSize: number): GenerationParams {
  rejectUnenforceable(f);
  const maxTokens = readMaxTokens(f, kind);
  const n = f.number("n", { integer: true, min: 1, max: MAX_N }) ?? 1;
  if (kind === "completions") {
    const bestOf = f.number("best_of", { integer: true, min: 1 });
    if (bestOf !== undefined && bestOf !== n) f.unsupported("best_of", `(ranking ${bestOf} candidates) is not supported: leave it out or equal to n (${n})`);
    const suffix = f.string("suffix");
    if (suffix !== undefined && suffix !== "") f.unsupported("suffix", "(fill-in-the-middle) is not supported by these models");
  }
  const repeat = f.number("repeat_penalty", { above: 0, max: 100 });
  const repetition = f.number("repetition_penalty", { above: 0, max: 100 });
  if (repeat !== undefined && repetition !== undefined && repeat !== repetition) {
    throw invalidValue("repetition_penalty", `the same value as repeat_penalty (${repeat}), of which it is an alias`, repetition);
  }
  return {
    maxTokens,
    n,
    stop: readStop(f),
    seed: readSeed(f),
    temperature: f.number("temperature", { min: 0, max: 2 }) ?? 1,
    topP: f.number("top_p", { above: 0, max: 1 }) ?? 1,
    topK: f.number("top_k", { integer: true, min: 0 }) ?? 0,
    minP: f.number("min_p", { min: 0, max: 1 }) ?? 0,
    repeatPenalty: repeat ?? repetition ?? 1,
    presencePenalty: f.number("presence_penalty", { min: -2, max: 2 }) ?? 0,
    frequencyPenalty: f.number("frequency_penalty", { min: -2, max: 2 }) ?? 0,
    logitBias: readLogitBias(f, vocabSize),
    logprobs: readLogprobs(f, kind),
  };
}

/** response_format and tools need constrained decoding (@zero-llm/sampling, next round): a 400 until then. */
function rejectUnenforceable(f: Fields): void {
  const format = f.object("response_format");
  if (format) {
    const type = format.choice("type", ["text", "json_object", "json_schema"]);
    if (type === undefined) throw invalidValue("response_format.type", "one of 'text', 'json_object', 'json_schema'", undefined);
    if (type !== "text") {
      f.unsupported("response_format", `of type '${type}' cannot be enforced by this server yet (constrained decoding is not wired in); use 'text'`);
    }
  }
  const tools = f.array("tools");
  if (tools && tools.length > 0) {
    f.unsupported("tools", "cannot be enforced by this server yet (constrained tool calls are not wired in); send no tools");
  }
  const choice = f.raw("tool_choice");
  if (choice !== undefined && choice !== "none" && choice !== "auto") {
    f.unsupported("tool_choice", "other than 'none' or 'auto' needs tools, which this server does not support yet");
  }
  if (f.has("functions")) f.unsupported("functions", "(the deprecated function calling) is not supported");
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

function readLogprobs(f: Fields, kind: "chat" | "completions"): number | undefined {
  if (kind === "completions") return f.number("logprobs", { integer: true, min: 0, max: 5 });
  const on = f.boolean("logprobs") ?? false;
  const top = f.number("top_logprobs", { integer: true, min: 0, max: 20 });
  if (top !== undefined && !on) throw invalidValue("top_logprobs", "to be used only with logprobs: true", top);
  return on ? (top ?? 0) : undefined;
}

/** One token's logprob and the most likely alternatives at its position. */
export interface TokenLogprob {
  readonly id: number;
  readonly logprob: number;
  readonly top: ReadonlyArray<{ readonly id: number; readonly logprob: number }>;
}

/** The TokenChooser of one choice of a request. */
export class RequestChooser implements TokenChooser {
  private readonly sampler: Sampler;
  private scratch = new Float32Array(0);
  /** How often each id was generated so far (presence and frequency penalties). */
  private readonly counts = new Map<number, number>();
  private counted = 0;
  /** The logprob of the last chosen token (when logprobs were asked for). */
  lastLogprob: TokenLogprob | undefined;
  readonly seed: number;

  constructor(private readonly params: GenerationParams, choiceIndex: number) {
    this.seed = params.seed === undefined ? randomInt(2 ** 32 - 1) : (params.seed + choiceIndex) >>> 0;
    try {
      this.sampler = new Sampler({
        seed: this.seed,
        temperature: params.temperature,
        topK: params.topK,
        topP: params.topP,
        minP: params.minP,
        repetitionPenalty: params.repeatPenalty,
      });
    } catch (e) {
      // the fields were range-checked already: a refusal here is a bug, reported as such
      throw new ServeError("internal_error", `sampler: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
  }

  choose(logits: Float32Array, tokens: readonly number[], promptLength: number): number {
    const p = this.params;
    const adjusted = p.logitBias.size > 0 || p.presencePenalty !== 0 || p.frequencyPenalty !== 0;
    let row = logits;
    if (adjusted) {
      if (this.scratch.length !== logits.length) this.scratch = new Float32Array(logits.length);
      row = this.scratch;
      row.set(logits);
      for (const [id, b] of p.logitBias) row[id] += b;
      for (; this.counted < tokens.length - promptLength; this.counted++) {
        const id = tokens[promptLength + this.counted];
        this.counts.set(id, (this.counts.get(id) ?? 0) + 1);
      }
      // OpenAI: logit[j] -= count[j] · frequency_penalty + (count[j] > 0) · presence_penalty
      for (const [id, c] of this.counts) row[id] -= c * p.frequencyPenalty + p.presencePenalty;
    }
    const id = this.sampler.sample(row, tokens);
    this.lastLogprob = p.logprobs === undefined ? undefined : logprobOf(logits, id, p.logprobs);
    return id;
  }
}

/** log softmax(logits)[id] and the `top` largest entries (ties: lower id first), in float64. */
export function logprobOf(logits: Float32Array, id: number, top: number): TokenLogprob {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i] > max) max = logits[i];
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i] - max);
  const logZ = max + Math.log(sum);
  // the `top` best ids by insertion into a short sorted list
  const best: number[] = [];
  for (let i = 0; i < logits.length && top > 0; i++) {
    if (best.length === top && logits[i] <= logits[best[best.length - 1]]) continue;
    let j = best.length < top ? best.length : top - 1;
    if (best.length < top) best.push(i);
    while (j > 0 && logits[best[j - 1]] < logits[i]) {
      best[j] = best[j - 1];
      j--;
    }
    best[j] = i;
  }
  return { id, logprob: logits[id] - logZ, top: best.map((t) => ({ id: t, logprob: logits[t] - logZ })) };
}
