import { ServeError } from "../errors";
import { sendError, sendJson } from "../http/respond";
import type { SequenceHandle } from "../engine/sequence";
import { resolveModel, type RouteContext } from "./context";
import { Fields, invalidType, invalidValue, missing } from "./fields";

/** Inputs one embeddings request may carry (OpenAI allows 2048). */
export const MAX_EMBEDDING_INPUTS = 2048;

/**
 * POST /v1/embeddings. The embedding of a text is the mean over its positions of the model's
 * final hidden state (after the last block and the final norm: the vector the classifier reads),
 * scaled to unit Euclidean length, the same as llama.cpp's `--embeddings --pooling mean`. With the
 * model's bos in front when it uses one, as for completions. Its length is the model's width
 * (`dim`); `dimensions` other than that is a 400 (these models are not trained to be truncated).
 * A text longer than the context is a 400, never truncated.
 */
export function embeddings(ctx: RouteContext): void {
  const f = Fields.of(ctx.body);
  const slot = resolveModel(ctx.models, f.string("model"));
  const { served, engine } = slot;
  const dim = served.model.config.dim;
  const format = f.choice("encoding_format", ["float", "base64"]) ?? "float";
  const dimensions = f.number("dimensions", { integer: true, min: 1 });
  if (dimensions !== undefined && dimensions !== dim) {
    throw invalidValue("dimensions", `${dim} (this model's embedding width; shortening is not supported)`, dimensions);
  }
  const inputs = readInputs(f, served.model.config.vocabSize, (text) => {
    const ids = served.tokenizer.encode(text, { allowedSpecial: "all" });
    if (served.bos !== undefined && ids[0] !== served.bos) ids.unshift(served.bos);
    return ids;
  });
  inputs.forEach((ids, i) => {
    if (ids.length > engine.ctx) {
      throw new ServeError(
        "context_length_exceeded",
        `This model's maximum context length is ${engine.ctx} tokens per sequence, but input[${i}] resulted in ${ids.length} tokens. Please reduce the length of the input.`,
        { param: "input" },
      );
    }
  });

  // one input at a time: a request of many inputs takes one place in the engine, not the whole queue
  const vectors: Float32Array[] = [];
  let handle: SequenceHandle | undefined;
  let over = false;
  ctx.onClientGone(() => {
    over = true;
    handle?.cancel();
  });
  const fail = (error: ServeError): void => {
    over = true;
    sendError(ctx.res, error);
  };
  const submit = (i: number): void => {
    if (over) return;
    if (i === inputs.length) {
      over = true;
      const promptTokens = inputs.reduce((s, ids) => s + ids.length, 0);
      sendJson(ctx.res, 200, {
        object: "list",
        data: vectors.map((v, index) => ({ object: "embedding", index, embedding: format === "base64" ? base64(v) : Array.from(v) })),
        model: served.id,
        usage: { prompt_tokens: promptTokens, total_tokens: promptTokens },
      });
      return;
    }
    try {
      handle = engine.submit(
        { prompt: inputs[i], maxTokens: 0, embed: true, deadline: ctx.deadline, arrival: ctx.arrival, ...(slot.adapter ? { weights: slot.adapter.weights } : {}) },
        {
          embedding: (v) => vectors.push(v),
          finished: (result) => {
            if (over || result.reason === "cancelled") return;
            if (result.reason !== "stop") {
              fail(result.error instanceof ServeError ? result.error : failure(result.reason, result.error));
              return;
            }
            // after the engine's step returns, not inside it
            queueMicrotask(() => submit(i + 1));
          },
        },
      );
    } catch (e) {
      fail(e instanceof ServeError ? e : new ServeError("internal_error", String(e), { cause: e }));
    }
  };
  submit(0);
}

function failure(reason: string, cause: unknown): ServeError {
  if (reason === "timeout") return new ServeError("generation_timeout", "The embeddings did not finish in time.");
  if (reason === "shutdown") return new ServeError("shutting_down", "The server is shutting down.", { retryAfter: 5 });
  return new ServeError("internal_error", `The model failed while embedding: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
}

/** OpenAI's base64 format: the float32 values, little-endian, base64-encoded. */
function base64(v: Float32Array): string {
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("base64");
}

/** input: a string, an array of strings, an array of token ids, or an array of such arrays. */
function readInputs(f: Fields, vocab: number, encode: (text: string) => number[]): number[][] {
  const v = f.raw("input");
  if (v === undefined) throw missing("input");
  const text = (s: string, param: string): number[] => {
    if (s === "") throw invalidValue(param, "a non-empty string", s);
    return encode(s);
  };
  const ids = (list: unknown[], param: string): number[] => {
    if (list.length === 0) throw invalidValue(param, "at least one token id", list);
    return list.map((x, i) => {
      if (typeof x !== "number" || !Number.isInteger(x)) throw invalidType(`${param}[${i}]`, "an integer token id", x);
      if (x < 0 || x >= vocab) throw invalidValue(`${param}[${i}]`, `a token id in [0, ${vocab})`, x);
      return x;
    });
  };
  let inputs: number[][];
  if (typeof v === "string") inputs = [text(v, "input")];
  else if (!Array.isArray(v) || v.length === 0) throw invalidType("input", "a non-empty string or array", v);
  else if (v.every((x) => typeof x === "string")) inputs = v.map((s, i) => text(s, `input[${i}]`));
  else if (v.every((x) => typeof x === "number")) inputs = [ids(v, "input")];
  else if (v.every((x) => Array.isArray(x))) inputs = (v as unknown[][]).map((x, i) => ids(x, `input[${i}]`));
  else throw invalidType("input", "a string, an array of strings, an array of token ids, or an array of such arrays (not a mix)", v);
  if (inputs.length > MAX_EMBEDDING_INPUTS) throw invalidValue("input", `at most ${MAX_EMBEDDING_INPUTS} inputs`, v);
  return inputs;
}
