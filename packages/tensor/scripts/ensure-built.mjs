// Runs the package build (scripts/build-wasm.mjs, then tsup) when dist/ is missing or older than
// its sources, so `pnpm bench` works from a fresh clone: the benchmarks import ../dist/index.js
// (the bundle users get, workers and all), not the TypeScript sources.
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const pkg = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const bundles = ["dist/index.js", "dist/index.cjs"].map((file) => path.join(pkg, file));
const sources = ["src", "assembly", "scripts/build-wasm.mjs", "tsup.config.ts", "package.json"].map((file) => path.join(pkg, file));

function newestChange(file) {
  const stat = statSync(file);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = 0;
  for (const entry of readdirSync(file)) {
    // the generated module is an output of build-wasm, not a source
    if (entry === "generated") continue;
    newest = Math.max(newest, newestChange(path.join(file, entry)));
  }
  return newest;
}

const missing = bundles.filter((file) => !existsSync(file));
const built = missing.length === 0 ? Math.min(...bundles.map((file) => statSync(file).mtimeMs)) : 0;
const stale = missing.length === 0 && Math.max(...sources.filter(existsSync).map(newestChange)) > built;
if (missing.length > 0 || stale) {
  console.log(`ensure-built: ${missing.length > 0 ? "dist/ is missing" : "dist/ is older than its sources"}; building`);
  const require = createRequire(path.join(pkg, "package.json"));
  const tsupPackage = require.resolve("tsup/package.json");
  const tsup = path.join(path.dirname(tsupPackage), require(tsupPackage).bin.tsup);
  execFileSync(process.execPath, [path.join(pkg, "scripts/build-wasm.mjs")], { cwd: pkg, stdio: "inherit" });
  execFileSync(process.execPath, [tsup], { cwd: pkg, stdio: "inherit" });
}
