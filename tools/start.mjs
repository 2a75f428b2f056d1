#!/usr/bin/env node
// `npm start`: install and build what is missing, then the main job: the OpenAI-compatible server
// (`zllm serve`) on 127.0.0.1 with the embedded default model (models/default), printing its URL
// (and serving the playground at / once apps/playground is built). Before it, two short shows of
// what the server runs on: the scalar autograd demo (its falling loss) and a continuation written
// by the embedded model. Arguments after `npm start --` go to `zllm serve` (e.g. `-- --port 9000`).
// Ctrl-C stops the server gracefully (a second Ctrl-C at once).
import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const pnpm = (...args) => {
  const r = spawnSync(process.execPath, [join(root, "tools/pnpm.mjs"), ...args], { stdio: "inherit", cwd: root });
  if (r.status !== 0) process.exit(r.status ?? 1);
};
const cli = join(root, "apps/cli/dist/cli.js");
const zllm = (...args) => spawnSync(process.execPath, [cli, ...args], { stdio: "inherit", cwd: root }).status ?? 1;

if (!existsSync(join(root, "node_modules/.modules.yaml"))) pnpm("install", "--frozen-lockfile");
pnpm("exec", "turbo", "run", "build", "--filter=@zero-llm/cli...", "--output-logs=errors-only");

process.stdout.write("$ zllm autograd demo   (a 2-16-16-1 MLP of scalar Values learning two half-moons)\n");
const demo = zllm("autograd", "demo");
if (demo !== 0) process.exit(demo);

// A fixed seed, so every `npm start` shows the same text (MODEL.md lists it as the seed-1 sample).
const prompt = "The jury said";
process.stdout.write(`\n$ zllm generate --max-tokens 60 --temperature 0.8 --seed 1 "${prompt}"   (the embedded model, models/default)\n${prompt}`);
const generated = zllm("generate", "--max-tokens", "60", "--temperature", "0.8", "--seed", "1", prompt);
if (generated !== 0) process.exit(generated);

process.stdout.write("\n$ zllm serve   (OpenAI-compatible; try the curl line below, Ctrl-C to stop)\n");
const server = spawn(process.execPath, [cli, "serve", ...process.argv.slice(2)], { stdio: ["ignore", "pipe", "inherit"], cwd: root });
server.stdout.on("data", (chunk) => {
  process.stdout.write(chunk);
  const url = /listening on (http:\/\/\S+)/.exec(chunk.toString())?.[1];
  if (url) {
    process.stdout.write(
      `\n  curl ${url}/v1/chat/completions -H 'Content-Type: application/json' \\\n` +
        `    -d '{"messages": [{"role": "user", "content": "What did the jury say?"}], "max_tokens": 40}'\n\n`,
    );
  }
});
// Ctrl-C reaches the whole process group: the server drains on its own; this script only waits.
// A SIGTERM sent to this script alone is passed on.
process.on("SIGINT", () => {});
process.on("SIGTERM", () => server.kill("SIGTERM"));
server.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
