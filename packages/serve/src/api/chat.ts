import { ServeError } from "../errors";
import { SseStream, sendError, sendJson } from "../http/respond";
import type { TemplateMessage } from "../model/chat-template";
import type { ServedModel } from "../model/load";
import { fitContext, resolveModel, responseId, type RouteContext } from "./context";
import { Fields, invalidType, invalidValue, isObject, missing, type Json } from "./fields";
import { runGeneration, usageOf, type Choice } from "./generate";
import { tokenJson } from "./logprobs";
import { readGenerationParams } from "./sampling";

/**
 * POST /v1/chat/completions. The messages are rendered by the model's chat template, tokenized
 * with special tokens recognised (the template writes them), and generated like a completion.
 * Streaming sends, per choice, a first chunk with the role, content deltas, and a last chunk with
 * finish_reason; then, with stream_options.include_usage, one chunk with empty choices and the
 * usage (every earlier chunk carrying "usage": null); then `data: [DONE]`.
 */
export function chatCompletions(ctx: RouteContext): void {
  const f = Fields.of(ctx.body);
  const slot = resolveModel(ctx.models, f.string("model"));
  const { served, engine } = slot;
  const messages = readMessages(f);
  const params = readGenerationParams(f, "chat", served.model.config.vocabSize);
  const stream = f.boolean("stream") ?? false;
  const includeUsage = readStreamOptions(f, stream);

  const prompt = renderPrompt(served, messages);
  const maxTokens = fitContext(engine.ctx, prompt.length, params.maxTokens, "messages");
  const stops = [...params.stop, ...served.chatTemplate.stop];
  const id = responseId("chatcmpl");
  const created = Math.floor(Date.now() / 1000);
  const head = { id, object: "chat.completion.chunk", created, model: served.id, system_fingerprint: fingerprint(served) };
  const prompts = [{ ids: prompt, maxTokens }];
  const withLogprobs = params.logprobs !== undefined;

  const sse = stream ? new SseStream(ctx.res, { ...ctx.sse, onStall: () => ctx.res.destroy() }) : undefined;
  const usageField = includeUsage ? { usage: null } : {};
  const choices = runGeneration(ctx, slot, prompts, params, stops, {
    admitted: () => {
      if (!sse) return;
      sse.open();
      for (let i = 0; i < params.n; i++) {
        sse.send({ ...head, choices: [{ index: i, delta: { role: "assistant", content: "" }, logprobs: null, finish_reason: null }], ...usageField });
      }
    },
    delta: (choice, text, logprobs) => {
      if (!sse) return;
      const lp = withLogprobs ? { content: logprobs.map((t) => tokenJson(served.tokenizer, t)), refusal: null } : null;
      sse.send({ ...head, choices: [{ index: choice.index, delta: { content: text }, logprobs: lp, finish_reason: null }], ...usageField });
    },
    choiceDone: (choice) => {
      sse?.send({ ...head, choices: [{ index: choice.index, delta: {}, logprobs: null, finish_reason: choice.finishReason }], ...usageField });
    },
    done: (error) => {
      if (sse) {
        if (error) {
          if (!ctx.res.headersSent) return sendError(ctx.res, error);
          sse.send(error.toJSON());
        } else if (includeUsage) {
          sse.send({ ...head, choices: [], usage: usageOf(choices, prompts) });
        }
        sse.done();
        return;
      }
      if (error) return sendError(ctx.res, error);
      sendJson(ctx.res, 200, {
        id,
        object: "chat.completion",
        created,
        model: served.id,
        system_fingerprint: head.system_fingerprint,
        choices: choices.map((c) => messageChoice(served, c, withLogprobs)),
        usage: usageOf(choices, prompts),
      });
    },
  });
}

function messageChoice(served: ServedModel, c: Choice, withLogprobs: boolean): Json {
  return {
    index: c.index,
    message: { role: "assistant", content: c.content, refusal: null },
    logprobs: withLogprobs ? { content: c.logprobs.map((t) => tokenJson(served.tokenizer, t)), refusal: null } : null,
    finish_reason: c.finishReason ?? "stop",
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
 * newer name for system) is passed to templates as "system", which they know.
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
    if (toolCalls !== undefined) out.tool_calls = toolCalls;
    if (role === "tool" && toolCallId === undefined) throw missing(`${param}.tool_call_id`);
    return out;
  });
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
function renderPrompt(served: ServedModel, messages: TemplateMessage[]): number[] {
  const text = served.chatTemplate.render(messages, { addGenerationPrompt: true });
  const ids = served.tokenizer.encode(text, { allowedSpecial: "all" });
  if (served.bos !== undefined && ids[0] !== served.bos) ids.unshift(served.bos);
  return ids;
}
