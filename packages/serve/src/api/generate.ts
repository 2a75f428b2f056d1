import { StopConditions, type TokenLogprob } from "@zero-llm/sampling";
import type { SequenceHandle, SequenceResult } from "../engine/sequence";
import { ServeError } from "../errors";
import { RequestChooser } from "./chooser";
import type { ModelSlot, RouteContext } from "./context";
import type { OutputPlan } from "./output";
import type { GenerationParams } from "./sampling";

/**
 * Runs the choices of one completion request (n per prompt) on the model's engine and turns
 * engine events into text events for the route, which shapes them as chat or completion chunks.
 * Everything the two routes share lives here: seeding each choice, stop strings (matched by
 * @zero-llm/sampling's StopConditions across token boundaries, on bytes), logprobs, ending a
 * choice when its constraint is complete, cancelling every choice when the client leaves or one
 * choice fails, and mapping how a sequence ended onto finish_reason or an error.
 */

/** One choice of a request as it runs. */
export class Choice {
  readonly chooser: RequestChooser;
  readonly stops: StopConditions;
  handle: SequenceHandle | undefined;
  /** All text released so far. */
  content = "";
  /** Logprobs of every generated token (when asked for). */
  readonly logprobs: TokenLogprob[] = [];
  finishReason: "stop" | "length" | undefined;
  result: SequenceResult | undefined;

  constructor(
    readonly index: number,
    readonly promptIndex: number,
    params: GenerationParams,
    promptLength: number,
    plan: OutputPlan,
    stops: readonly string[],
  ) {
    this.chooser = new RequestChooser(params, index, promptLength, plan.constraint);
    this.stops = new StopConditions({ stop: stops });
  }
}

export interface GenerationHooks {
  /** The first choice holds a KV cache: no 429/503 can follow, a stream may open. */
  admitted(): void;
  /** Text released by a choice (may be "" when only logprobs are new). */
  delta(choice: Choice, text: string, logprobs: readonly TokenLogprob[]): void;
  /** A choice ended with finish_reason set. */
  choiceDone(choice: Choice): void;
  /** Every choice ended; `error` when the request failed (the others were cancelled). Not called when the client left. */
  done(error: ServeError | undefined): void;
}

export interface PromptRun {
  readonly ids: readonly number[];
  /** New tokens allowed (fitted to the context). */
  readonly maxTokens: number;
}

export function runGeneration(
  ctx: RouteContext,
  slot: ModelSlot,
  prompts: readonly PromptRun[],
  params: GenerationParams,
  plan: OutputPlan,
  stops: readonly string[],
  hooks: GenerationHooks,
): Choice[] {
  const { served, engine } = slot;
  const { tokenizer } = served;
  const choices: Choice[] = [];
  for (let p = 0; p < prompts.length; p++) {
    for (let i = 0; i < params.n; i++) choices.push(new Choice(p * params.n + i, p, params, prompts[p].ids.length, plan, stops));
  }
  let over = false;
  let admitted = false;
  let remaining = choices.length;
  const end = (error: ServeError | undefined): void => {
    if (over) return;
    over = true;
    for (const c of choices) c.handle?.cancel();
    hooks.done(error);
  };
  ctx.onClientGone(() => {
    over = true; // nobody to tell
    for (const c of choices) c.handle?.cancel();
  });

  for (const choice of choices) {
    if (over) break;
    const prompt = prompts[choice.promptIndex];
    // logprobs not yet handed out with text; a new array only after one was handed out (the
    // hooks may keep it), so a token without logprobs allocates nothing here
    let pending: TokenLogprob[] = NO_LOGPROBS;
    try {
      choice.handle = engine.submit(
        {
          prompt: prompt.ids,
          maxTokens: prompt.maxTokens,
          chooser: choice.chooser,
          stopTokens: served.endOfGeneration,
          deadline: ctx.deadline,
          arrival: ctx.arrival,
          ...(slot.adapter ? { weights: slot.adapter.weights } : {}),
        },
        {
          admitted: () => {
            if (!admitted && !over) {
              admitted = true;
              hooks.admitted();
            }
          },
          token: (id) => {
            if (over) return;
            const lp = choice.chooser.lastLogprob;
            if (lp) {
              choice.logprobs.push(lp);
              if (pending === NO_LOGPROBS) pending = [];
              pending.push(lp);
            }
            const text = choice.stops.push(id, tokenizer.tokenBytes(id));
            if (text !== "") {
              choice.content += text;
              hooks.delta(choice, text, pending);
              pending = NO_LOGPROBS;
            }
            // a stop string, or a constraint that nothing may follow: the output is complete
            if (choice.stops.reason === "stop" || choice.chooser.complete) choice.handle?.stop();
          },
          finished: (result) => {
            choice.result = result;
            if (over) return;
            if (result.reason === "stop" || result.reason === "length") {
              const tail = choice.stops.reason === null ? choice.stops.finish() : "";
              if (tail !== "" || pending.length > 0) {
                choice.content += tail;
                hooks.delta(choice, tail, pending);
                pending = NO_LOGPROBS;
              }
              choice.finishReason = choice.stops.reason === "stop" ? "stop" : result.reason;
              hooks.choiceDone(choice);
              if (--remaining === 0) end(undefined);
              return;
            }
            if (result.reason === "cancelled") return; // the client left (or a sibling failed)
            end(failure(result, ctx));
          },
        },
      );
    } catch (e) {
      end(e instanceof ServeError ? e : new ServeError("internal_error", String(e), { cause: e }));
    }
  }
  return choices;
}

/** The pending list of a token without logprobs: shared, never pushed to (an empty array per token would feed the GC). */
const NO_LOGPROBS: TokenLogprob[] = [];

/** How a sequence that did not complete becomes the request's error. */
function failure(result: SequenceResult, ctx: RouteContext): ServeError {
  if (result.error instanceof ServeError) return result.error;
  switch (result.reason) {
    case "timeout":
      return new ServeError("generation_timeout", `The request did not finish in time: expected it within ${Math.round(ctx.deadline - ctx.arrival)} ms, found ${result.generatedTokens} tokens generated by then.`);
    case "shutdown":
      return new ServeError("shutting_down", "The server is shutting down: expected to finish this request, found no time left.", { retryAfter: 5 });
    default: {
      const cause = result.error;
      return new ServeError("internal_error", `The model failed while running this request: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    }
  }
}

/** OpenAI's usage object; prompt tokens count once per prompt however many choices it has. */
export function usageOf(choices: readonly Choice[], prompts: readonly PromptRun[]): {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details: { cached_tokens: number };
} {
  const promptTokens = prompts.reduce((s, p) => s + p.ids.length, 0);
  const completion = choices.reduce((s, c) => s + (c.result?.generatedTokens ?? 0), 0);
  const seen = new Set<number>();
  let cached = 0;
  for (const c of choices) {
    if (seen.has(c.promptIndex)) continue;
    seen.add(c.promptIndex);
    cached += c.result?.cachedTokens ?? 0;
  }
  return { prompt_tokens: promptTokens, completion_tokens: completion, total_tokens: promptTokens + completion, prompt_tokens_details: { cached_tokens: cached } };
}
