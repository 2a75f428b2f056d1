/**
 * The small part of CommonMark the guide machinery needs: fenced code blocks (with their info
 * string and line numbers), headings (for anchors) and inline links, read line by line.
 *
 *   ```ts run continue        <- fence: 3+ backticks or tildes, then the info string
 *   console.log(1 + 1);       <- content, the fence's indentation removed
 *   ```                       <- closing fence: the same character, at least as long
 */

export interface Fence {
  /** First word of the info string ("ts", "text"), lowercased; "" when absent. */
  lang: string;
  /** The other words: `run`, `continue`, `output`, `timing`, `from=path` -> { from: "path" }. */
  attrs: ReadonlyMap<string, string | true>;
  /** The content lines, without the fences. */
  lines: string[];
  /** 1-based line of the opening fence in the file. */
  openLine: number;
  /** 1-based line of the closing fence (the last line of the file when the fence never closes). */
  closeLine: number;
  /** The opening fence's indentation (blocks inside list items are indented). */
  indent: string;
  closed: boolean;
}

const FENCE_OPEN = /^( {0,3})(`{3,}|~{3,})(.*)$/;

export function parseInfo(info: string): { lang: string; attrs: Map<string, string | true> } {
  const words = info.trim().split(/\s+/).filter((w) => w.length > 0);
  const attrs = new Map<string, string | true>();
  for (const word of words.slice(1)) {
    const eq = word.indexOf("=");
    if (eq > 0) attrs.set(word.slice(0, eq), word.slice(eq + 1));
    else attrs.set(word, true);
  }
  return { lang: (words[0] ?? "").toLowerCase(), attrs };
}

/** Every fenced code block of a markdown text, in order. */
export function fences(markdown: string): Fence[] {
  const lines = markdown.split("\n");
  const out: Fence[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE_OPEN.exec(lines[i]);
    if (open === null) continue;
    const [, indent, marker, info] = open;
    // a backtick fence's info string may not contain backticks (that line is inline code)
    if (marker[0] === "`" && info.includes("`")) continue;
    const close = new RegExp(`^ {0,3}${marker[0] === "`" ? "`" : "~"}{${marker.length},}\\s*$`);
    const content: string[] = [];
    let j = i + 1;
    while (j < lines.length && !close.test(lines[j])) {
      const line = lines[j];
      content.push(line.startsWith(indent) ? line.slice(indent.length) : line.trimStart());
      j++;
    }
    const { lang, attrs } = parseInfo(info);
    out.push({ lang, attrs, lines: content, openLine: i + 1, closeLine: Math.min(j + 1, lines.length), indent, closed: j < lines.length });
    i = j;
  }
  return out;
}

/** The lines of `markdown` that are prose: code blocks blanked out (line numbers kept). */
export function proseLines(markdown: string): string[] {
  const lines = markdown.split("\n");
  for (const f of fences(markdown)) {
    for (let l = f.openLine; l <= f.closeLine; l++) lines[l - 1] = "";
  }
  return lines;
}

export interface Heading {
  level: number;
  text: string;
  /** The anchor GitHub gives it (see `slug`), made unique as GitHub does (-1, -2, …). */
  anchor: string;
  line: number;
}

/**
 * GitHub's heading anchors: lowercase, markup and punctuation dropped (letters, digits, spaces,
 * `-` and `_` kept), each space a hyphen.
 */
export function slug(headingText: string): string {
  const plain = headingText
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, "$1") // links keep their text
    .replace(/[`*]/g, "");
  return plain.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, "").replace(/\s/g, "-");
}

export function headings(markdown: string): Heading[] {
  const seen = new Map<string, number>();
  const out: Heading[] = [];
  proseLines(markdown).forEach((line, i) => {
    const m = /^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$/.exec(line);
    if (m === null) return;
    const base = slug(m[2]);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.push({ level: m[1].length, text: m[2], anchor: n === 0 ? base : `${base}-${n}`, line: i + 1 });
  });
  return out;
}

export interface Link {
  text: string;
  target: string;
  line: number;
}

/** Inline links `[text](target)` in prose (not in code blocks or code spans). */
export function links(markdown: string): Link[] {
  const out: Link[] = [];
  proseLines(markdown).forEach((line, i) => {
    const prose = line.replace(/`[^`]*`/g, (span) => " ".repeat(span.length));
    for (const m of prose.matchAll(/\[((?:[^\][]|\[[^\]]*\])*)\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
      // matched on the blanked line (so code spans cannot fake a link), read from the real one
      const start = (m.index ?? 0) + 1;
      out.push({ text: line.slice(start, start + m[1].length), target: m[2], line: i + 1 });
    }
  });
  return out;
}
