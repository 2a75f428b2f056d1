import { readFile } from "node:fs/promises";
import { UsageError } from "./command";

/**
 * Files named by flags (`--data F`, `--file F`, `--config F`, `--vocab F`, `--tokenizer F`). A
 * path that is missing, a directory or unreadable is a usage error (exit 2) naming the flag, the
 * path and the reason, like any other bad flag value; never a bare `EISDIR` from Node.
 */

const REASONS: Readonly<Record<string, string>> = {
  ENOENT: "no such file",
  EISDIR: "a directory",
  EACCES: "permission denied",
  EPERM: "permission denied",
  ENOTDIR: "a path through something that is not a directory",
  ELOOP: "a loop of symbolic links",
  ENAMETOOLONG: "a name too long",
};

/** The bytes of a file given by `--flag`; `expected` says what the flag wants ("a text file"). */
export async function readFlagFile(flag: string, file: string, expected: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (error) {
    const reason = REASONS[(error as NodeJS.ErrnoException).code ?? ""];
    if (reason !== undefined) throw new UsageError(`--${flag}: expected ${expected}, found "${file}" (${reason})`, { cause: error });
    throw error;
  }
}

/** The file as UTF-8 text (see readFlagFile). */
export async function readFlagText(flag: string, file: string, expected: string): Promise<string> {
  return (await readFlagFile(flag, file, expected)).toString("utf8");
}
