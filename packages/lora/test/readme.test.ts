// The README's first example runs as written, against the built package (dist/), and prints the
// output the README shows under it.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const ready = existsSync(path.join(root, "dist", "index.js")) && existsSync(path.join(root, "../../models/addition-lora/adapter_config.json"));

describe.skipIf(!ready)("README example (skipped until `pnpm build` has run and models/addition-lora exists)", () => {
  it("runs and prints the output shown under it", () => {
    const readme = readFileSync(path.join(root, "README.md"), "utf8");
    const [, code = "", shown = ""] = /```js\n([\s\S]*?)```\n\n```\n([\s\S]*?)```/.exec(readme) ?? [];
    expect(code).toContain("@zero-llm/lora");
    // run from the package folder so "@zero-llm/lora" resolves to this package and ../../models to the repository's
    const run = spawnSync(process.execPath, ["--input-type=module", "-e", code], { cwd: root, encoding: "utf8", timeout: 120_000 });
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
    expect(run.stdout).toBe(shown);
  });
});
