import { ServeError } from "../errors";
import { ChunkTemplate, SseStream, sendError, sendJson } from "../http/respond";
import type { ServedModel } from "../model/load";
import { readStreamOptions } from "./chat";
import { fitContext, resolveModel, responseId, type RouteContext } from "./context";
import { Fields, invalidType, invalidValue, missing, type Json } from "./fields";
import { runGeneration, usageOf, type PromptRun } from "./generate";
import { completionLogprobs } from "./logprobs";
import { planOutput, readResponseFormat } from "./output";
import { readGenerationParams } from "./sampling";
import { endStream } from "./stream-end";

/**
 * POST /v1/completions (OpenAI's legacy text completions). `prompt` is a string, an array of
 * strings, an array of token ids or an array of such arrays; each prompt gets `n` choices,
 * indexed prompt-major as OpenAI does. Text prompts are tokenized with special tokens recognised
 * ("<|endoftext|>" in the text is that token, as llama.cpp's server reads it) and the model's bos
 * in front when it uses one. `response_format` (JSON, a JSON Schema) is honoured here too, an
 * extension: OpenAI's legacy endpoint has no such field.
 */
export function completions(ctx: RouteContext): void {
  const f = Fields.of(ctx.body);
  const slot = resolveModel(ctx.models, f.string("model"));
  const { served, engine } = slot;
  const prompts = readPrompts(f, served);
  const params = readGenerationParams(f, "completions", served);
  const plan = planOutput(served, slot.constraints, readResponseFormat(f), undefined);
  const stream = f.boolean("stream") ?? false;
  const includeUsage = readStreamOptions(f, stream);
  const echo = f.boolean("echo") ?? false;
  if (prompts.length * params.n > MAX_CHOICES) {
    throw invalidValue("prompt", `at most ${MAX_CHOICES} choices in all (prompts × n = ${prompts.length} × ${params.n})`, f.raw("prompt"));
  }
  const runs: PromptRun[] = prompts.map((p, i) => ({
    ids: p.ids,
    maxTokens: fitContext(engine.ctx, p.ids.length, params.maxTokens, prompts.length > 1 ? `prompt[${i}]` : "prompt"),
  }));

  const id = responseId("cmpl");
  const created = Math.floor(Date.now() / 1000);
  const head = { id, object: "text_completion", created, model: served.id, system_fingerprint: `zllm-${served.id}` };
  const sse = stream ? new SseStream(ctx.res, { ...ctx.sse, onStall: () => ctx.res.destroy() }) : undefined;
  const usageField = includeUsage ? { usage: null } : {};
  const withLogprobs = params.logprobs !== undefined;
  const echoed = (promptIndex: number): string => (echo ? prompts[promptIndex].text : "");
  // streamed logprobs count text offsets per choice as the text goes out
  const streamedChars = new Map<number, number>();
  // a content chunk per token: serialized once per choice, the text spliced in
  const templates = new Map<number, ChunkTemplate>();
  const textChunk = (index: number): ChunkTemplate => {
    let t = templates.get(index);
    if (!t) templates.set(index, (t = new ChunkTemplate((text) => ({ ...head, choices: [{ text, index, logprobs: null, finish_reason: null }], ...usageField }))));
    return t;
  };

  const choices = runGeneration(ctx, slot, runs, params, plan, params.stop, {
    admitted: () => {
      if (!sse) return;
      sse.open();
      if (!echo) return;
      for (let i = 0; i < runs.length * params.n; i++) {
        const text = echoed(Math.floor(i / params.n));
        streamedChars.set(i, text.length);
        sse.send({ ...head, choices: [{ text, index: i, logprobs: null, finish_reason: null }], ...usageField });
      }
    },
    delta: (choice, text, logprobs) => {
      if (!sse) return;
      if (!withLogprobs) {
        sse.sendSerialized(textChunk(choice.index).with(text));
        return;
      }
      const offset = streamedChars.get(choice.index) ?? 0;
      streamedChars.set(choice.index, offset + text.length);
      const lp = completionLogprobs(served.tokenizer, logprobs, offset);
      sse.send({ ...head, choices: [{ text, index: choice.index, logprobs: lp, finish_reason: null }], ...usageField });
    },
    choiceDone: (choice) => {
      sse?.send({ ...head, choices: [{ text: "", index: choice.index, logprobs: null, finish_reason: choice.finishReason }], ...usageField });
    },
    done: (error) => {
      if (sse) return endStream(ctx.res, sse, error, includeUsage ? () => ({ ...head, choices: [], usage: usageOf(choices, runs) }) : null);
      if (error) return sendError(ctx.res, error);
      sendJson(ctx.res, 200, {
        ...head,
        choices: choices.map((c): Json => {
          const prefix = echoed(c.promptIndex);
          return {
            text: prefix + c.content,
            index: c.index,
            logprobs: withLogprobs ? completionLogprobs(served.tokenizer, c.logprobs, prefix.length) : null,
            finish_reason: c.finishReason ?? "stop",
          };
        }),
        usage: usageOf(choices, runs),
      });
    },
  });
}

/** Sequences one request may start (prompts × n). */
export const MAX_CHOICES = 64;

interface Prompt {
  ids: number[];
  /** What echo returns: the text as given, or the ids decoded. */
  text: string;
}

function readPrompts(f: Fields, served: ServedModel): Prompt[] {
  const v = f.raw("prompt");
  if (v === undefined) throw missing("prompt");
  const vocab = served.model.config.vocabSize;
  const fromText = (text: string): Prompt => {
    const ids = served.tokenizer.encode(text, { allowedSpecial: "all" });
    if (served.bos !== undefined && ids[0] !== served.bos) ids.unshift(served.bos);
    return { ids, text };
  };
  const fromIds = (list: unknown[], param: string): Prompt => {
    const ids = list.map((x, i) => {
      if (typeof x !== "number" || !Number.isInteger(x)) throw invalidType(`${param}[${i}]`, "an integer token id", x);
      if (x < 0 || x >= vocab) throw invalidValue(`${param}[${i}]`, `a token id in [0, ${vocab})`, x);
      return x;
    });
    return { ids, text: served.tokenizer.decode(ids) };
  };
  let prompts: Prompt[];
  if (typeof v === "string") prompts = [fromText(v)];
  else if (!Array.isArray(v) || v.length === 0) throw invalidType("prompt", "a string, an array of strings, or token ids", v);
  else if (v.every((x) => typeof x === "string")) prompts = v.map(fromText);
  else if (v.every((x) => typeof x === "number")) prompts = [fromIds(v, "prompt")];
  else if (v.every((x) => Array.isArray(x))) prompts = (v as unknown[][]).map((ids, i) => fromIds(ids, `prompt[${i}]`));
  else throw invalidType("prompt", "a string, an array of strings, an array of token ids, or an array of such arrays (not a mix)", v);
  prompts.forEach((p, i) => {
    if (p.ids.length === 0) {
      throw new ServeError("invalid_value", `Invalid value for '${prompts.length > 1 ? `prompt[${i}]` : "prompt"}': expected at least 1 token, found none (this model adds no bos token).`, { param: "prompt" });
    }
  });
  return prompts;
}
