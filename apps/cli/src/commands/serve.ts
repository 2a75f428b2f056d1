import { existsSync } from "node:fs";
import path from "node:path";
import { createServer, defaultId, loadServedModel, type ServedModel } from "@zero-llm/serve";
import { CliError, UsageError, defineCommand, type Command, type CommandIO, type FlagTable, type ParsedArgs } from "../command";
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
    const server = createServer({
      models,
      engine: { parallel, prefillChunk, queueSize: args.flags.queue, ...(ctx !== undefined ? { ctx } : {}) },
      ...(apiKey !== undefined ? { apiKey } : {}),
      ...(args.flags.cors !== undefined ? { cors: args.flags.cors } : {}),
      requestTimeoutMs: args.flags.timeout * 1000,
      ...(staticDir !== undefined ? { staticDir } : {}),
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
      io.stderr.write(
        `zllm serve: model ${served.id} (${served.source}): ${served.model.config.arch}, context ${engine.ctx} tokens per sequence, ` +
          `${engine.parallel} in parallel, KV cache ${(engine.kvCapacityBytes / 2 ** 20).toFixed(1)} MiB, chat template: ${served.chatTemplate.origin}\n`,
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
    usage: "serve [--model [NAME=]PATH]… [--host 127.0.0.1] [--port 8080] [--parallel N] [--ctx N] [--api-key K] [--cors ORIGIN]",
    flags: SERVE_FLAGS,
    positionals: { min: 0, max: 0 },
    run: (args, io) => runServe(args, io, signals),
  });
}

export const serveCommand = makeServeCommand();
