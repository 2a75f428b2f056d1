// The README's first example runs as written, against the built package (dist/).
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

const root = path.resolve(__dirname, "..");
const built = existsSync(path.join(root, "dist", "index.js"));

describe.skipIf(!built)("README example (skipped until `pnpm build` has run)", () => {
  it("runs and prints what its comments say", () => {
    const readme = readFileSync(path.join(root, "README.md"), "utf8");
    const code = /```ts\n([\s\S]*?)```/.exec(readme)?.[1] ?? "";
    expect(code).toContain("@zero-llm/quant");
    // run from the package folder so "@zero-llm/quant" resolves to this package
    const run = spawnSync(process.execPath, ["--input-type=module", "-e", code], { cwd: root, encoding: "utf8", timeout: 120_000 });
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
    expect(run.stdout).toContain("q4_k 884736");
    expect(run.stdout).toContain("top1Agreement: 1");
    expect(run.stdout.trim().split("\n").pop()).toBe("15.9990234375");
  });
});
