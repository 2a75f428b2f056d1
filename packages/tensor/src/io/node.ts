import type * as FsPromises from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";
import type * as NodePath from "node:path";
import { TensorError } from "../errors";
import { GgufError, SafetensorsError } from "./errors";
import { bytesOf, ggmlToFloat32, swapToHostOrder } from "./ggml-dequant";
import { GgufFile, GgufMetadataAccess, parseGgufHeader, type GgufHeader, type GgufTensorInfo } from "./gguf-read";
import type { GgufValue } from "./gguf-values";
import { ggufParts, type GgufWriteInput } from "./gguf-write";
import {
  findSafetensor, parseSafetensorsHeader, safetensorsBytesToArray, safetensorsBytesToFloat32, safetensorsHeaderLength, SafetensorsFile,
  type SafetensorsArray, type SafetensorsHeader, type SafetensorsTensorInfo,
} from "./safetensors-read";
import { safetensorsParts, type SafetensorsWriteInput } from "./safetensors-write";

/**
 * The Node.js side of file IO: paths, lazy reads at an offset, atomic writes.
 *
 * node:fs is loaded with a dynamic import of a non-literal specifier, so bundling this package
 * for the browser neither pulls node:fs in nor fails to resolve it; these functions simply are
 * not called there. The in-memory readers (GgufFile.parse, SafetensorsFile.parse) work anywhere.
 */

const FS_PROMISES = "node:fs/promises";
let fsModule: Promise<typeof FsPromises> | undefined;
function nodeFs(): Promise<typeof FsPromises> {
  fsModule ??= import(/* @vite-ignore */ FS_PROMISES) as Promise<typeof FsPromises>;
  return fsModule;
}

const PATH = "node:path";
let pathModule: Promise<typeof NodePath> | undefined;
function nodePath(): Promise<typeof NodePath> {
  pathModule ??= import(/* @vite-ignore */ PATH) as Promise<typeof NodePath>;
  return pathModule;
}

/** Fill `target` from `position`; a short read means the file shrank under us. */
async function readInto(handle: FileHandle, position: number, target: Uint8Array, onShort: (got: number) => Error): Promise<Uint8Array> {
  let filled = 0;
  while (filled < target.length) {
    const { bytesRead } = await handle.read(target, filled, target.length - filled, position + filled);
    if (bytesRead === 0) throw onShort(filled);
    filled += bytesRead;
  }
  return target;
}

/** Read exactly `length` bytes at `position` into a new buffer. */
function readAt(handle: FileHandle, position: number, length: number, onShort: (got: number) => Error): Promise<Uint8Array> {
  return readInto(handle, position, new Uint8Array(length), onShort);
}

let tempCounter = 0;

/**
 * writeFileAtomic's temporary name for `path`: `<path>.<pid>.<base-36 ms>.<counter>.tmp`, in the
 * same directory (a rename across file systems would not be atomic). The pid lets a later writer
 * tell a temporary file whose writer was killed from one still being written.
 */
function tempPathFor(path: string): string {
  return `${path}.${process.pid}.${Date.now().toString(36)}.${tempCounter++}.tmp`;
}

/** A name tempPathFor gave: [1] the file it stood in for, [2] the writer's pid. */
const TEMP_NAME = /^(.+)\.(\d+)\.[0-9a-z]+\.\d+\.tmp$/;

/**
 * Write `chunks` to `path` so that readers see either the old file or the complete new one:
 * write a temporary file in the same directory, fsync it, rename it over `path`, then fsync
 * the directory so the rename itself is durable (skipped where directories cannot be opened).
 * A process killed before the rename leaves the temporary file: removeAbandonedTempFiles
 * deletes it on the next write into that directory.
 */
export async function writeFileAtomic(path: string, chunks: readonly Uint8Array[]): Promise<void> {
  const fs = await nodeFs();
  const tempPath = tempPathFor(path);
  const handle = await fs.open(tempPath, "wx");
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
    await fs.rm(tempPath, { force: true });
    throw error;
  }
  await handle.close();
  try {
    await fs.rename(tempPath, path);
  } catch (error) {
    await fs.rm(tempPath, { force: true });
    throw error;
  }
  const slash = Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\"));
  const directory = slash < 0 ? "." : slash === 0 ? "/" : path.slice(0, slash);
  try {
    const dir = await fs.open(directory, "r");
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
  const fs = await nodeFs();
  const names = await fs.readdir(directory).catch(() => [] as string[]);
  const removed: string[] = [];
  for (const name of names) {
    const match = TEMP_NAME.exec(name);
    if (match === null || !files.includes(match[1]) || processAlive(Number(match[2]))) continue;
    await fs.rm(`${directory}/${name}`, { force: true });
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
 * `mkdir -p`: creates `path` and its missing parents, each level once, from the nearest existing
 * ancestor down. Node 20's `mkdir(path, { recursive: true })` loops forever at 100% CPU where a
 * parent exists but refuses a new entry with ENOENT (`/proc/x`, some FUSE mounts); this walks a
 * bounded number of levels and stops at the first error that is not EEXIST, with MKDIR_FAILED
 * naming the level that failed and why (a file in the way, permission, a read-only or virtual
 * file system). An existing directory is fine.
 */
export async function makeDirectory(path: string): Promise<void> {
  const fs = await nodeFs();
  const { dirname, resolve } = await nodePath();
  const target = resolve(path);
  // walk up to the nearest level that exists
  const missing: string[] = [];
  for (let level = target; ; level = dirname(level)) {
    let isDirectory: boolean;
    try {
      isDirectory = (await fs.stat(level)).isDirectory();
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
      await fs.mkdir(level);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? "";
      if (code === "EEXIST" && (await fs.stat(level).then((s) => s.isDirectory(), () => false))) continue; // made meanwhile by someone else
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

// ---------------------------------------------------------------- GGUF

/** Read a whole GGUF file into memory (up to 2 GiB); tensor bytes are views into that one buffer. */
export async function readGgufFile(path: string): Promise<GgufFile> {
  const fs = await nodeFs();
  return GgufFile.parse(await fs.readFile(path));
}

/** Write a GGUF v3 file atomically, streaming tensor bytes without concatenating them. */
export async function writeGgufFile(path: string, input: GgufWriteInput): Promise<void> {
  await writeFileAtomic(path, ggufParts(input).chunks);
}

/** An open GGUF file whose header is in memory and whose tensors are read on demand. */
export class GgufFileHandle extends GgufMetadataAccess {
  readonly version: number;
  readonly alignment: number;
  readonly metadata: ReadonlyMap<string, GgufValue>;
  readonly tensors: readonly GgufTensorInfo[];
  readonly dataOffset: number;

  constructor(
    private readonly handle: FileHandle,
    header: GgufHeader,
    readonly fileLength: number,
  ) {
    super();
    this.version = header.version;
    this.alignment = header.alignment;
    this.metadata = header.metadata;
    this.tensors = header.tensors;
    this.dataOffset = header.dataOffset;
  }

  /** The tensor's stored bytes, read from disk into a new buffer. */
  async readTensorBytes(name: string): Promise<Uint8Array> {
    return this.readInto(name, new Uint8Array(this.tensorInfo(name).byteLength));
  }

  /**
   * The tensor's values (F32, F64, F16, BF16, Q8_0, Q4_0): into `out` when given (exactly
   * elementCount long, GGUF_BAD_OUTPUT otherwise), else a new Float32Array. F32 is read from
   * disk straight into the output's bytes: pass an array from a backend's allocF32 and the
   * weights land in wasm memory with no copy in between (byte-swapped in place only on a
   * big-endian host). Other types are read once and decoded once.
   */
  async readTensorFloat32(name: string, out?: Float32Array): Promise<Float32Array> {
    const info = this.tensorInfo(name);
    if (info.type.name !== "F32") return ggmlToFloat32(info.type, await this.readTensorBytes(name), info.elementCount, out);
    if (out !== undefined && out.length !== info.elementCount) {
      throw new GgufError("GGUF_BAD_OUTPUT", `expected an output Float32Array of ${info.elementCount} elements for "${name}", found ${out.length}`);
    }
    const target = out ?? new Float32Array(info.elementCount);
    swapToHostOrder(await this.readInto(name, bytesOf(target)), 4);
    return target;
  }

  private readInto(name: string, target: Uint8Array): Promise<Uint8Array> {
    const info = this.tensorInfo(name);
    return readInto(this.handle, info.fileOffset, target, (got) =>
      new GgufError("GGUF_TRUNCATED", `expected ${info.byteLength} bytes of "${name}" at offset ${info.fileOffset}, found ${got} (the file shrank)`),
    );
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}

/**
 * Open a GGUF file of any size: read a prefix, parse, and read a longer prefix only when the
 * header (a 150k-token vocabulary runs to megabytes) goes past it. Tensor data stays on disk.
 */
export async function openGgufFile(path: string, options: { initialRead?: number } = {}): Promise<GgufFileHandle> {
  const fs = await nodeFs();
  const handle = await fs.open(path, "r");
  try {
    const fileLength = (await handle.stat()).size;
    let prefixLength = Math.min(fileLength, options.initialRead ?? 1 << 20);
    for (;;) {
      const prefix = await readAt(handle, 0, prefixLength, (got) => new GgufError("GGUF_TRUNCATED", `expected ${prefixLength} bytes, found ${got} (the file shrank)`));
      try {
        return new GgufFileHandle(handle, parseGgufHeader(prefix, fileLength), fileLength);
      } catch (error) {
        if (!(error instanceof GgufError) || error.code !== "GGUF_NEED_MORE_BYTES") throw error;
        // `needed` is within the file (the reader checked); grow geometrically to bound re-parses.
        prefixLength = Math.min(fileLength, Math.max(error.needed ?? 0, prefixLength * 2));
      }
    }
  } catch (error) {
    await handle.close();
    throw error;
  }
}

// ---------------------------------------------------------------- safetensors

/** Read a whole safetensors file into memory (up to 2 GiB); tensor bytes are views into it. */
export async function readSafetensorsFile(path: string): Promise<SafetensorsFile> {
  const fs = await nodeFs();
  return SafetensorsFile.parse(await fs.readFile(path));
}

/** Write a safetensors file atomically, streaming tensor bytes without concatenating them. */
export async function writeSafetensorsFile(path: string, input: SafetensorsWriteInput): Promise<void> {
  await writeFileAtomic(path, safetensorsParts(input).chunks);
}

/** An open safetensors file: header in memory, tensors read on demand with a read at their offset. */
export class SafetensorsFileHandle implements SafetensorsHeader {
  readonly tensors: readonly SafetensorsTensorInfo[];
  readonly metadata: Readonly<Record<string, string>>;
  readonly dataOffset: number;

  constructor(
    private readonly handle: FileHandle,
    header: SafetensorsHeader,
    readonly fileLength: number,
  ) {
    this.tensors = header.tensors;
    this.metadata = header.metadata;
    this.dataOffset = header.dataOffset;
  }

  tensorInfo(name: string): SafetensorsTensorInfo {
    return findSafetensor(this, name);
  }

  /** The tensor's stored bytes, read from disk into a new buffer. */
  async readTensorBytes(name: string): Promise<Uint8Array> {
    return this.readInto(name, new Uint8Array(findSafetensor(this, name).byteLength));
  }

  /** The tensor in the typed array of its dtype, over the buffer just read (one copy: the read). */
  async readTensorArray(name: string): Promise<SafetensorsArray> {
    return safetensorsBytesToArray(findSafetensor(this, name).dtype, await this.readTensorBytes(name), false);
  }

  /**
   * The values as f32 (F32, F64, F16, BF16): into `out` when given (exactly the element count,
   * SAFETENSORS_BAD_OUTPUT otherwise), else a new Float32Array. F32 is read from disk straight
   * into the output's bytes (e.g. an allocF32 array in wasm memory), byte-swapped in place only
   * on a big-endian host; the others are read once and decoded once.
   */
  async readTensorFloat32(name: string, out?: Float32Array): Promise<Float32Array> {
    const info = findSafetensor(this, name);
    if (info.dtype !== "F32") return safetensorsBytesToFloat32(info.dtype, await this.readTensorBytes(name), out);
    const count = info.byteLength / 4;
    if (out !== undefined && out.length !== count) {
      throw new SafetensorsError("SAFETENSORS_BAD_OUTPUT", `expected an output Float32Array of ${count} elements for "${name}", found ${out.length}`);
    }
    const target = out ?? new Float32Array(count);
    swapToHostOrder(await this.readInto(name, bytesOf(target)), 4);
    return target;
  }

  private readInto(name: string, target: Uint8Array): Promise<Uint8Array> {
    const info = findSafetensor(this, name);
    return readInto(this.handle, info.fileOffset, target, (got) =>
      new SafetensorsError("SAFETENSORS_TRUNCATED", `expected ${info.byteLength} bytes of "${name}" at offset ${info.fileOffset}, found ${got} (the file shrank)`),
    );
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}

/** Open a safetensors file of any size: 8 bytes, then the header, then tensors on demand. */
export async function openSafetensorsFile(path: string): Promise<SafetensorsFileHandle> {
  const fs = await nodeFs();
  const handle = await fs.open(path, "r");
  try {
    const fileLength = (await handle.stat()).size;
    const shrank = (got: number) => new SafetensorsError("SAFETENSORS_TRUNCATED", `expected more bytes, found ${got} (the file shrank)`);
    const headerLength = safetensorsHeaderLength(await readAt(handle, 0, Math.min(8, fileLength), shrank), fileLength);
    const headerBytes = await readAt(handle, 8, headerLength, shrank);
    return new SafetensorsFileHandle(handle, parseSafetensorsHeader(headerBytes, fileLength - 8 - headerLength), fileLength);
  } catch (error) {
    await handle.close();
    throw error;
  }
}
