// Every program in the guide runs, and prints exactly what its chapter shows.
// ZLLM_DOCS_UPDATE=1 (`pnpm update-outputs`) writes the printed output into the chapters instead.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { compareOutput, normalizeOutput } from "../src/compare";
import { GUIDE_DIR, REPO_ROOT, SNIPPET_DIR, chapterFiles } from "../src/guide";
import { runGroup } from "../src/run";
import { chapterSnippets, excerptFound, missingRequirements } from "../src/snippets";
import { withOutputs } from "../src/update";

const update = process.env.ZLLM_DOCS_UPDATE === "1";

for (const name of chapterFiles()) {
  const path = join(GUIDE_DIR, name);
  const rel = `docs/guide/${name}`;
  const { groups, excerpts, problems } = chapterSnippets(rel, readFileSync(path, "utf8"));

  describe(rel, () => {
    it("has no code block that escapes the runner", () => {
      expect(problems).toEqual([]);
    });

    for (const ex of excerpts) {
      it(`excerpt at line ${ex.block.openLine} appears verbatim in ${ex.source}`, () => {
        const source = readFileSync(join(REPO_ROOT, ex.source), "utf8");
        expect(excerptFound(ex.block.lines, source), `${rel}:${ex.block.openLine}: not found in ${ex.source}`).toBe(true);
      });
    }

    groups.forEach((group, index) => {
      const first = group.parts[0].code.openLine;
      const label = group.parts.length > 1 ? `program at line ${first} (${group.parts.length} parts)` : `program at line ${first}`;
      // reference data outside the repository (requires=): absent, the program is skipped and the test name says why
      const missing = missingRequirements(group, REPO_ROOT);
      const skipped = missing.length > 0 ? ` (skipped: needs ${missing.join(", ")}, which is absent)` : "";
      it.skipIf(missing.length > 0)(`${label} runs and prints what the chapter shows${skipped}`, async () => {
        const result = await runGroup(group, SNIPPET_DIR, REPO_ROOT);
        const context = `${rel}:${first} (${group.id}.mjs in docs/.snippets)\n--- stderr ---\n${result.stderr}`;
        expect(result.exitCode, context).toBe(0);
        expect(result.parts.length, context).toBe(group.parts.length);
        if (update) {
          // re-read: an earlier program of this chapter may have moved the lines
          const current = readFileSync(path, "utf8");
          const fresh = chapterSnippets(rel, current).groups[index];
          writeFileSync(path, withOutputs(current, fresh, result.parts));
          return;
        }
        group.parts.forEach((part, p) => {
          const printed = result.parts[p];
          const where = `${rel}:${part.code.openLine}`;
          if (part.output === null) {
            expect(normalizeOutput(printed), `${where} prints but has no output block after it`).toEqual([]);
            return;
          }
          const mode = part.output.attrs.has("timing") ? "timing" : "exact";
          const mismatch = compareOutput(part.output.lines.join("\n"), printed, mode);
          const detail = mismatch === null ? "" : `${where}: output line ${mismatch.line} (chapter line ${part.output.openLine + mismatch.line}) differs (${mode})\n  chapter: ${mismatch.expected}\n  printed: ${mismatch.actual}\n--- printed ---\n${printed}`;
          expect(mismatch, detail).toBeNull();
        });
      });
    });
  });
}
