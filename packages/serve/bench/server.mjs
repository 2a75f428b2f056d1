// The server under test for bench/load.mjs, in its own process (clients and server do not share an
// event loop, as in a deployment): the embedded default model on the wasm backend. Prints its URL
// on the first line of stdout; stops on SIGTERM.
//   node bench/server.mjs [--threads 1] [--parallel 32]
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { createWasmBackend } from "@zero-llm/tensor";
import { createServer, loadServedModel } from "../dist/index.js";

const { values } = parseArgs({ options: { threads: { type: "string", default: "1" }, parallel: { type: "string", default: "32" } } });
const here = path.dirname(fileURLToPath(import.meta.url));
const backend = await createWasmBackend({ threads: Number(values.threads) });
const parallel = Number(values.parallel);
const served = await loadServedModel(path.resolve(here, "../../../models/default"), { backend, id: "default", maxBatchRows: Math.max(64, parallel) });
const server = createServer({ models: [served], engine: { parallel, queueSize: 1024 } });
const url = await server.listen(0);
process.stdout.write(`${url}\n`);
process.on("SIGTERM", async () => {
  await server.close(1000);
  await backend.dispose();
  process.exit(0);
});
