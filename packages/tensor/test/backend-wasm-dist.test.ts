// The built bundle (dist/) in a fresh Node process, ESM and CommonJS: workers start from the
// bundled source, a job posted right after creation completes, and an undisposed 2-thread
// backend does not keep the process alive.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const dist = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../dist");
const built = existsSync(path.join(dist, "index.js")) && existsSync(path.join(dist, "index.cjs"));

// A 2-thread matmul of ones: every output is k. No dispose(): the process must still exit.
const body = (load: string): string => `
(async () => {
  const { createWasmBackend } = ${load};
  const be = await createWasmBackend({ threads: 2 });
  const n = 200, a = be.allocF32(n * n).fill(1), c = be.allocF32(n * n);
  be.matmul(c, a, a, n, n, n, { transB: true });
  process.stdout.write(String(c[0]) + " " + String(c[n * n - 1]));
})();
`;

describe.skipIf(!built)("wasm backend from dist/ (skipped until `pnpm build` has run)", () => {
  it.each([
    ["ESM", `await import(${JSON.stringify(path.join(dist, "index.js"))})`, "--input-type=module"],
    ["CommonJS", `require(${JSON.stringify(path.join(dist, "index.cjs"))})`, "--input-type=commonjs"],
  ])("%s: threads work and the process exits without dispose()", (_, load, inputType) => {
    const run = spawnSync(process.execPath, [inputType, "-e", body(load)], { encoding: "utf8", timeout: 30_000 });
    expect(run.error).toBeUndefined();
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
    expect(run.stdout).toBe("200 200");
  });
});

describe.skipIf(!built)("entries: the root is browser-safe, file IO lives in @zero-llm/tensor/node", () => {
  // every JavaScript file the root entry loads (itself and the chunks it imports)
  function rootFiles(entry: string): string[] {
    const seen = new Set<string>();
    const visit = (file: string): void => {
      if (seen.has(file)) return;
      seen.add(file);
      for (const [, spec] of readFileSync(file, "utf8").matchAll(/(?:from\s+|require\()"(\.\/[^"]+)"/g)) visit(path.join(dist, spec));
    };
    visit(path.join(dist, entry));
    return [...seen];
  }

  it("the root entry (ESM and CJS) imports no file system module, by no route", () => {
    const files = [...rootFiles("index.js"), ...rootFiles("index.cjs")];
    expect(files.some((f) => f.includes("chunk-"))).toBe(true); // the shared chunks are checked too
    for (const file of files) {
      const text = readFileSync(file, "utf8");
      expect(text, file).not.toMatch(/["'](node:)?fs(\/promises)?["']/);
      expect(text, file).not.toMatch(/vite-ignore/);
    }
  });

  it("the node entry has the path functions, and hands out the root entry's classes (ESM and CJS)", () => {
    const fixture = JSON.stringify(path.resolve(dist, "../test/fixtures/gguf-python.gguf"));
    for (const [load, inputType] of [
      [(entry: string) => `await import(${JSON.stringify(path.join(dist, `${entry}.js`))})`, "--input-type=module"],
      [(entry: string) => `require(${JSON.stringify(path.join(dist, `${entry}.cjs`))})`, "--input-type=commonjs"],
    ] as const) {
      const script = `(async () => {
        const node = ${load("node")}, root = ${load("index")};
        const reader = await node.openGgufFile(${fixture});
        const kinds = ["openFileSource", "openGgufFile", "writeFileAtomic"].map((k) => typeof node[k]);
        const error = await node.openFileSource("/dev/zero").catch((e) => e);
        process.stdout.write([...kinds, reader instanceof root.GgufReader, error instanceof root.TensorError].join(" "));
        await reader.close();
      })();`;
      const run = spawnSync(process.execPath, [inputType, "-e", script], { encoding: "utf8", timeout: 30_000 });
      expect(run.stderr).toBe("");
      expect(run.stdout).toBe("function function function true true");
    }
  });
});
