/**
 * The guide's code blocks, as the runner sees them.
 *
 *   ```ts run            a program: extracted, typechecked and executed by the tests
 *   ```text output       what the block above it printed, compared line by line
 *   ```ts run continue   more of the previous program (it runs as one program; the output
 *                        block after each part holds what that part printed)
 *   ```text output timing   a measurement: every number may differ from run to run, the rest
 *                        (words, units, layout) must match
 *   ```ts from=PATH      an excerpt of a source file in the repository, which must appear in
 *                        that file verbatim (after removing a common indentation)
 *   ```ts run requires=PATH[,PATH…]   a program that reads reference data kept outside the
 *                        repository (../shared/fixtures): when a path is absent (relative to
 *                        the repository root), the test skips the program and names the path,
 *                        instead of failing
 *
 * Any other ts/js block in a chapter is an error, so nothing that looks like code goes
 * unchecked. Blocks in other languages (`text` diagrams, math) are prose.
 */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { fences, type Fence } from "./markdown";

export const CODE_LANGS: ReadonlySet<string> = new Set(["ts", "typescript", "js", "javascript", "mjs", "tsx"]);

export interface SnippetPart {
  code: Fence;
  /** The `text output` block that follows, if any. */
  output: Fence | null;
}

export interface SnippetGroup {
  /** The chapter file, relative to the repository root (for messages). */
  file: string;
  /** One program: the first part and the `continue` parts after it. */
  parts: SnippetPart[];
  /** A short stable id, e.g. "01-gradients-L42" (the first part's opening line). */
  id: string;
  /** Files the program reads that may be absent (`requires=`), relative to the repository root; every part's, in order. */
  requires: string[];
}

export interface Excerpt {
  file: string;
  block: Fence;
  /** The repository file the excerpt claims to come from. */
  source: string;
}

export interface ChapterSnippets {
  groups: SnippetGroup[];
  excerpts: Excerpt[];
  /** Structural problems: a ts block that neither runs nor cites its source, an orphan output block, … */
  problems: string[];
}

/** Splits a chapter's blocks into programs, excerpts and problems. `file` is used for ids and messages. */
export function chapterSnippets(file: string, markdown: string): ChapterSnippets {
  const blocks = fences(markdown);
  const stem = (file.split("/").pop() ?? file).replace(/\.md$/, "");
  const groups: SnippetGroup[] = [];
  const excerpts: Excerpt[] = [];
  const problems: string[] = [];
  const where = (b: Fence): string => `${file}:${b.openLine}`;

  for (let i = 0; i < blocks.length; i++) {
    const b = blocks[i];
    if (!b.closed) problems.push(`${where(b)}: code block never closed`);
    if (b.attrs.has("output")) {
      const prev = blocks[i - 1];
      if (prev === undefined || !prev.attrs.has("run")) problems.push(`${where(b)}: an output block must come right after a \`run\` block`);
      continue;
    }
    const from = b.attrs.get("from");
    if (typeof from === "string") {
      excerpts.push({ file, block: b, source: from });
      continue;
    }
    if (b.attrs.has("run")) {
      if (!CODE_LANGS.has(b.lang)) {
        problems.push(`${where(b)}: \`run\` is for TypeScript or JavaScript blocks, found \`${b.lang || "no language"}\``);
        continue;
      }
      const next = blocks[i + 1];
      const part: SnippetPart = { code: b, output: next !== undefined && next.attrs.has("output") ? next : null };
      const requires = b.attrs.get("requires");
      if (requires === true || requires === "") problems.push(`${where(b)}: \`requires\` needs paths: requires=PATH[,PATH…]`);
      const paths = typeof requires === "string" ? requires.split(",").filter((p) => p !== "") : [];
      if (b.attrs.has("continue")) {
        const last = groups.at(-1);
        if (last === undefined) problems.push(`${where(b)}: \`continue\` with no program before it in the chapter`);
        else {
          last.parts.push(part);
          last.requires.push(...paths);
        }
      } else {
        groups.push({ file, parts: [part], id: `${stem}-L${b.openLine}`, requires: paths });
      }
      continue;
    }
    if (CODE_LANGS.has(b.lang)) {
      problems.push(`${where(b)}: a ${b.lang} block must be a program (\`${b.lang} run\`) or an excerpt (\`${b.lang} from=path\`)`);
    }
  }
  return { groups, excerpts, problems };
}

/** The paths of `group.requires` that do not exist under `root` (the repository root). */
export function missingRequirements(group: SnippetGroup, root: string): string[] {
  return group.requires.filter((path) => !existsSync(resolve(root, path)));
}

/**
 * Whether `excerpt` appears in `source` as consecutive lines, each compared with its leading
 * and trailing whitespace removed (an excerpt may be dedented). Blank lines must match blank lines.
 */
export function excerptFound(excerpt: readonly string[], source: string): boolean {
  const want = trimBlankEnds(excerpt.map((l) => l.trim()));
  if (want.length === 0) return false;
  const have = source.split("\n").map((l) => l.trim());
  outer: for (let s = 0; s + want.length <= have.length; s++) {
    for (let k = 0; k < want.length; k++) if (have[s + k] !== want[k]) continue outer;
    return true;
  }
  return false;
}

function trimBlankEnds(lines: string[]): string[] {
  let a = 0, b = lines.length;
  while (a < b && lines[a] === "") a++;
  while (b > a && lines[b - 1] === "") b--;
  return lines.slice(a, b);
}
