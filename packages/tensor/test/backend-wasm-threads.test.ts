// Thread-pool failures and backend options. A part that traps in a worker must fail its job
// with WORKER_FAILED instead of leaving the caller waiting for it forever, and a worker that
// dies must make later calls fail the same way. The pool is driven directly here, with a
// caller that claims no parts (its runJob does nothing), so the worker deterministically runs
// every part. A watchdog thread releases a caller stuck in the wait after 3 s, so a
// regression fails this test instead of hanging the run.
import { Worker } from "node:worker_threads";
import { afterEach, describe, expect, it } from "vitest";
import { createWasmBackend } from "../src/backend/index";
import { kernelImports, kernelModule, kernelModuleBytes, relaxedSimdSupported, type KernelExports } from "../src/backend/wasm-module";
import { JOB_MATVEC, ThreadPool } from "../src/backend/wasm-threads";
import { DONE, NCHUNKS } from "../src/backend/wasm-worker";
import { TensorError } from "../src/errors";

const CTRL = 65536, SCRATCH = 2 * 65536, DATA = 4 * 65536;
const NO_SUCH_JOB = 99; // runPart's default branch: `unreachable`, a trap in whichever thread claims the part

/** `promise`, or a rejection naming `what` if it has not settled within `seconds`. */
async function withinSeconds<T>(seconds: number, promise: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`expected ${what} within ${seconds} s, found none`)), seconds * 1000);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

async function rawPool(callerWorks: boolean): Promise<{ pool: ThreadPool; memory: WebAssembly.Memory }> {
  const module = await kernelModule(true, false);
  const memory = new WebAssembly.Memory({ initial: 16, maximum: 64, shared: true });
  const instance = await WebAssembly.instantiate(module, kernelImports(module, memory));
  const kernels = instance.exports as unknown as KernelExports;
  const caller: KernelExports = callerWorks ? kernels : { ...kernels, runJob: () => undefined };
  const pool = await ThreadPool.start(2, module, memory, caller, CTRL, 0);
  pool.setScratch(SCRATCH, 65536);
  return { pool, memory };
}

/** Runs `body`; if the pool's caller is still waiting after `ms`, marks the job done so it returns. */
async function withWatchdog<T>(memory: WebAssembly.Memory, body: () => T, ms = 3000): Promise<{ result: T | undefined; error: unknown; fired: boolean }> {
  const signal = new Int32Array(new SharedArrayBuffer(8)); // [0]: cancel, [1]: fired
  const watchdog = new Worker(
    `const { workerData: w } = process.getBuiltinModule("node:worker_threads");
     const c = new Int32Array(w.buffer, w.ctrl, 64), s = w.signal;
     if (Atomics.wait(s, 0, 0, w.ms) === "timed-out") {
       Atomics.store(s, 1, 1);
       Atomics.store(c, ${DONE}, Atomics.load(c, ${NCHUNKS}));
       Atomics.notify(c, ${DONE});
     }`,
    { eval: true, workerData: { buffer: memory.buffer, ctrl: CTRL, signal, ms } },
  );
  await new Promise((resolve) => watchdog.once("online", resolve));
  let result: T | undefined, error: unknown = null;
  try {
    result = body();
  } catch (e) {
    error = e;
  }
  Atomics.store(signal, 0, 1);
  Atomics.notify(signal, 0);
  await new Promise((resolve) => watchdog.once("exit", resolve));
  return { result, error, fired: Atomics.load(signal, 1) === 1 };
}

/** out = w·x for a 5×7 matrix of ones and x = 1…7 (every row sums to 28), through the pool. */
function matvecThroughPool(pool: ThreadPool, memory: WebAssembly.Memory): number[] {
  const w = DATA, x = DATA + 5 * 7 * 4, out = x + 7 * 4;
  new Float32Array(memory.buffer, w, 35).fill(1);
  new Float32Array(memory.buffer, x, 7).set([1, 2, 3, 4, 5, 6, 7]);
  new Float32Array(memory.buffer, out, 5).fill(0);
  pool.run(JOB_MATVEC, [out, w, x, 5, 7]);
  return Array.from(new Float32Array(memory.buffer, out, 5));
}

const pools: ThreadPool[] = [];
afterEach(async () => {
  await Promise.all(pools.splice(0).map((pool) => pool.dispose()));
});

describe("wasm thread pool failures", () => {
  it("a part that traps in a worker fails the job with WORKER_FAILED, and the worker keeps serving", async () => {
    const { pool, memory } = await rawPool(false);
    pools.push(pool);
    const { error, fired } = await withWatchdog(memory, () => pool.run(NO_SUCH_JOB, []));
    expect(fired, "the caller was left waiting for the trapped parts").toBe(false);
    expect(error).toBeInstanceOf(TensorError);
    expect(error).toMatchObject({ code: "WORKER_FAILED" });
    expect((error as Error).message).toContain("worker thread 1");
    // the worker survived its traps: it alone computes the next job, correctly
    expect(matvecThroughPool(pool, memory)).toEqual([28, 28, 28, 28, 28]);
    expect(pool.failure).toBeNull();
  });

  it("when every part traps on the caller and the worker alike, the job still ends and throws", async () => {
    const { pool, memory } = await rawPool(true);
    pools.push(pool);
    const { error, fired } = await withWatchdog(memory, () => pool.run(NO_SUCH_JOB, []));
    expect(fired).toBe(false);
    // the caller's own trap is rethrown as is; if the worker took every part, its failure
    const ownTrap = error instanceof WebAssembly.RuntimeError;
    expect(ownTrap || (error instanceof TensorError && error.code === "WORKER_FAILED"), String(error)).toBe(true);
    expect(matvecThroughPool(pool, memory)).toEqual([28, 28, 28, 28, 28]);
  });

  it("a worker that exits makes every later call on the backend throw WORKER_FAILED", async () => {
    const wasm = await createWasmBackend({ threads: 2 });
    const worker = (wasm as unknown as { pool: { workers: Worker[] } }).pool.workers[0];
    await Promise.all([new Promise((resolve) => worker.once("exit", resolve)), worker.terminate()]);
    const a = wasm.allocF32(256 * 256).fill(1);
    const failed = expect.objectContaining({ code: "WORKER_FAILED", message: expect.stringContaining("worker thread 1") });
    expect(() => wasm.matmul(wasm.allocF32(256 * 256), a, a, 256, 256, 256)).toThrow(failed); // a threaded job
    expect(() => wasm.add(new Float32Array(4), new Float32Array(4), new Float32Array(4))).toThrow(failed); // and any other call
    await wasm.dispose(); // and dispose still works
  });

  it("dispose() stopping the workers is not a failure", async () => {
    const wasm = await createWasmBackend({ threads: 2 });
    const pool = (wasm as unknown as { pool: ThreadPool }).pool;
    const workers = (pool as unknown as { workers: Worker[] }).workers;
    // Each worker's exit event, listened for before dispose(): the pool's own exit listener was
    // added when the worker was spawned, so it has run by the time this one fires. Waited for as
    // an event (a fixed sleep can end before it on a loaded machine), bounded so a worker that
    // never exits fails the test with a message instead of hanging it.
    const exited = Promise.all(workers.map((worker) => new Promise((resolve) => worker.once("exit", resolve))));
    await wasm.dispose();
    await expect(withinSeconds(60, exited, "every worker's exit event after dispose()")).resolves.toHaveLength(1);
    expect(pool.failure).toBeNull();
  });
});

describe("wasm backend options", () => {
  it.each([
    ["initialMemoryMB", { initialMemoryMB: 0 }], ["initialMemoryMB", { initialMemoryMB: 0.5 }],
    ["initialMemoryMB", { initialMemoryMB: 4097 }], ["initialMemoryMB", { initialMemoryMB: Number.NaN }],
    ["maximumMemoryMB", { maximumMemoryMB: 8192 }], ["maximumMemoryMB", { initialMemoryMB: 8, maximumMemoryMB: 4 }],
    ["maximumMemoryMB", { maximumMemoryMB: 100.5 }], ["threads", { threads: 1.5 }], ["spin", { spin: -1 }],
    ["parallelMinMacs", { parallelMinMacs: -1 }], ["parallelMinMacs", { parallelMinMacs: 0.5 }],
  ])("rejects %s out of range (%o) with INVALID_ARGUMENT instead of clamping", async (name, options) => {
    await expect(createWasmBackend(options)).rejects.toMatchObject({ code: "INVALID_ARGUMENT", message: expect.stringContaining(name) });
  });

  it("honours the bounds it accepts: 1 MiB fixed is 1 MiB, not rounded up", async () => {
    const wasm = await createWasmBackend({ initialMemoryMB: 1, maximumMemoryMB: 1 });
    expect(() => wasm.allocF32(256 * 1024)).toThrow(expect.objectContaining({ code: "OUT_OF_MEMORY" })); // 1 MiB of floats
    await wasm.dispose();
  });
});

describe("wasm kernel module", () => {
  // section ids of the binary format: 11 = data, 12 = data count
  function sectionIds(bytes: Uint8Array): number[] {
    const ids: number[] = [];
    for (let i = 8; i < bytes.length;) {
      ids.push(bytes[i++]);
      let size = 0, shift = 0, byte: number;
      do { byte = bytes[i++]; size |= (byte & 0x7f) << shift; shift += 7; } while (byte & 0x80);
      i += size;
    }
    return ids;
  }

  it.each([
    ["shared", true, false], ["unshared", false, false], ["shared relaxed-SIMD", true, true], ["unshared relaxed-SIMD", false, true],
  ] as const)(
    "%s: imports only its memory and host Math functions, and has no data segments",
    async (_, shared, relaxed) => {
      if (relaxed && !relaxedSimdSupported()) return;
      const imports = WebAssembly.Module.imports(await kernelModule(shared, relaxed));
      for (const { module, name, kind } of imports) {
        expect(module).toBe("env");
        if (kind === "memory") expect(name).toBe("memory");
        else expect([kind, typeof (Math as unknown as Record<string, unknown>)[name.replace(/^Math\./, "")]]).toEqual(["function", "function"]);
      }
      expect(sectionIds(await kernelModuleBytes(shared, relaxed)).filter((id) => id === 11 || id === 12)).toEqual([]);
    },
  );
});
