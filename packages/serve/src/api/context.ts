import type { Engine } from "../engine/engine";
import { ServeError } from "../errors";
import type { HttpRequest, HttpResponse } from "../http/exchange";
import type { SseOptions } from "../http/respond";
import type { ServerMetrics } from "../metrics";
import type { ConstraintCache } from "../model/constraints";
import type { ServedAdapter, ServedModel } from "../model/load";

/**
 * A loaded model as requests reach it: its weights and tokenizer, the engine that runs it, and
 * its compiled output constraints. A request for "base+adapter" gets the base's slot with the
 * adapter set (and `served.id` reading "base+adapter", the name responses echo): the same engine,
 * so base and adapted sequences batch together.
 */
export interface ModelSlot {
  readonly served: ServedModel;
  readonly engine: Engine;
  readonly constraints: ConstraintCache;
  /** The adapter the request named, when it named one. */
  readonly adapter?: ServedAdapter;
}

/** What a route handler gets: the exchange, the parsed body, the models and the server's limits. */
export interface RouteContext {
  readonly req: HttpRequest;
  readonly res: HttpResponse;
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

/** Every name a request may put in "model": each loaded model, and "model+adapter" for each of its adapters. */
export function modelNames(models: ReadonlyMap<string, ModelSlot>): string[] {
  const names: string[] = [];
  for (const [id, slot] of models) {
    names.push(id);
    for (const name of slot.served.adapters?.keys() ?? []) names.push(`${id}+${name}`);
  }
  return names;
}

/**
 * The model a request names. Absent: the first loaded model (a convenience for curl; OpenAI
 * requires the field). "base+adapter" is a LoRA adapter loaded for that base (`--lora
 * NAME=DIR`): the base's slot with the adapter. An unknown name is a 404 listing the known ones.
 */
export function resolveModel(models: ReadonlyMap<string, ModelSlot>, name: string | undefined): ModelSlot {
  if (name === undefined) {
    const first = models.values().next();
    if (first.done) throw new ServeError("model_not_found", "No model is loaded.");
    return first.value;
  }
  const slot = models.get(name);
  if (slot) return slot;
  const plus = name.indexOf("+");
  const base = plus > 0 ? models.get(name.slice(0, plus)) : undefined;
  const adapter = base?.served.adapters?.get(name.slice(plus + 1));
  if (base && adapter) return { ...base, served: { ...base.served, id: name }, adapter };
  const known = modelNames(models).map((k) => `'${k}'`).join(", ");
  throw new ServeError("model_not_found", `The model '${name}' does not exist: expected one of the loaded models or model+adapter names (${known}).`, { param: "model" });
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
