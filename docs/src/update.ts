/**
 * `pnpm update-outputs` (ZLLM_DOCS_UPDATE=1): write what the snippets printed into their output
 * blocks, as a snapshot update does. Use it after a deliberate change, then read the diff: the
 * prose around an output block may quote its numbers.
 */
import { normalizeOutput } from "./compare";
import type { SnippetGroup } from "./snippets";

interface Edit {
  /** 1-based, inclusive range of lines to replace; `to = from - 1` inserts before `from`. */
  from: number;
  to: number;
  lines: string[];
}

/** The chapter with each part's output block holding `printed[part]` (added where missing). */
export function withOutputs(markdown: string, group: SnippetGroup, printed: readonly string[]): string {
  const edits: Edit[] = [];
  group.parts.forEach((part, p) => {
    const text = normalizeOutput(printed[p] ?? "");
    const indent = part.code.indent;
    if (part.output !== null) {
      const o = part.output;
      edits.push({ from: o.openLine + 1, to: o.closeLine - 1, lines: text.map((l) => indent + l) });
    } else if (text.length > 0) {
      const at = part.code.closeLine + 1;
      edits.push({ from: at, to: at - 1, lines: ["", `${indent}\`\`\`text output`, ...text.map((l) => indent + l), `${indent}\`\`\``] });
    }
  });
  const lines = markdown.split("\n");
  for (const e of edits.sort((a, b) => b.from - a.from)) lines.splice(e.from - 1, e.to - e.from + 1, ...e.lines);
  return lines.join("\n");
}
