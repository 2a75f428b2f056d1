import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import os from "node:os";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const cli = fileURLToPath(new URL("../dist/cli.js", import.meta.url));
const version = (JSON.parse(readFileSync(fileURLToPath(new URL("../package.json", import.meta.url)), "utf8")) as { version: string }).version;
const run = (...argv: string[]) => spawnSync(process.execPath, [cli, ...argv], { encoding: "utf8" });
// from a folder that is not the repository: the embedded model is found from dist/cli.js itself
const elsewhere = (input: string | undefined, ...argv: string[]) =>
  spawnSync(process.execPath, [cli, ...argv], { encoding: "utf8", cwd: os.tmpdir(), ...(input !== undefined ? { input } : {}), timeout: 60_000 });

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

  it("--version with a stray argument exits 2", () => {
    const r = run("--version", "extra");
    expect(r.status).toBe(2);
    expect(r.stdout).toBe("");
  });

  it("generate with no --model writes text from the embedded model (run from another directory)", () => {
    const r = elsewhere(undefined, "generate", "--max-tokens", "20", "--temperature", "0.8", "--seed", "1", "--threads", "1", "The jury said");
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim().length).toBeGreaterThan(0);
    expect(r.stdout).toMatch(/[a-z]{2,}/);
    expect(r.stderr).toMatch(/generation: \d+ tokens .* \| sampling: temperature 0\.8, top-k 40, top-p 0\.95, seed 1\n$/);
  }, 300_000);

  it("chat with no --model answers piped lines, then ends at end of input", () => {
    const r = elsewhere("The jury said\nThe dog\n", "chat", "--max-tokens", "10", "--seed", "2", "--threads", "1");
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^chat: llama model, context 512 tokens/);
    const replies = r.stdout.split("> ").slice(1, 3);
    expect(replies).toHaveLength(2);
    for (const reply of replies) expect(reply.trim().length).toBeGreaterThan(0);
  }, 300_000);
});
