import { readdir, rm, stat } from "node:fs/promises";
import path from "node:path";
import { makeDirectory, removeAbandonedTempFiles } from "@zero-llm/tensor/node";
import { UsageError } from "../command";

/**
 * Where `zllm export` writes, decided by --out before the model is even read:
 *
 *   PATH.gguf           one GGUF file
 *   PATH.bin            one llama2.c checkpoint
 *   DIR/NAME.safetensors the weights as NAME.safetensors, with config.json (and tokenizer.json)
 *                       beside it in DIR: the Hugging Face layout, loadable as DIR/NAME.safetensors
 *   anything else, or a path ending in a separator: a Hugging Face directory (config.json,
 *                       model.safetensors, tokenizer.json)
 *
 * Extensions are matched whatever their case (`X.GGUF` is a GGUF file, not a directory).
 *
 * A Hugging Face export leaves its directory describing exactly one model: the files it owns
 * (config.json, the weights, tokenizer.json) are replaced, or removed when the new model has
 * no such file (a stale tokenizer.json would otherwise pair the old tokenizer with the new
 * weights). A directory holding files it does not own is refused unless --force (they are then
 * left as they are). Temporary files a killed export left (`<file>.<pid>.<time>.<n>.tmp`) are
 * removed by the next export into the same place.
 */

export type ExportFormat = "gguf" | "llama2c" | "hf";

export interface ExportTarget {
  format: ExportFormat;
  /** What --out names: the file written, or (a Hugging Face directory) the directory. */
  outIs: "file" | "directory";
  /** The directory written into (created when missing). */
  directory: string;
  /** The weights file's name in `directory`. */
  weightsFile: string;
  /** Every file name this export may write into `directory`: what it owns there. */
  owned: readonly string[];
  /** How the output line names the format. */
  label: string;
}

export const CONFIG_FILE = "config.json";
export const TOKENIZER_FILE = "tokenizer.json";
const HF_WEIGHTS = "model.safetensors";

export function exportTarget(out: string): ExportTarget {
  const single = (format: ExportFormat, label: string): ExportTarget => ({
    format, outIs: "file", directory: path.dirname(out), weightsFile: path.basename(out), owned: [path.basename(out)], label,
  });
  const directoryWanted = /[\\/]$/.test(out);
  const extension = directoryWanted ? "" : path.extname(out).toLowerCase();
  if (extension === ".gguf") return single("gguf", "gguf");
  if (extension === ".bin") return single("llama2c", "llama2c");
  if (extension === ".safetensors") {
    const weightsFile = path.basename(out);
    return { format: "hf", outIs: "file", directory: path.dirname(out), weightsFile, owned: [weightsFile, CONFIG_FILE, TOKENIZER_FILE], label: `safetensors, with ${CONFIG_FILE} beside it` };
  }
  return { format: "hf", outIs: "directory", directory: out, weightsFile: HF_WEIGHTS, owned: [HF_WEIGHTS, CONFIG_FILE, TOKENIZER_FILE], label: "Hugging Face directory" };
}

/** writeFileAtomic's temporary names (`<file>.<pid>.<base-36 time>.<n>.tmp`) of an owned file. */
const isTempOf = (name: string, owned: readonly string[]): boolean => owned.some((file) => name.startsWith(`${file}.`) && /\.\d+\.[0-9a-z]+\.\d+\.tmp$/.test(name.slice(file.length)));

/**
 * Checks --out before anything is read or written: a single-file output must not be a
 * directory; a Hugging Face export's directory may hold only files the export owns (and their
 * temporary files), unless `force`.
 */
export async function checkExportTarget(out: string, target: ExportTarget, force: boolean): Promise<void> {
  if (target.outIs === "file") {
    const info = await stat(path.join(target.directory, target.weightsFile)).catch(() => undefined);
    if (info?.isDirectory()) throw new UsageError(`--out ${out}: expected a file to write, found a directory (for a Hugging Face directory, end --out with "/")`);
  }
  if (target.format !== "hf" || force) return;
  const entries = await readdir(target.directory).catch(() => [] as string[]); // missing: created later
  const foreign = entries.filter((name) => !target.owned.includes(name) && !isTempOf(name, target.owned)).sort();
  if (foreign.length === 0) return;
  const shown = foreign.length > 5 ? `${foreign.slice(0, 5).join(", ")} and ${foreign.length - 5} more` : foreign.join(", ");
  throw new UsageError(
    `--out ${out}: expected ${target.directory} to be empty or to hold only a model export (${target.owned.join(", ")}), found other files: ${shown}; ` +
      "export elsewhere, or pass --force to write beside them (they are left as they are)",
  );
}

/**
 * Makes the directory, removes what killed exports left there (returned, for a note), and, for a
 * Hugging Face export, the owned files the new model does not replace. config.json goes first:
 * until the new one is written last, the directory fails to load rather than pairing the old
 * config or tokenizer with the new weights, whenever the export is killed.
 */
export async function prepareExportDirectory(target: ExportTarget, writes: readonly string[]): Promise<string[]> {
  await makeDirectory(target.directory);
  const removed = await removeAbandonedTempFiles(target.directory, target.owned);
  if (target.format === "hf") {
    const stale = [CONFIG_FILE, ...target.owned.filter((name) => name !== CONFIG_FILE && !writes.includes(name))];
    for (const name of stale) await rm(path.join(target.directory, name), { force: true });
  }
  return removed;
}
