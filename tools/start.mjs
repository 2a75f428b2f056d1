#!/usr/bin/env node
// `npm start`: install and build what is missing, then run the main job. Until the server
// exists (a later issue), the main job is the scalar autograd demo.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const pnpm = (...args) => {
  const r = spawnSync(process.execPath, [join(root, "tools/pnpm.mjs"), ...args], { stdio: "inherit", cwd: root });
  if (r.status !== 0) process.exit(r.status ?? 1);
};

if (!existsSync(join(root, "node_modules/.modules.yaml"))) pnpm("install", "--frozen-lockfile");
pnpm("exec", "turbo", "run", "build", "--filter=@zero-llm/cli...", "--output-logs=errors-only");
const cli = spawnSync(process.execPath, [join(root, "apps/cli/dist/cli.js"), "autograd", "demo", ...process.argv.slice(2)], {
  stdio: "inherit",
  cwd: root,
});
process.exit(cli.status ?? 1);
