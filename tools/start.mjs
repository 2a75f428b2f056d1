#!/usr/bin/env node
// `npm start`: install and build what is missing, then run the main job. Until the server
// exists (a later issue), the main job is the scalar autograd demo (its falling loss), then a
// continuation written by the embedded default model (models/default), so a new user sees both
// the engine learn and a trained transformer produce text, with no download.
// Arguments after `npm start --` go to the demo, as before.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const pnpm = (...args) => {
  const r = spawnSync(process.execPath, [join(root, "tools/pnpm.mjs"), ...args], { stdio: "inherit", cwd: root });
  if (r.status !== 0) process.exit(r.status ?? 1);
};
const zllm = (...args) => spawnSync(process.execPath, [join(root, "apps/cli/dist/cli.js"), ...args], { stdio: "inherit", cwd: root }).status ?? 1;

if (!existsSync(join(root, "node_modules/.modules.yaml"))) pnpm("install", "--frozen-lockfile");
pnpm("exec", "turbo", "run", "build", "--filter=@zero-llm/cli...", "--output-logs=errors-only");

const demo = zllm("autograd", "demo", ...process.argv.slice(2));

// A fixed seed, so every `npm start` shows the same text (MODEL.md lists it as the seed-1 sample).
const prompt = "The jury said";
process.stdout.write(`\n$ zllm generate --max-tokens 60 --temperature 0.8 --seed 1 "${prompt}"   (the embedded model, models/default)\n${prompt}`);
const generate = zllm("generate", "--max-tokens", "60", "--temperature", "0.8", "--seed", "1", prompt);

process.exit(demo !== 0 ? demo : generate);
