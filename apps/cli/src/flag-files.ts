import { constants } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";
import { UsageError } from "./command";

/**
 * Files named by flags (`--data F`, `--file F`, `--config F`, `--vocab F`, `--tokenizer F`). A
 * path that is missing, a directory or unreadable is a usage error (exit 2) naming the flag, the
 * path and the reason, like any other bad flag value; never a bare `EISDIR` from Node. Only
 * regular files are read, and only as many bytes as fstat says they hold: /dev/zero, a fifo or a
 * socket would otherwise be read without end (issue 12).
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

/** What fstat says a path is, when it is not a regular file. */
function kindOf(info: { isDirectory(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean; isFIFO(): boolean; isSocket(): boolean }): string {
  if (info.isDirectory()) return "a directory";
  if (info.isCharacterDevice()) return "a character device";
  if (info.isBlockDevice()) return "a block device";
  if (info.isFIFO()) return "a fifo";
  if (info.isSocket()) return "a socket";
  return "not a regular file";
}

/** The bytes of a file given by `--flag`; `expected` says what the flag wants ("a text file"). */
export async function readFlagFile(flag: string, file: string, expected: string): Promise<Buffer> {
  let handle: FileHandle;
  try {
    // non-blocking, so opening a fifo with no writer cannot hang
    handle = await open(file, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch (error) {
    const reason = REASONS[(error as NodeJS.ErrnoException).code ?? ""];
    if (reason !== undefined) throw new UsageError(`--${flag}: expected ${expected}, found "${file}" (${reason})`, { cause: error });
    throw error;
  }
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw new UsageError(`--${flag}: expected ${expected}, found "${file}" (${kindOf(info)})`);
    const bytes = Buffer.alloc(info.size);
    let filled = 0;
    while (filled < bytes.length) {
      const { bytesRead } = await handle.read(bytes, filled, bytes.length - filled, filled);
      if (bytesRead === 0) break; // the file shrank while being read: keep what it holds now
      filled += bytesRead;
    }
    return bytes.subarray(0, filled);
  } finally {
    await handle.close();
  }
}

/** The file as UTF-8 text (see readFlagFile). */
export async function readFlagText(flag: string, file: string, expected: string): Promise<string> {
  return (await readFlagFile(flag, file, expected)).toString("utf8");
}
