// The server under test for bench/load.mjs and bench/profile.mjs, in its own process (clients and
// server do not share an event loop, as in a deployment): a checkpoint on the wasm backend. Prints
// its URL on the first line of stdout, followed on Linux by " front-thread=TID" (the task id of
// the HTTP front thread, whose CPU time load.mjs reads from /proc); stops on SIGTERM. Lines on stdin drive V8's CPU profiler
// (bench/profile.mjs): "profile-start", then "profile-stop FILE" writes the .cpuprofile and
// answers "profiled" on stdout.
//   node bench/server.mjs [--threads 1] [--parallel 32] [--model PATH] [--draft-model PATH [--draft-max N] [--draft-p-min P]]
//                         [--prefill-chunk N] [--http worker|main]
import { readdirSync, writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { createWasmBackend } from "@zero-llm/tensor";
import { createServer, loadServedModel } from "../dist/index.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({
  options: {
    threads: { type: "string", default: "1" },
    parallel: { type: "string", default: "32" },
    model: { type: "string", default: path.resolve(here, "../../../models/default") },
    "draft-model": { type: "string" },
    "draft-max": { type: "string" },
    "draft-p-min": { type: "string" },
    "prefill-chunk": { type: "string" },
    // which thread speaks HTTP (ServerOptions.httpThread); left out, the server's default
    http: { type: "string" },
  },
});
const backend = await createWasmBackend({ threads: Number(values.threads) });
const parallel = Number(values.parallel);
const target = await loadServedModel(values.model, { backend, id: "default", maxBatchRows: Math.max(64, parallel) });
const draftFile = values["draft-model"];
const draft = draftFile
  ? {
      model: (await loadServedModel(draftFile, { backend, id: "draft", maxBatchRows: Math.max(64, parallel) })).model,
      source: draftFile,
      ...(values["draft-max"] ? { maxTokens: Number(values["draft-max"]) } : {}),
      ...(values["draft-p-min"] ? { pMin: Number(values["draft-p-min"]) } : {}),
    }
  : undefined;
const served = draft ? { ...target, draft } : target;
const prefillChunk = values["prefill-chunk"] ? { prefillChunk: Number(values["prefill-chunk"]) } : {};
const httpThread = values.http ? { httpThread: values.http } : {};
const server = createServer({ models: [served], engine: { parallel, queueSize: 1024, ...prefillChunk }, ...httpThread });
/** This process's threads (Linux task ids; none elsewhere). */
const tasks = () => {
  try {
    return new Set(readdirSync("/proc/self/task"));
  } catch {
    return new Set();
  }
};
const before = tasks();
const url = await server.listen(0);
// the thread listen() started is the front (none in --http main mode)
const started = [...tasks()].filter((t) => !before.has(t));
process.stdout.write(`${url}${started.length === 1 ? ` front-thread=${started[0]}` : ""}\n`);
const inspector = new Session();
inspector.connect();
createInterface({ input: process.stdin }).on("line", async (line) => {
  const [command, file] = line.trim().split(" ");
  if (command === "profile-start") {
    await inspector.post("Profiler.enable");
    await inspector.post("Profiler.start");
  } else if (command === "profile-stop") {
    const { profile } = await inspector.post("Profiler.stop");
    writeFileSync(file, JSON.stringify(profile));
    process.stdout.write("profiled\n");
  }
});
process.on("SIGTERM", async () => {
  await server.close(1000);
  await backend.dispose();
  process.exit(0);
});
