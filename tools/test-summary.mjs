#!/usr/bin/env node
// Adds up the vitest JSON reports that each package's `test` task writes (test-results.json)
// and prints one closing line for the whole workspace: "N passed, N failed, N skipped".
import { readdirSync, readFileSync, existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
let passed = 0, failed = 0, skipped = 0;
const rows = [];
// every workspace package: packages/*, apps/* and docs (the guide, whose snippets run as tests)
const packageDirs = [];
for (const group of ["packages", "apps"]) {
  const dir = join(root, group);
  if (!existsSync(dir)) continue;
  for (const name of readdirSync(dir)) packageDirs.push(`${group}/${name}`);
}
packageDirs.push("docs");
for (const rel of packageDirs) {
  const file = join(root, rel, "test-results.json");
  if (!existsSync(file)) continue;
  const report = JSON.parse(readFileSync(file, "utf8"));
  const p = report.numPassedTests ?? 0, f = report.numFailedTests ?? 0;
  const s = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
  passed += p; failed += f; skipped += s;
  rows.push(`  ${rel}: ${p} passed, ${f} failed, ${s} skipped`);
}
console.log(rows.join("\n"));
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);
