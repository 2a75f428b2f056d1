import { existsSync } from "node:fs";
import path from "node:path";
import {
  DRAFT_MAX_TOKENS_DEFAULT, DRAFT_P_MIN_DEFAULT, createServer, defaultId, loadServedModel, withAdapters, type AdapterToServe, type ServedModel,
} from "@zero-llm/serve";
import { CliError, UsageError, defineCommand, type Command, type CommandIO, type FlagTable, type ParsedArgs } from "../command";
import { parseLoraValue, readLoraChoices } from "./lora-io";
import { DEFAULT_MODEL_PATH, MODEL_FLAGS, cacheTypesOf, chooseBackend, modelFile } from "./model-io";

/**
 * `zllm serve`: the OpenAI-compatible server (@zero-llm/serve) on the given models, until SIGINT
 * or SIGTERM. It prints the URL once it listens. The first signal drains: new requests get 503,
 * running ones get up to --grace seconds to finish, then the rest are cancelled; a second signal
 * cancels at once.
 */

/** The playground's built files (apps/playground/dist), served under / when they exist. */
const PLAYGROUND_DIST = path.resolve(DEFAULT_MODEL_PATH, "../../apps/playground/dist");

export const SERVE_FLAGS = {
  model: {
    type: "strings",
    description: "a checkpoint to serve (GGUF, Hugging Face directory), as PATH or NAME=PATH; the name is what requests put in \"model\" (default: the file name); default the embedded model, named default",
  },
  lora: {
    type: "strings",
    description: "a LoRA adapter requests can pick with \"model\": \"MODEL+NAME\": [MODEL+]NAME=DIR[:scale], DIR a PEFT adapter directory (zllm lora train writes one) or a llama.cpp .gguf adapter; MODEL defaults to the first --model; repeatable; each adapter is loaded once and applies only to the requests that name it",
  },
  backend: MODEL_FLAGS.backend,
  threads: MODEL_FLAGS.threads,
  "cache-type-k": MODEL_FLAGS["cache-type-k"],
  "cache-type-v": MODEL_FLAGS["cache-type-v"],
  host: { type: "string", description: "address to listen on (0.0.0.0: every interface)", default: "127.0.0.1" },
  port: { type: "number", description: "TCP port (0: any free port)", integer: true, min: 0, max: 65535, default: 8080 },
  parallel: { type: "number", description: "sequences decoded together (the batch); the KV-cache budget holds this many full contexts", integer: true, min: 1, max: 256, default: 8 },
  ctx: { type: "number", description: "context per sequence, prompt + completion (default: each model's own)", integer: true, min: 2, max: 1 << 24 },
  "api-key": { type: "string", description: "require 'Authorization: Bearer KEY' on every route but /health (default: $ZLLM_API_KEY, else none)" },
  cors: { type: "string", description: "let browser pages from this origin (or *) call the API (default: no CORS)" },
  queue: { type: "number", description: "requests that may wait for room before new ones get 429", integer: true, min: 0, max: 100_000, default: 64 },
  timeout: { type: "number", description: "seconds a request may take, queue and generation included", min: 1, max: 86_400, default: 600 },
  grace: { type: "number", description: "seconds running requests get to finish on SIGINT/SIGTERM", min: 0, max: 3600, default: 10 },
  static: { type: "string", description: "directory served under / (default: apps/playground/dist when built)" },
  "http-thread": {
    type: "string",
    description: "where HTTP runs: worker (a front thread parses requests and writes to the sockets while the engine decodes) or main (the engine's thread, between its steps)",
    choices: ["worker", "main"],
    default: "worker",
  },
  "draft-model": {
    type: "string",
    description: "speculative decoding in the batch loop: a smaller checkpoint with the models' vocabulary drafts tokens for every sequence, the model checks them all in one pass (the same tokens as without, for any seed)",
  },
  "draft-max": { type: "number", description: `most draft tokens per sequence and step (default ${DRAFT_MAX_TOKENS_DEFAULT})`, integer: true, min: 1, max: 63 },
  "draft-p-min": { type: "number", description: `a sequence stops drafting when the draft gives its next token less than this probability (default ${DRAFT_P_MIN_DEFAULT}, as llama.cpp)`, min: 0, max: 1 },
} as const satisfies FlagTable;

/** "NAME=PATH" or "PATH" (a path may itself hold "=" only after a name). */
function parseModelSpec(spec: string): { id: string; file: string } {
  const eq = spec.indexOf("=");
  if (eq > 0 && !spec.slice(0, eq).includes("/")) {
    const id = spec.slice(0, eq);
    const file = spec.slice(eq + 1);
    if (!/^[A-Za-z0-9._:-]+$/.test(id)) throw new UsageError(`--model ${spec}: expected a name of letters, digits, '.', '_', ':' or '-' before '=', found "${id}"`);
    if (file === "") throw new UsageError(`--model ${spec}: expected a path after '=', found none`);
    return { id, file };
  }
  return { id: defaultId(spec), file: spec };
}

/**
 * A draft must speak the model's vocabulary: the same number of ids, the same bytes for every id
 * and the same end-of-generation ids (as `zllm generate --draft-model` checks). A token that means
 * something else to the draft would be proposed as one token and judged as another: never wrong
 * output (the model's own choice decides), but every draft rejected.
 */
function checkSameVocabulary(file: string, target: ServedModel, draft: ServedModel): void {
  const refuse = (found: string): never => {
    throw new UsageError(`--draft-model ${file}: expected the vocabulary of model ${target.id}, found ${found} (VOCAB_MISMATCH)`);
  };
  const V = target.model.config.vocabSize;
  if (draft.model.config.vocabSize !== V) refuse(`${draft.model.config.vocabSize} token ids where the model has ${V}`);
  const hex = (served: ServedModel, id: number): string => (id < served.tokenizer.vocabSize ? Buffer.from(served.tokenizer.tokenBytes(id)).toString("hex") : "(none)");
  for (let id = 0; id < V; id++) {
    if (hex(target, id) !== hex(draft, id)) refuse(`token ${id} = ${target.tokenizer.tokenText(id)} in the model but ${draft.tokenizer.tokenText(id)} in the draft`);
  }
  if (target.endOfGeneration.join(",") !== draft.endOfGeneration.join(",")) {
    refuse(`end-of-generation ids [${draft.endOfGeneration.join(", ")}] where the model has [${target.endOfGeneration.join(", ")}]`);
  }
}

/**
 * `--lora [MODEL+]NAME=DIR[:scale]`: each adapter read once (PEFT directory or GGUF adapter, as
 * `--lora` on the model commands) for its model (default the first), which then serves
 * "MODEL+NAME" beside "MODEL". A value without "NAME=" is named after DIR.
 */
async function attachAdapters(models: ServedModel[], values: readonly string[], io: CommandIO): Promise<void> {
  const byModel = new Map<number, AdapterToServe[]>();
  for (const value of values) {
    const eq = value.indexOf("=");
    const named = eq > 0 && !value.slice(0, eq).includes("/");
    const target = named ? value.slice(0, eq) : "";
    const rest = named ? value.slice(eq + 1) : value;
    const plus = target.indexOf("+");
    const modelId = plus > 0 ? target.slice(0, plus) : models[0].id;
    const index = models.findIndex((m) => m.id === modelId);
    if (index < 0) throw new UsageError(`--lora ${value}: expected a loaded model before "+" (${models.map((m) => m.id).join(", ")}), found "${modelId}"`);
    if (rest === "") throw new UsageError(`--lora ${value}: expected [MODEL+]NAME=DIR[:scale], found no DIR after "="`);
    const { path: dir } = parseLoraValue(rest);
    const name = named ? target.slice(plus + 1) : defaultId(dir);
    if (!/^[A-Za-z0-9._:-]{1,64}$/.test(name)) {
      throw new UsageError(`--lora ${value}: expected an adapter name of letters, digits, '.', '_', ':' or '-' (at most 64), found "${name}"`);
    }
    const list = byModel.get(index) ?? [];
    if (list.some((a) => a.name === name)) throw new UsageError(`--lora: expected distinct adapter names for model ${modelId}, found "${name}" twice`);
    const [use] = await readLoraChoices([rest], models[index].model.config);
    list.push({ name, adapter: use.adapter, scale: use.scale ?? 1, source: dir });
    byModel.set(index, list);
  }
  for (const [index, adapters] of byModel) {
    models[index] = withAdapters(models[index], adapters);
    for (const a of models[index].adapters?.values() ?? []) {
      io.stderr.write(`zllm serve: adapter ${models[index].id}+${a.name} (${a.source}): rank ${a.rank}, ${a.modules} modules, scale ${a.scale}, ${(a.bytes / 2 ** 20).toFixed(2)} MiB\n`);
    }
  }
}

export interface ServeSignals {
  once(event: "SIGINT" | "SIGTERM", listener: () => void): unknown;
  off(event: "SIGINT" | "SIGTERM", listener: () => void): unknown;
}

async function runServe(args: ParsedArgs<typeof SERVE_FLAGS>, io: CommandIO, signals: ServeSignals): Promise<number> {
  const specs = (args.flags.model ?? []).map(parseModelSpec);
  if (specs.length === 0) specs.push({ id: "default", file: modelFile(undefined) });
  const ids = new Set<string>();
  for (const { id } of specs) {
    if (ids.has(id)) throw new UsageError(`--model: expected distinct model names, found "${id}" twice (name them: --model NAME=PATH)`);
    ids.add(id);
  }
  const { parallel, ctx } = args.flags;
  const apiKey = args.flags["api-key"] ?? (process.env.ZLLM_API_KEY || undefined);
  if (apiKey === "") throw new UsageError("--api-key: expected a non-empty key, found an empty string");
  const staticFlag = args.flags.static;
  if (staticFlag !== undefined && !existsSync(staticFlag)) throw new UsageError(`--static: expected a directory, found nothing at ${staticFlag}`);
  const staticDir = staticFlag ?? (existsSync(PLAYGROUND_DIST) ? PLAYGROUND_DIST : undefined);

  const { backend, note, dispose } = await chooseBackend({ backend: args.flags.backend, threads: args.flags.threads });
  try {
    if (note) io.stderr.write(`${note}\n`);
    const prefillChunk = 64;
    const models: ServedModel[] = [];
    for (const { id, file } of specs) {
      const served = await loadServedModel(file, { id, backend, maxBatchRows: Math.max(parallel, prefillChunk), cacheTypes: cacheTypesOf(args.flags) });
      if (ctx !== undefined && ctx > served.model.config.seqLen) {
        throw new UsageError(`--ctx: expected at most ${served.model.config.seqLen} tokens (the context of model ${id}), found ${ctx}`);
      }
      models.push(served);
    }
    await attachAdapters(models, args.flags.lora ?? [], io);
    const draftFile = args.flags["draft-model"];
    if (draftFile === undefined) {
      const stray = (["draft-max", "draft-p-min"] as const).find((name) => args.flags[name] !== undefined);
      if (stray !== undefined) throw new UsageError(`--${stray}: expected with --draft-model, found no --draft-model`);
    } else {
      const draft = await loadServedModel(draftFile, { id: "draft", backend, maxBatchRows: Math.max(parallel, prefillChunk) });
      const options = { model: draft.model, source: draftFile, maxTokens: args.flags["draft-max"] ?? DRAFT_MAX_TOKENS_DEFAULT, pMin: args.flags["draft-p-min"] ?? DRAFT_P_MIN_DEFAULT };
      for (let i = 0; i < models.length; i++) {
        checkSameVocabulary(draftFile, models[i], draft);
        models[i] = { ...models[i], draft: options };
      }
    }
    const server = createServer({
      models,
      engine: { parallel, prefillChunk, queueSize: args.flags.queue, ...(ctx !== undefined ? { ctx } : {}) },
      ...(apiKey !== undefined ? { apiKey } : {}),
      ...(args.flags.cors !== undefined ? { cors: args.flags.cors } : {}),
      requestTimeoutMs: args.flags.timeout * 1000,
      ...(staticDir !== undefined ? { staticDir } : {}),
      httpThread: args.flags["http-thread"] === "main" ? "main" : "worker",
      log: (line) => io.stderr.write(`zllm serve: ${line}\n`),
    });
    const { host } = args.flags;
    let url: string;
    try {
      url = await server.listen(args.flags.port, host);
    } catch (e) {
      const code = (e as { code?: string }).code;
      throw new CliError("CLI_LISTEN_FAILED", `serve: expected to listen on ${host}:${args.flags.port}, found ${code === "EADDRINUSE" ? "the port in use" : (e as Error).message}`, { cause: e });
    }
    const slots = [...server.models.values()];
    for (const { served, engine } of slots) {
      const drafting = engine.drafter ? `, draft ${served.draft?.source ?? "model"} (up to ${engine.drafter.maxTokens} tokens, p-min ${engine.drafter.pMin})` : "";
      io.stderr.write(
        `zllm serve: model ${served.id} (${served.source}): ${served.model.config.arch}, context ${engine.ctx} tokens per sequence, ` +
          `${engine.parallel} in parallel, KV cache ${(engine.kvCapacityBytes / 2 ** 20).toFixed(1)} MiB, chat template: ${served.chatTemplate.origin}${drafting}\n`,
      );
    }
    const loopback = host === "127.0.0.1" || host === "::1" || host === "localhost";
    if (!loopback && apiKey === undefined) {
      io.stderr.write(`zllm serve: warning: listening on ${host} without --api-key: anyone who can reach this port can use the models\n`);
    }
    io.stdout.write(`zllm serve: listening on ${url}  (OpenAI base URL: ${url}/v1${staticDir ? `; playground: ${url}/` : ""})\n`);

    await new Promise<void>((resolve) => {
      const first = (): void => {
        signals.off("SIGINT", first);
        signals.off("SIGTERM", first);
        signals.once("SIGINT", second);
        signals.once("SIGTERM", second);
        io.stderr.write(`zllm serve: shutting down (running requests get ${args.flags.grace} s; signal again to stop now)\n`);
        void server.close(args.flags.grace * 1000).then(resolve);
      };
      const second = (): void => {
        io.stderr.write("zllm serve: stopping now\n");
        void server.closeNow().then(resolve);
      };
      signals.once("SIGINT", first);
      signals.once("SIGTERM", first);
    });
    io.stderr.write("zllm serve: stopped\n");
    return 0;
  } finally {
    await dispose();
  }
}

export function makeServeCommand(signals: ServeSignals = process): Command<typeof SERVE_FLAGS> {
  return defineCommand({
    path: ["serve"],
    summary: "Serve models over an OpenAI-compatible HTTP API (continuous batching, streaming, metrics)",
    usage: "serve [--model [NAME=]PATH]… [--lora [MODEL+]NAME=DIR[:scale]]… [--host 127.0.0.1] [--port 8080] [--parallel N] [--ctx N] [--cache-type-k T] [--cache-type-v T] [--draft-model F [--draft-max N] [--draft-p-min P]] [--api-key K] [--cors ORIGIN]",
    flags: SERVE_FLAGS,
    positionals: { min: 0, max: 0 },
    run: (args, io) => runServe(args, io, signals),
  });
}

export const serveCommand = makeServeCommand();
