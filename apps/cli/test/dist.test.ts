import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const cli = fileURLToPath(new URL("../dist/cli.js", import.meta.url));
const version = (JSON.parse(readFileSync(fileURLToPath(new URL("../package.json", import.meta.url)), "utf8")) as { version: string }).version;
const run = (...argv: string[]) => spawnSync(process.execPath, [cli, ...argv], { encoding: "utf8" });

describe.skipIf(!existsSync(cli))("the built dist/cli.js (skipped until `npx tsup` has built it)", () => {
  it("starts with a shebang and prints its version", () => {
    expect(readFileSync(cli, "utf8").startsWith("#!/usr/bin/env node\n")).toBe(true);
    const r = run("--version");
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(`zllm ${version}\n`);
  });

  it("exits 2 on a bad flag and 1 on a runtime failure, one line, no stack", () => {
    const bad = run("autograd", "demo", "--steps", "0");
    expect(bad.status).toBe(2);
    expect(bad.stderr.split("\n")[0]).toBe('zllm: --steps must be an integer in [1, 100000], found "0"');
    const failed = run("autograd", "demo", "--steps", "1");
    expect(failed.status).toBe(1);
    expect(failed.stdout).toContain("step     0  loss");
    expect(failed.stderr).toMatch(/^zllm: demo failed: final loss \d\.\d{4} is not below the target 0\.1\n$/);
  });
});
