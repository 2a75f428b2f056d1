#!/usr/bin/env node
// Runs the pnpm version pinned in package.json's `packageManager`, on a machine that has only
// Node and npm. A global pnpm of the same major is used when present; otherwise npx fetches the
// pinned version from the registry once and caches it. Corepack is not relied on: it needs
// registry signatures that some mirrors lack.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const pinned = JSON.parse(readFileSync(join(root, "package.json"), "utf8")).packageManager;
const match = /^pnpm@(\d+)\.(\d+)\.(\d+)/.exec(pinned ?? "");
if (!match) {
  console.error(`tools/pnpm.mjs: package.json packageManager must be pnpm@X.Y.Z, found ${pinned}`);
  process.exit(1);
}
const version = `${match[1]}.${match[2]}.${match[3]}`;
const args = process.argv.slice(2);
const shell = process.platform === "win32";

function globalPnpmMatches() {
  const probe = spawnSync("pnpm", ["--version"], { encoding: "utf8", shell });
  return probe.status === 0 && probe.stdout.trim() === version;
}

const env = { ...process.env, COREPACK_ENABLE_STRICT: "0", TURBO_TELEMETRY_DISABLED: "1", DO_NOT_TRACK: "1" };
const run = globalPnpmMatches()
  ? spawnSync("pnpm", args, { stdio: "inherit", cwd: process.cwd(), env, shell })
  : spawnSync("npx", ["--yes", `pnpm@${version}`, ...args], { stdio: "inherit", cwd: process.cwd(), env, shell });
if (run.error) {
  console.error(`tools/pnpm.mjs: could not start pnpm: ${run.error.message}`);
  process.exit(1);
}
process.exit(run.status ?? 1);
