// The API reference (`pnpm docs`: TypeDoc over each package's src/index.ts) covers every public
// package: a package that lands without an entry here would be missing from the reference.
import { readFileSync, readdirSync, existsSync } from "node:fs";
import { join } from "node:path";
import { expect, it } from "vitest";
import { DOCS_DIR, REPO_ROOT } from "../src/guide";

interface TypedocConfig {
  entryPointStrategy: string;
  entryPoints: string[];
  packageOptions: { entryPoints: string[] };
  out: string;
}

it("typedoc.json lists every public package under packages/, each with a src/index.ts", () => {
  const config = JSON.parse(readFileSync(join(DOCS_DIR, "typedoc.json"), "utf8")) as TypedocConfig;
  expect(config.entryPointStrategy).toBe("packages");
  expect(config.packageOptions.entryPoints).toEqual(["src/index.ts"]);
  const publicPackages = readdirSync(join(REPO_ROOT, "packages"))
    .filter((name) => existsSync(join(REPO_ROOT, "packages", name, "package.json")))
    .filter((name) => (JSON.parse(readFileSync(join(REPO_ROOT, "packages", name, "package.json"), "utf8")) as { private?: boolean }).private !== true)
    .map((name) => `../packages/${name}`)
    .sort();
  expect([...config.entryPoints].sort()).toEqual(publicPackages);
  for (const p of publicPackages) expect(existsSync(join(DOCS_DIR, p, "src/index.ts")), p).toBe(true);
});

it("the reference is written to docs/api/, which git ignores", () => {
  const config = JSON.parse(readFileSync(join(DOCS_DIR, "typedoc.json"), "utf8")) as TypedocConfig;
  expect(config.out).toBe("api");
  expect(readFileSync(join(REPO_ROOT, ".gitignore"), "utf8").split("\n")).toContain("docs/api/");
});
