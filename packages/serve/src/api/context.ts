import type { IncomingMessage, ServerResponse } from "node:http";
import type { Engine } from "../engine/engine";
import { ServeError } from "../errors";
import type { SseOptions } from "../http/respond";
import type { ServerMetrics } from "../metrics";
import type { ServedModel } from "../model/load";

/** A loaded model and the engine that runs it. */
export interface ModelSlot {
  readonly served: ServedModel;
  readonly engine: Engine;
}

/** What a route handler gets: the exchange, the parsed body, the models and the server's limits. */
export interface RouteContext {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  /** The JSON body (POST routes), not yet checked beyond being JSON. */
  readonly body: unknown;
  readonly models: ReadonlyMap<string, ModelSlot>;
  readonly metrics: ServerMetrics;
  /** Engine clock (performance.now ms) when the request arrived, and when it must be done. */
  readonly arrival: number;
  readonly deadline: number;
  readonly sse: Omit<SseOptions, "onStall">;
  /** Runs `fn` if the client goes away before the response is complete. */
  onClientGone(fn: () => void): void;
}

/**
 * The model a request names. Absent: the first loaded model (a convenience for curl; OpenAI
 * requires the field). "base+adapter" names a LoRA adapter on a base model: none is loaded in
 * this version, so it is unknown like any other name.
 */
export function resolveModel(models: ReadonlyMap<string, ModelSlot>, name: string | undefined): ModelSlot {
  if (name === undefined) {
    const first = models.values().next();
    if (first.done) throw new ServeError("model_not_found", "No model is loaded.");
    return first.value;
  }
  const slot = models.get(name);
  if (!slot) {
    const loaded = [...models.keys()].map((k) => `'${k}'`).join(", ");
    throw new ServeError("model_not_found", `The model '${name}' does not exist: expected one of the loaded models (${loaded}).`, { param: "model" });
  }
  return slot;
}

/**
 * The prompt must leave room for the completion within the per-sequence context, else a 400 that
 * states the context and the prompt's token count (never a silent truncation). Returns the
 * number of new tokens to allow: `maxTokens`, or the rest of the context when it is undefined.
 */
export function fitContext(ctx: number, promptTokens: number, maxTokens: number | undefined, promptParam: string): number {
  if (maxTokens === undefined) {
    if (promptTokens < ctx) return ctx - promptTokens;
    throw new ServeError(
      "context_length_exceeded",
      `This model's maximum context length is ${ctx} tokens per sequence, but your ${promptParam} resulted in ${promptTokens} tokens, ` +
        `leaving no room for a completion. Please reduce the length of the ${promptParam}.`,
      { param: promptParam },
    );
  }
  if (promptTokens + maxTokens <= ctx) return maxTokens;
  const param = promptTokens >= ctx ? promptParam : "max_tokens";
  throw new ServeError(
    "context_length_exceeded",
    `This model's maximum context length is ${ctx} tokens per sequence, but you requested ${promptTokens + maxTokens} tokens ` +
      `(${promptTokens} in the ${promptParam}, ${maxTokens} for the completion). Please reduce the length of the ${promptParam} or max_tokens.`,
    { param },
  );
}

/** "chatcmpl-…" / "cmpl-…": 24 random base-36 characters. */
export function responseId(prefix: string): string {
  let id = "";
  while (id.length < 24) id += Math.floor(Math.random() * 36 ** 6).toString(36).padStart(6, "0");
  return `${prefix}-${id.slice(0, 24)}`;
}
