/**
 * Runs a snippet program the way a reader would: its parts joined into one module, written to
 * docs/.snippets/ (so `@zero-llm/*` imports resolve through the docs package's dependencies),
 * compiled by esbuild (types stripped, nothing bundled) and executed by a fresh `node` with the
 * repository root as working directory. A marker line printed between parts cuts stdout into
 * what each part printed.
 */
import { execFile } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { transform } from "esbuild";
import type { SnippetGroup } from "./snippets";

/** Printed between two parts of one program; never printed by a snippet. */
export const PART_MARKER = "\u0001--- zero-llm snippet part ---\u0001";

export interface ProgramSource {
  /** The TypeScript module: the parts, with a marker statement between them. */
  text: string;
  /** For each line of `text` (0-based), the chapter line it came from (0 for a marker line). */
  chapterLine: number[];
}

export function programSource(group: SnippetGroup): ProgramSource {
  const lines: string[] = [];
  const chapterLine: number[] = [];
  group.parts.forEach((part, p) => {
    if (p > 0) {
      lines.push(`process.stdout.write(${JSON.stringify(`\n${PART_MARKER}\n`)});`);
      chapterLine.push(0);
    }
    part.code.lines.forEach((line, k) => {
      lines.push(line);
      chapterLine.push(part.code.openLine + 1 + k);
    });
  });
  return { text: lines.join("\n") + "\n", chapterLine };
}

export interface RunResult {
  /** What each part printed to stdout, in order. */
  parts: string[];
  stdout: string;
  stderr: string;
  exitCode: number | null;
  signal: string | null;
  ms: number;
}

/** Writes `<id>.ts` (for the typechecker) into `workDir` and returns its path. */
export function writeTypeScript(group: SnippetGroup, workDir: string): string {
  mkdirSync(workDir, { recursive: true });
  const file = join(workDir, `${group.id}.ts`);
  writeFileSync(file, programSource(group).text);
  return file;
}

/** Compiles and runs one program; `cwd` is where it runs (the repository root). */
export async function runGroup(group: SnippetGroup, workDir: string, cwd: string, timeoutMs = 300_000): Promise<RunResult> {
  mkdirSync(workDir, { recursive: true });
  const source = programSource(group);
  const js = await transform(source.text, { loader: "ts", format: "esm", target: "node20", sourcefile: `${group.id}.ts` });
  const file = join(workDir, `${group.id}.mjs`);
  writeFileSync(file, js.code);
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  const t0 = performance.now();
  return new Promise((resolve) => {
    execFile(process.execPath, [file], { cwd, env, timeout: timeoutMs, maxBuffer: 64 << 20, encoding: "utf8" }, (error, stdout, stderr) => {
      const exitCode = error === null ? 0 : typeof error.code === "number" ? error.code : null;
      resolve({
        parts: stdout.split(`\n${PART_MARKER}\n`),
        stdout,
        stderr,
        exitCode,
        signal: error?.signal ?? null,
        ms: performance.now() - t0,
      });
    });
  });
}
