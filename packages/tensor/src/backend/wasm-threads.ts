import type { KernelExports } from "./wasm-module";

// Control block, in i32 slots (byte offset / 4); the layout is drawn in assembly/jobs.ts.
const KIND = 0, NCHUNKS = 1, DONE = 2, SHUTDOWN = 3, SPIN = 4, SCRATCH_STRIDE = 5, SCRATCH = 6, NEXT = 7;
const ARGS = 16, GO_SLOT = 64;
const go = (t: number): number => GO_SLOT + 16 * t;

export const JOB_MATMUL = 1;
export const JOB_MATVEC = 2;
export const JOB_ATTENTION = 3;

/** Main-thread polls of `done` before it sleeps (where the host allows sleeping). */
const MAIN_SPIN = 20000;
/** Parts per thread: enough that a thread the OS descheduled costs only a small share. */
const PARTS_PER_THREAD = 4;

// The worker body, shared by both hosts: instantiate the same module on the same memory, report
// ready, then loop: poll go[t] for `spin` rounds, sleep in Atomics.wait, run the new generation's
// job through the exported runJob, until shutdown. The loop is JavaScript on purpose (see
// assembly/jobs.ts): each job is a fresh call into wasm, so it runs V8's optimized code once the
// kernels have tiered up. Plain JavaScript in a string so it loads from any bundle, ESM or CJS.
const WORKER_BODY = `
function start(init, post) {
  let instance;
  try {
    const env = { memory: init.memory, "Math.sqrt": Math.sqrt, "Math.sin": Math.sin, "Math.cos": Math.cos, "Math.pow": Math.pow };
    instance = new WebAssembly.Instance(init.module, { env });
  } catch (error) {
    post({ error: String(error && error.stack || error) });
    return;
  }
  post({ ready: true });
  const ctrl = new Int32Array(init.memory.buffer, init.ctrl, ${GO_SLOT + 16 * 64});
  const go = ${GO_SLOT} + 16 * init.index;
  // generations start at 0 in the zeroed control block; reading the current one instead would
  // race with a job posted before this worker got here
  let seen = 0;
  for (;;) {
    const spin = Atomics.load(ctrl, ${SPIN});
    let gen = Atomics.load(ctrl, go);
    for (let polls = 0; gen === seen; gen = Atomics.load(ctrl, go)) {
      if (polls < spin) polls++;
      else Atomics.wait(ctrl, go, seen);
    }
    seen = gen;
    if (Atomics.load(ctrl, ${SHUTDOWN}) !== 0) return;
    instance.exports.runJob(init.ctrl, init.index, gen);
  }
}
`;
const NODE_WORKER = `${WORKER_BODY}
// eval workers inherit execArgv, so under --input-type=module this runs as an ES module: no require
const { parentPort } = typeof require === "function"
  ? require("node:worker_threads")
  : process.getBuiltinModule("node:worker_threads");
parentPort.once("message", (init) => start(init, (message) => parentPort.postMessage(message)));
`;
const BROWSER_WORKER = `${WORKER_BODY}
self.onmessage = (event) => start(event.data, (message) => self.postMessage(message));
`;

interface WorkerInit { module: WebAssembly.Module; memory: WebAssembly.Memory; ctrl: number; index: number }
interface WorkerHandle { terminate(): unknown }

const isNode = typeof process !== "undefined" && typeof process.versions === "object" && !!process.versions.node;

async function spawnWorker(init: WorkerInit): Promise<WorkerHandle> {
  if (isNode) {
    const { Worker } = await import("node:worker_threads");
    const worker = new Worker(NODE_WORKER, { eval: true });
    worker.unref(); // an idle pool never keeps the process alive
    await new Promise<void>((resolve, reject) => {
      worker.once("message", (message: { ready?: boolean; error?: string }) =>
        message.ready ? resolve() : reject(new Error(`wasm worker ${init.index}: ${message.error}`)));
      worker.once("error", reject);
      worker.postMessage(init);
    });
    return worker;
  }
  // Browser: a module-free classic worker from a Blob URL, so no worker file has to be served.
  const url = URL.createObjectURL(new Blob([BROWSER_WORKER], { type: "text/javascript" }));
  const worker = new Worker(url);
  try {
    await new Promise<void>((resolve, reject) => {
      worker.onmessage = (event: MessageEvent<{ ready?: boolean; error?: string }>) =>
        event.data.ready ? resolve() : reject(new Error(`wasm worker ${init.index}: ${event.data.error}`));
      worker.onerror = (event) => reject(new Error(`wasm worker ${init.index}: ${event.message}`));
      worker.postMessage(init);
    });
  } finally {
    URL.revokeObjectURL(url); // only once the worker has certainly loaded its script
  }
  return worker;
}

/** Whether this thread may block in Atomics.wait (not on a browser's main thread). */
function canBlock(): boolean {
  try {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * A persistent pool of `threads − 1` workers plus the calling thread, synchronised through the
 * control block with Atomics (no message per job: a postMessage round trip costs 50–100 µs,
 * longer than a whole decode-sized matvec).
 */
export class ThreadPool {
  private readonly ctrlI32: Int32Array;
  private readonly blocking = canBlock();
  private generation = 0;

  private constructor(
    readonly threads: number,
    private readonly kernels: KernelExports,
    private readonly ctrl: number,
    memory: WebAssembly.Memory,
    private readonly workers: WorkerHandle[],
  ) {
    this.ctrlI32 = new Int32Array(memory.buffer, ctrl, (kernels.CTRL_BYTES.value as number) / 4);
  }

  /** Starts threads − 1 workers on `memory` (which must be shared when threads > 1). */
  static async start(
    threads: number, module: WebAssembly.Module, memory: WebAssembly.Memory, kernels: KernelExports,
    ctrl: number, spin: number,
  ): Promise<ThreadPool> {
    new Int32Array(memory.buffer, ctrl, 8)[SPIN] = spin;
    const started = await Promise.allSettled(
      Array.from({ length: threads - 1 }, (_, i) => spawnWorker({ module, memory, ctrl, index: i + 1 })),
    );
    const workers = started.flatMap((result) => (result.status === "fulfilled" ? [result.value] : []));
    const failed = started.find((result) => result.status === "rejected");
    if (failed) {
      await Promise.all(workers.map((worker) => worker.terminate()));
      throw failed.reason;
    }
    return new ThreadPool(threads, kernels, ctrl, memory, workers);
  }

  /** Per-thread scratch: thread t uses [base + t·stride, base + (t+1)·stride). */
  setScratch(base: number, stride: number): void {
    this.ctrlI32[SCRATCH] = base;
    this.ctrlI32[SCRATCH_STRIDE] = stride;
  }

  /** Runs job `kind` with `args` on every thread; returns when all its parts are done. */
  run(kind: number, args: readonly number[]): void {
    const c = this.ctrlI32;
    const parts = this.threads * PARTS_PER_THREAD;
    const gen = (this.generation = (this.generation + 1) | 0);
    c[KIND] = kind;
    c[NCHUNKS] = parts;
    for (let i = 0; i < args.length; i++) c[ARGS + i] = args[i];
    Atomics.store(c, DONE, 0);
    Atomics.store(c, NEXT, (gen & 0xffff) << 16);
    for (let t = 1; t < this.threads; t++) {
      Atomics.store(c, go(t), gen);
      Atomics.notify(c, go(t), 1);
    }
    this.kernels.runJob(this.ctrl, 0, gen);
    for (let polls = 0; ; polls++) {
      const done = Atomics.load(c, DONE);
      if (done === parts) return;
      if (polls > MAIN_SPIN && this.blocking) Atomics.wait(c, DONE, done);
    }
  }

  /** Ends the workers' loops and terminates them. */
  async dispose(): Promise<void> {
    const c = this.ctrlI32;
    Atomics.store(c, SHUTDOWN, 1);
    this.generation = (this.generation + 1) | 0;
    for (let t = 1; t < this.threads; t++) {
      Atomics.store(c, go(t), this.generation);
      Atomics.notify(c, go(t), 1);
    }
    await Promise.all(this.workers.map((worker) => worker.terminate()));
  }
}
