// @zero-llm/tensor/node: the Node.js side of file IO. Paths, files read at an offset, atomic
// writes; everything else (the parsers, GgufReader and SafetensorsReader over any ByteSource)
// is in the browser-safe root entry. This entry imports node:fs statically: bundle the root
// entry for browsers and this one never comes along.
import { constants } from "node:fs";
import { mkdir, open, readdir, rename, rm, stat, type FileHandle } from "node:fs/promises";
import path from "node:path";
import { TensorError } from "../errors";
import { GgufFile } from "../io/gguf-read";
import { GgufReader } from "../io/gguf-reader";
import { ggufParts, type GgufWriteInput } from "../io/gguf-write";
import { SafetensorsFile } from "../io/safetensors-read";
import { SafetensorsReader } from "../io/safetensors-reader";
import { safetensorsParts, type SafetensorsWriteInput } from "../io/safetensors-write";
import { checkRange, type ByteSource } from "../io/source";

// ---------------------------------------------------------------- reading

/** What fstat says a path is, for the NOT_A_FILE message. */
function kindOf(stat: { isDirectory(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean; isFIFO(): boolean; isSocket(): boolean }): string {
  if (stat.isDirectory()) return "a directory";
  if (stat.isCharacterDevice()) return "a character device";
  if (stat.isBlockDevice()) return "a block device";
  if (stat.isFIFO()) return "a fifo (named pipe)";
  if (stat.isSocket()) return "a socket";
  return "not a regular file";
}

/**
 * Opens a regular file as a ByteSource. Its size comes from fstat on the open descriptor, and
 * every read is checked against it, so nothing reads past what the file holds. Anything that is
 * not a regular file is refused with NOT_A_FILE before a byte is read: a directory, a device
 * such as /dev/zero or /dev/urandom (endless bytes), a fifo or a socket (bytes that may never
 * come). The open is non-blocking, so opening a fifo with no writer cannot hang.
 */
export async function openFileSource(file: string): Promise<ByteSource> {
  let handle: FileHandle;
  try {
    handle = await open(file, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    throw new TensorError("FILE_UNREADABLE", `${file}: expected a readable file, found ${typeof code === "string" ? code : "an error"} (${error instanceof Error ? error.message : String(error)})`, { cause: error });
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) throw new TensorError("NOT_A_FILE", `${file}: expected a regular file, found ${kindOf(stat)}`);
    // fstat's numbers come out of a Float64Array, so stat.size is a heap-allocated double even
    // for a small file; a reader's bounds checks subtract offsets from it for every string of a
    // vocabulary, and in not-yet-optimized code each such result is a new heap number (~0.6 MB
    // of garbage for a 32,000-token header). Math.trunc hands back a small integer V8 stores
    // unboxed (files under 2 GiB; larger sizes stay doubles, the same value either way).
    return fileSource(handle, file, Math.trunc(stat.size));
  } catch (error) {
    await handle.close();
    throw error;
  }
}

function fileSource(handle: FileHandle, name: string, size: number): ByteSource {
  let closed = false;
  return {
    name,
    size,
    async read(offset, target) {
      checkRange(this, offset, target.length);
      if (closed) throw new TensorError("FILE_UNREADABLE", `${name}: expected an open file, found it closed`);
      let filled = 0;
      while (filled < target.length) {
        const { bytesRead } = await handle.read(target, filled, target.length - filled, offset + filled);
        if (bytesRead === 0) {
          throw new TensorError("FILE_CHANGED", `${name}: expected ${target.length} bytes at offset ${offset} (the file had ${size} bytes when opened), found ${filled} (the file shrank)`);
        }
        filled += bytesRead;
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      await handle.close();
    },
  };
}

/** A whole regular file of at most `maxBytes` bytes (a config.json, a tokenizer): FILE_TOO_LARGE past it. */
export async function readFileBounded(file: string, maxBytes: number): Promise<Uint8Array> {
  const source = await openFileSource(file);
  try {
    if (source.size > maxBytes) {
      throw new TensorError("FILE_TOO_LARGE", `${file}: expected at most ${maxBytes} bytes, found ${source.size}`);
    }
    const bytes = new Uint8Array(source.size);
    await source.read(0, bytes);
    return bytes;
  } finally {
    await source.close();
  }
}

/** Reads a whole regular file into memory (checked to be a file first; its fstat size bounds the read). */
async function readWhole(file: string): Promise<Uint8Array> {
  return readFileBounded(file, Number.MAX_SAFE_INTEGER);
}

/** Read a whole GGUF file into memory (tensor bytes are views into that one buffer). For large files prefer openGgufFile. */
export async function readGgufFile(file: string): Promise<GgufFile> {
  return GgufFile.parse(await readWhole(file));
}

/** Open a GGUF file of any size: header in memory, tensors read on demand (see GgufReader). */
export async function openGgufFile(file: string, options: { initialRead?: number } = {}): Promise<GgufReader> {
  const source = await openFileSource(file);
  try {
    return await GgufReader.open(source, options);
  } catch (error) {
    await source.close();
    throw error;
  }
}

/** Read a whole safetensors file into memory (tensor bytes are views into it). For large files prefer openSafetensorsFile. */
export async function readSafetensorsFile(file: string): Promise<SafetensorsFile> {
  return SafetensorsFile.parse(await readWhole(file));
}

/** Open a safetensors file of any size: header in memory, tensors read on demand (see SafetensorsReader). */
export async function openSafetensorsFile(file: string): Promise<SafetensorsReader> {
  const source = await openFileSource(file);
  try {
    return await SafetensorsReader.open(source);
  } catch (error) {
    await source.close();
    throw error;
  }
}

// ---------------------------------------------------------------- writing

let tempCounter = 0;

/**
 * writeFileAtomic's temporary name for `file`: `<file>.<pid>.<base-36 ms>.<counter>.tmp`, in the
 * same directory (a rename across file systems would not be atomic). The pid lets a later writer
 * tell a temporary file whose writer was killed from one still being written.
 */
function tempPathFor(file: string): string {
  return `${file}.${process.pid}.${Date.now().toString(36)}.${tempCounter++}.tmp`;
}

/** A name tempPathFor gave: [1] the file it stood in for, [2] the writer's pid. */
const TEMP_NAME = /^(.+)\.(\d+)\.[0-9a-z]+\.\d+\.tmp$/;

/**
 * Write `chunks` to `file` so that readers see either the old file or the complete new one:
 * write a temporary file in the same directory, fsync it, rename it over `file`, then fsync
 * the directory so the rename itself is durable (skipped where directories cannot be opened).
 * A process killed before the rename leaves the temporary file: removeAbandonedTempFiles
 * deletes it on the next write into that directory.
 */
export async function writeFileAtomic(file: string, chunks: readonly Uint8Array[]): Promise<void> {
  const tempPath = tempPathFor(file);
  const handle = await open(tempPath, "wx");
  try {
    for (const chunk of chunks) {
      let written = 0;
      while (written < chunk.length) {
        const { bytesWritten } = await handle.write(chunk, written, chunk.length - written);
        written += bytesWritten;
      }
    }
    await handle.sync();
  } catch (error) {
    await handle.close();
    await rm(tempPath, { force: true });
    throw error;
  }
  await handle.close();
  try {
    await rename(tempPath, file);
  } catch (error) {
    await rm(tempPath, { force: true });
    throw error;
  }
  try {
    const dir = await open(path.dirname(file), "r");
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  } catch {
    // Windows cannot open a directory for fsync; the rename is still atomic there.
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists but belongs to someone else
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Deletes the temporary files that writers killed mid-write (kill -9, power loss) left in
 * `directory` for the files named in `files`: only names of writeFileAtomic's pattern, and only
 * when the process in the name is gone (a live writer's file is left alone). Returns the names
 * removed; a missing directory has none.
 */
export async function removeAbandonedTempFiles(directory: string, files: readonly string[]): Promise<string[]> {
    const names = await readdir(directory).catch(() => [] as string[]);
  const removed: string[] = [];
  for (const name of names) {
    const match = TEMP_NAME.exec(name);
    if (match === null || !files.includes(match[1]) || processAlive(Number(match[2]))) continue;
    await rm(path.join(directory, name), { force: true });
    removed.push(name);
  }
  return removed;
}

/** Why an errno stops mkdir, in words. */
const MKDIR_REASONS: Readonly<Record<string, string>> = {
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  EROFS: "a read-only file system",
  ENOSPC: "no space left on the device",
  EDQUOT: "the disk quota is exhausted",
  ENAMETOOLONG: "a name too long",
  ELOOP: "a loop of symbolic links",
  EMLINK: "too many entries in the parent",
};

function mkdirFailed(directory: string, target: string, found: string, cause: unknown): TensorError {
  const goal = directory === target ? `the directory ${directory}` : `the directory ${directory} (on the way to ${target})`;
  return new TensorError("MKDIR_FAILED", `makeDirectory: expected to create ${goal}, found ${found}`, { cause });
}

/**
 * `mkdir -p`: creates `directory` and its missing parents, each level once, from the nearest existing
 * ancestor down. Node 20's `mkdir(path, { recursive: true })` loops forever at 100% CPU where a
 * parent exists but refuses a new entry with ENOENT (`/proc/x`, some FUSE mounts); this walks a
 * bounded number of levels and stops at the first error that is not EEXIST, with MKDIR_FAILED
 * naming the level that failed and why (a file in the way, permission, a read-only or virtual
 * file system). An existing directory is fine.
 */
export async function makeDirectory(directory: string): Promise<void> {
  const { dirname, resolve } = path;
  const target = resolve(directory);
  // walk up to the nearest level that exists
  const missing: string[] = [];
  for (let level = target; ; level = dirname(level)) {
    let isDirectory: boolean;
    try {
      isDirectory = (await stat(level)).isDirectory();
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? "";
      // ENOTDIR: a file somewhere above; walking on up finds it and names it
      if (code !== "ENOENT" && code !== "ENOTDIR") throw mkdirFailed(level, target, `${code} (${MKDIR_REASONS[code] ?? "cannot be examined"}) when examining it`, error);
      missing.push(level);
      if (dirname(level) === level) throw mkdirFailed(level, target, "no root to create it under", error);
      continue;
    }
    if (!isDirectory) throw mkdirFailed(level, target, `a file, not a directory, at ${level}`, undefined);
    break;
  }
  // then create each missing level once, top down
  for (const level of missing.reverse()) {
    try {
      await mkdir(level);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? "";
      if (code === "EEXIST" && (await stat(level).then((s) => s.isDirectory(), () => false))) continue; // made meanwhile by someone else
      const found =
        code === "ENOENT"
          ? `ENOENT although ${dirname(level)} exists (a file system that accepts no new directories there, such as /proc)`
          : code === "EEXIST"
            ? `a file, not a directory, at ${level}`
            : `${code} (${MKDIR_REASONS[code] ?? String(error)})`;
      throw mkdirFailed(level, target, found, error);
    }
  }
}

/** Write a GGUF v3 file atomically, streaming tensor bytes without concatenating them. */
export async function writeGgufFile(file: string, input: GgufWriteInput): Promise<void> {
  await writeFileAtomic(file, ggufParts(input).chunks);
}

/** Write a safetensors file atomically, streaming tensor bytes without concatenating them. */
export async function writeSafetensorsFile(file: string, input: SafetensorsWriteInput): Promise<void> {
  await writeFileAtomic(file, safetensorsParts(input).chunks);
}
