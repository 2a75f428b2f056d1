// makeDirectory (mkdir -p that cannot hang) and removeAbandonedTempFiles (the leftovers of a
// writeFileAtomic killed before its rename).
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { TensorError } from "../src/errors";
import { makeDirectory, removeAbandonedTempFiles } from "../src/node/index";

/** The built package, run in a child process that is killed mid-write. */
const dist = fileURLToPath(new URL("../dist/node.js", import.meta.url));

const dir = mkdtempSync(path.join(tmpdir(), "zllm-dirs-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function failure(promise: Promise<unknown>): Promise<TensorError> {
  const caught = await promise.then(() => undefined, (e: unknown) => e);
  expect(caught).toBeInstanceOf(TensorError);
  expect((caught as TensorError).code).toBe("MKDIR_FAILED");
  return caught as TensorError;
}

/** A pid no process has: the first free one above a dead child's. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" });
  return Number(child.stdout);
}

describe("makeDirectory", () => {
  it("creates every missing level; an existing directory is fine", async () => {
    const deep = path.join(dir, "a", "b", "c");
    await makeDirectory(deep);
    expect(statSync(deep).isDirectory()).toBe(true);
    await makeDirectory(deep);
    await makeDirectory(path.join(dir, "a"));
    await makeDirectory(`${path.join(dir, "x", "y")}${path.sep}`); // a trailing separator
    expect(statSync(path.join(dir, "x", "y")).isDirectory()).toBe(true);
  });

  it("a relative path is resolved against the working directory", async () => {
    const relative = path.relative(process.cwd(), path.join(dir, "rel", "one"));
    await makeDirectory(relative);
    expect(statSync(path.join(dir, "rel", "one")).isDirectory()).toBe(true);
  });

  it("a file in the way is MKDIR_FAILED naming it, at the target or above it", async () => {
    const file = path.join(dir, "a-file");
    writeFileSync(file, "x");
    expect((await failure(makeDirectory(file))).message).toBe(`makeDirectory: expected to create the directory ${file}, found a file, not a directory, at ${file}`);
    const below = path.join(file, "sub", "dir");
    const e = await failure(makeDirectory(below));
    expect(e.message).toBe(`makeDirectory: expected to create the directory ${file} (on the way to ${below}), found a file, not a directory, at ${file}`);
  });

  // Node 20's mkdir(p, { recursive: true }) spins forever at 100% CPU on these paths.
  it.skipIf(process.platform !== "linux" || !existsSync("/proc/self"))("a virtual file system that refuses new entries (/proc) fails at once, naming the level", async () => {
    // CPU time, not wall-clock: the spin burns this process's CPU (in libuv's thread pool), while a
    // loaded machine stretches wall-clock time of a correct failure many times over
    const started = process.cpuUsage();
    const e = await failure(makeDirectory("/proc/zllmtest/deeper"));
    expect(e.message).toBe("makeDirectory: expected to create the directory /proc/zllmtest (on the way to /proc/zllmtest/deeper), found ENOENT although /proc exists (a file system that accepts no new directories there, such as /proc)");
    expect((e.cause as NodeJS.ErrnoException).code).toBe("ENOENT");
    const { user, system } = process.cpuUsage(started);
    expect((user + system) / 1e6, "CPU seconds").toBeLessThan(5);
  });

  it.skipIf(process.platform !== "linux" || !existsSync("/sys/kernel"))("/sys refuses with a permission error, named", async () => {
    const e = await failure(makeDirectory("/sys/zllmtest"));
    expect(e.message).toMatch(/^makeDirectory: expected to create the directory \/sys\/zllmtest, found E(PERM|ACCES) \((operation not permitted|permission denied)\)$/);
  });
});

describe("removeAbandonedTempFiles", () => {
  it("removes writeFileAtomic's temporary files of the named files whose writer is gone, and nothing else", async () => {
    const run = path.join(dir, "run");
    mkdirSync(run);
    const dead = deadPid();
    const names = {
      deadOwned: `model.gguf.${dead}.m3x9.0.tmp`,
      deadOwned2: `config.json.${dead}.m3xa.12.tmp`,
      liveOwned: `model.gguf.${process.pid}.m3x9.1.tmp`, // a writer still at work: left alone
      deadOther: `notes.txt.${dead}.m3x9.2.tmp`, // not a file the caller writes
      lookalike: "model.gguf.tmp",
      kept: "model.gguf",
    };
    for (const name of Object.values(names)) writeFileSync(path.join(run, name), "partial");
    const removed = await removeAbandonedTempFiles(run, ["model.gguf", "config.json"]);
    expect(removed.sort()).toEqual([names.deadOwned2, names.deadOwned].sort());
    expect(readdirSync(run).sort()).toEqual([names.deadOther, names.kept, names.liveOwned, names.lookalike].sort());
    expect(await removeAbandonedTempFiles(path.join(dir, "missing"), ["model.gguf"])).toEqual([]);
  });

  it.skipIf(!existsSync(dist))("a writer killed (SIGKILL) mid-write leaves the old file whole; its temporary file goes on the next cleanup", async () => {
    const target = path.join(dir, "killed", "weights.bin");
    await makeDirectory(path.dirname(target));
    writeFileSync(target, "old weights");
    // 256 MiB from one 1 MiB buffer: long enough to be caught between open and rename
    const script = `import { writeFileAtomic } from ${JSON.stringify(pathToFileURL(dist).href)};
      const mib = new Uint8Array(1 << 20).fill(7);
      await writeFileAtomic(${JSON.stringify(target)}, Array.from({ length: 256 }, () => mib));`;
    let leftover: string[] = [];
    for (let attempt = 0; attempt < 5 && leftover.length === 0; attempt++) {
      const child = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: "ignore" });
      await new Promise<void>((resolve) => {
        const poll = setInterval(() => {
          if (readdirSync(path.dirname(target)).some((n) => n.endsWith(".tmp"))) child.kill("SIGKILL");
        }, 2);
        child.on("exit", () => {
          clearInterval(poll);
          resolve();
        });
      });
      leftover = readdirSync(path.dirname(target)).filter((n) => n.endsWith(".tmp"));
    }
    expect(leftover).toHaveLength(1);
    expect(readFileSync(target, "utf8")).toBe("old weights");
    expect(await removeAbandonedTempFiles(path.dirname(target), ["weights.bin"])).toEqual(leftover);
    expect(readdirSync(path.dirname(target))).toEqual(["weights.bin"]);
  }, 300_000);
});
