/**
 * Typechecks the extracted snippet programs with the workspace's strict compiler settings
 * (tsconfig.base.json), against the published types of the packages (their dist/*.d.ts), as a
 * reader's project would see them. Errors point at the chapter line.
 */
import { dirname } from "node:path";
import ts from "typescript";
import { programSource } from "./run";
import type { SnippetGroup } from "./snippets";

export interface SnippetTypeError {
  group: SnippetGroup;
  /** The chapter line (0 when the error is on a marker line the runner inserted). */
  line: number;
  message: string;
}

export function typecheckSnippets(files: ReadonlyMap<string, SnippetGroup>, baseConfig: string): SnippetTypeError[] {
  const read = ts.readConfigFile(baseConfig, (p) => ts.sys.readFile(p));
  if (read.error !== undefined) throw new Error(ts.flattenDiagnosticMessageText(read.error.messageText, "\n"));
  const parsed = ts.parseJsonConfigFileContent(read.config, ts.sys, dirname(baseConfig));
  const options: ts.CompilerOptions = { ...parsed.options, noEmit: true, declaration: false, sourceMap: false };
  const program = ts.createProgram([...files.keys()], options);
  const errors: SnippetTypeError[] = [];
  for (const d of ts.getPreEmitDiagnostics(program)) {
    const message = ts.flattenDiagnosticMessageText(d.messageText, "\n");
    const group = d.file === undefined ? undefined : files.get(d.file.fileName);
    if (group === undefined || d.file === undefined || d.start === undefined) {
      throw new Error(`typecheck: ${d.file?.fileName ?? "(no file)"}: ${message}`);
    }
    const { line } = d.file.getLineAndCharacterOfPosition(d.start);
    errors.push({ group, line: programSource(group).chapterLine[line] ?? 0, message });
  }
  return errors;
}
