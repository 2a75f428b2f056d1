// Every program in the guide typechecks under the workspace's strict settings, against the
// packages' published types: a renamed export or a changed signature fails here with the line.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { expect, it } from "vitest";
import { GUIDE_DIR, REPO_ROOT, SNIPPET_DIR, chapterFiles } from "../src/guide";
import { writeTypeScript } from "../src/run";
import { chapterSnippets, type SnippetGroup } from "../src/snippets";
import { typecheckSnippets } from "../src/typecheck";

it("every program in docs/guide typechecks (strict, tsconfig.base.json)", () => {
  const files = new Map<string, SnippetGroup>();
  for (const name of chapterFiles()) {
    const { groups } = chapterSnippets(`docs/guide/${name}`, readFileSync(join(GUIDE_DIR, name), "utf8"));
    for (const g of groups) files.set(writeTypeScript(g, SNIPPET_DIR), g);
  }
  expect(files.size).toBeGreaterThan(0);
  const errors = typecheckSnippets(files, join(REPO_ROOT, "tsconfig.base.json"));
  expect(errors.map((e) => `${e.group.file}:${e.line}: ${e.message}`)).toEqual([]);
});
