/**
 * Printed output against the output block in the chapter.
 *
 * - exact: line by line, trailing spaces and trailing blank lines ignored.
 * - timing: the same, except that every number is a wildcard ("12.3 ms" matches "9.87 ms") and
 *   runs of spaces count as one (padded columns widen with the figures), so a measurement keeps
 *   its words, units and line structure while its figures vary with the machine.
 */

export type OutputMode = "exact" | "timing";

export interface Mismatch {
  /** 1-based line inside the output block. */
  line: number;
  expected: string;
  actual: string;
}

// an optional sign, digits with optional separators and decimals, an optional exponent
const NUMBER = /[-+−]?(?:\d[\d,]*(?:\.\d+)?|\.\d+)(?:e[-+]?\d+)?/gi;

export function normalizeOutput(text: string): string[] {
  const lines = text.replace(/\r\n/g, "\n").split("\n").map((l) => l.replace(/\s+$/, ""));
  while (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  return lines;
}

// numbers become "#"; runs of spaces become one, since padded columns widen and narrow with the figures
function shapeOf(line: string): string {
  return line.replace(NUMBER, "#").replace(/\s+/g, " ").trim();
}

/** The first line where `actual` differs from `expected`, or null when they agree. */
export function compareOutput(expected: string, actual: string, mode: OutputMode): Mismatch | null {
  const want = normalizeOutput(expected);
  const have = normalizeOutput(actual);
  const n = Math.max(want.length, have.length);
  for (let i = 0; i < n; i++) {
    const e = want[i], a = have[i];
    if (e === undefined || a === undefined) return { line: i + 1, expected: e ?? "<no more lines>", actual: a ?? "<no more lines>" };
    const same = mode === "exact" ? e === a : shapeOf(e) === shapeOf(a);
    if (!same) return { line: i + 1, expected: e, actual: a };
  }
  return null;
}
