import type { TokenLogprob } from "@zero-llm/sampling";
import { ServeError } from "../errors";
import { ChunkTemplate, SseStream, sendError, sendJson } from "../http/respond";
import type { TemplateMessage } from "../model/chat-template";
import type { ServedModel } from "../model/load";
import { fitContext, resolveModel, responseId, type RouteContext } from "./context";
import { Fields, invalidType, invalidValue, isObject, missing, type Json, type JsonObject } from "./fields";
import { runGeneration, usageOf, type Choice } from "./generate";
import { tokenJson } from "./logprobs";
import { planOutput, readResponseFormat } from "./output";
import { readGenerationParams } from "./sampling";
import { endStream } from "./stream-end";
import { ToolCallParser, type ToolEvent } from "./tools/parser";
import { readTools } from "./tools/read";

/**
 * POST /v1/chat/completions. The messages (and the request's tools) are rendered by the model's
 * chat template, tokenized with special tokens recognised (the template writes them), and
 * generated like a completion under the output plan (response_format, tool calls). Streaming
 * sends, per choice, a first chunk with the role, content or tool-call deltas, and a last chunk
 * with finish_reason; then, with stream_options.include_usage, one chunk with empty choices and
 * the usage (every earlier chunk carrying "usage": null); then `data: [DONE]`.
 *
 * Tool calls come back as OpenAI returns them: `message.tool_calls` ({id, type: "function",
 * function: {name, arguments}}) with `content: null` and finish_reason "tool_calls"; streamed,
 * a delta per call with its id and name, then its arguments in pieces as they are generated.
 */
export function chatCompletions(ctx: RouteContext): void {
  const f = Fields.of(ctx.body);
  const slot = resolveModel(ctx.models, f.string("model"));
  const { served, engine } = slot;
  const messages = readMessages(f);
  const params = readGenerationParams(f, "chat", served);
  const stream = f.boolean("stream") ?? false;
  const includeUsage = readStreamOptions(f, stream);
  const tools = readTools(f);
  const plan = planOutput(served, slot.constraints, readResponseFormat(f), tools);

  const prompt = renderPrompt(served, messages, tools?.tools);
  const maxTokens = fitContext(engine.ctx, prompt.length, params.maxTokens, "messages");
  const stops = plan.templateStops ? [...params.stop, ...served.chatTemplate.stop] : params.stop;
  const id = responseId("chatcmpl");
  const created = Math.floor(Date.now() / 1000);
  const head = { id, object: "chat.completion.chunk", created, model: served.id, system_fingerprint: fingerprint(served) };
  const prompts = [{ ids: prompt, maxTokens }];
  const withLogprobs = params.logprobs !== undefined;
  const outputs = new Map<number, ChatOutput>();
  const outputOf = (choice: Choice): ChatOutput => {
    let out = outputs.get(choice.index);
    if (!out) outputs.set(choice.index, (out = new ChatOutput(plan.toolCalls)));
    return out;
  };

  const sse = stream ? new SseStream(ctx.res, { ...ctx.sse, onStall: () => ctx.res.destroy() }) : undefined;
  const usageField = includeUsage ? { usage: null } : {};
  // a content chunk per token: serialized once per choice, the text spliced in
  const templates = new Map<number, ChunkTemplate>();
  const contentChunk = (index: number): ChunkTemplate => {
    let t = templates.get(index);
    if (!t) templates.set(index, (t = new ChunkTemplate((content) => ({ ...head, choices: [{ index, delta: { content }, logprobs: null, finish_reason: null }], ...usageField }))));
    return t;
  };
  const chunk = (index: number, delta: JsonObject, logprobs: readonly TokenLogprob[] | null, finishReason: string | null): void => {
    if (!sse) return;
    const lp = withLogprobs && logprobs ? { content: logprobs.map((t) => tokenJson(served.tokenizer, t)), refusal: null } : null;
    if (lp === null && finishReason === null && typeof delta.content === "string" && Object.keys(delta).length === 1) {
      sse.sendSerialized(contentChunk(index).with(delta.content));
      return;
    }
    sse.send({ ...head, choices: [{ index, delta, logprobs: lp, finish_reason: finishReason }], ...usageField });
  };
  const sendEvents = (choice: Choice, events: readonly ToolEvent[], logprobs: readonly TokenLogprob[]): void => {
    const out = outputOf(choice);
    out.pending.push(...logprobs);
    for (const event of events) {
      chunk(choice.index, deltaOf(event), out.pending, null);
      out.pending = [];
    }
    // logprobs of text that went out as nothing yet (held as a possible call's start) wait for the next chunk
    if (out.pending.length > 0 && plan.toolCalls === undefined) {
      chunk(choice.index, { content: "" }, out.pending, null);
      out.pending = [];
    }
  };

  const choices = runGeneration(ctx, slot, prompts, params, plan, stops, {
    admitted: () => {
      if (!sse) return;
      sse.open();
      // a turn that can only be calls has no content (OpenAI sends null then)
      for (let i = 0; i < params.n; i++) chunk(i, { role: "assistant", content: plan.toolCalls === "calls" ? null : "" }, null, null);
    },
    delta: (choice, text, logprobs) => {
      const events = outputOf(choice).push(text);
      if (sse) sendEvents(choice, events, logprobs);
    },
    choiceDone: (choice) => {
      const out = outputOf(choice);
      const events = out.finish();
      if (!sse) return;
      sendEvents(choice, events, []);
      chunk(choice.index, {}, out.pending.length > 0 ? out.pending : null, out.finishReason(choice));
    },
    done: (error) => {
      if (sse) return endStream(ctx.res, sse, error, includeUsage ? () => ({ ...head, choices: [], usage: usageOf(choices, prompts) }) : null);
      if (error) return sendError(ctx.res, error);
      sendJson(ctx.res, 200, {
        id,
        object: "chat.completion",
        created,
        model: served.id,
        system_fingerprint: head.system_fingerprint,
        choices: choices.map((c) => messageChoice(served, c, outputOf(c), withLogprobs)),
        usage: usageOf(choices, prompts),
      });
    },
  });
}

/** One choice's output as the chat route reads it: plain content, or content and tool calls. */
class ChatOutput {
  private readonly parser: ToolCallParser | undefined;
  private text = "";
  /** Logprobs not yet sent with a chunk. */
  pending: TokenLogprob[] = [];

  constructor(toolCalls: "auto" | "calls" | undefined) {
    this.parser = toolCalls ? new ToolCallParser(toolCalls) : undefined;
  }

  push(text: string): ToolEvent[] {
    if (this.parser) return this.parser.push(text);
    this.text += text;
    return text === "" ? [] : [{ kind: "content", text }];
  }

  finish(): ToolEvent[] {
    return this.parser ? this.parser.finish() : [];
  }

  get content(): string {
    return this.parser ? this.parser.content : this.text;
  }

  get toolCalls(): Json[] {
    return (this.parser?.calls ?? []).map((c) => ({ id: c.id, type: "function", function: { name: c.name, arguments: c.arguments } }));
  }

  /** "tool_calls" when the turn ended normally with calls; else the sequence's own reason. */
  finishReason(choice: Choice): string {
    const reason = choice.finishReason ?? "stop";
    return reason === "stop" && this.parser?.hasCalls ? "tool_calls" : reason;
  }
}

function deltaOf(event: ToolEvent): JsonObject {
  switch (event.kind) {
    case "content":
      return { content: event.text };
    case "call":
      return { tool_calls: [{ index: event.index, id: event.id, type: "function", function: { name: event.name, arguments: "" } }] };
    case "arguments":
      return { tool_calls: [{ index: event.index, function: { arguments: event.text } }] };
  }
}

function messageChoice(served: ServedModel, c: Choice, out: ChatOutput, withLogprobs: boolean): Json {
  const calls = out.toolCalls;
  const message: JsonObject = { role: "assistant", content: calls.length > 0 && out.content === "" ? null : out.content, refusal: null };
  if (calls.length > 0) message.tool_calls = calls;
  return {
    index: c.index,
    message,
    logprobs: withLogprobs ? { content: c.logprobs.map((t) => tokenJson(served.tokenizer, t)), refusal: null } : null,
    finish_reason: out.finishReason(c),
  };
}

/** A short, stable id of the model and server version (OpenAI's system_fingerprint). */
function fingerprint(served: ServedModel): string {
  return `zllm-${served.id}`;
}

/** stream_options.include_usage; stream_options without stream is a 400, as OpenAI answers it. */
export function readStreamOptions(f: Fields, stream: boolean): boolean {
  const options = f.object("stream_options");
  if (!options) return false;
  if (!stream) throw invalidValue("stream_options", "to be set only when stream is true", options.body);
  return options.boolean("include_usage") ?? false;
}

const ROLES = ["system", "developer", "user", "assistant", "tool"] as const;

/**
 * The messages as templates read them. Content may be a string or OpenAI's content parts (text
 * parts are joined; images and audio are a 400: these models read text). "developer" (OpenAI's
 * newer name for system) is passed to templates as "system", which they know. An assistant's
 * tool_calls are checked ({id, type "function", function {name, arguments}}) and passed on.
 */
export function readMessages(f: Fields): TemplateMessage[] {
  const list = f.array("messages");
  if (list === undefined) throw missing("messages");
  if (list.length === 0) throw invalidValue("messages", "at least one message", list);
  return list.map((m, i) => {
    const param = `messages[${i}]`;
    if (!isObject(m)) throw invalidType(param, "an object", m);
    const mf = new Fields(m, param);
    const role = mf.choice("role", ROLES);
    if (role === undefined) throw missing(`${param}.role`);
    const out: TemplateMessage = { role: role === "developer" ? "system" : role, content: readContent(mf, role) };
    const name = mf.string("name");
    if (name !== undefined) out.name = name;
    const toolCallId = mf.string("tool_call_id");
    if (toolCallId !== undefined) out.tool_call_id = toolCallId;
    const toolCalls = mf.array("tool_calls");
    if (toolCalls !== undefined) out.tool_calls = toolCalls.map((call, j) => readToolCall(call, `${param}.tool_calls[${j}]`));
    if (role === "tool" && toolCallId === undefined) throw missing(`${param}.tool_call_id`);
    return out;
  });
}

function readToolCall(call: unknown, param: string): JsonObject {
  if (!isObject(call)) throw invalidType(param, "a tool call object", call);
  const cf = new Fields(call, param);
  const id = cf.requiredString("id");
  const type = cf.string("type") ?? "function";
  if (type !== "function") throw invalidValue(`${param}.type`, "'function'", type);
  const fn = cf.object("function");
  if (!fn) throw missing(`${param}.function`);
  return { id, type, function: { name: fn.requiredString("name"), arguments: fn.requiredString("arguments") } };
}

function readContent(mf: Fields, role: string): string | null {
  const v = mf.raw("content");
  if (v === undefined) {
    // an assistant message may carry only tool_calls
    if (role === "assistant" && mf.has("tool_calls")) return null;
    throw missing(mf.name("content"));
  }
  if (typeof v === "string") return v;
  if (!Array.isArray(v)) throw invalidType(mf.name("content"), "a string or an array of content parts", v);
  return v
    .map((part, j) => {
      const param = `${mf.name("content")}[${j}]`;
      if (!isObject(part)) throw invalidType(param, "a content part object", part);
      const pf = new Fields(part, param);
      const type = pf.requiredString("type");
      if (type !== "text") {
        throw new ServeError("unsupported_parameter", `Unsupported content part type '${type}' in '${param}': this server's models read text only.`, { param });
      }
      return pf.requiredString("text");
    })
    .join("");
}

/** Template → text → ids, with the model's bos in front unless the template already wrote it. */
function renderPrompt(served: ServedModel, messages: TemplateMessage[], tools: readonly JsonObject[] | undefined): number[] {
  const text = served.chatTemplate.render(messages, { addGenerationPrompt: true, ...(tools && tools.length > 0 ? { tools } : {}) });
  const ids = served.tokenizer.encode(text, { allowedSpecial: "all" });
  if (served.bos !== undefined && ids[0] !== served.bos) ids.unshift(served.bos);
  return ids;
}
