// The worker side of the thread pool: the control block's slots, the worker's source (one body
// for both hosts, as a string so it loads from any bundle, ESM or CJS, with no file to serve),
// and starting a worker in Node (node:worker_threads) or a browser (a Blob-URL Web Worker).

// Control block, in i32 slots (byte offset / 4); the layout is drawn in assembly/jobs.ts.
export const KIND = 0, NCHUNKS = 1, DONE = 2, SHUTDOWN = 3, SPIN = 4, SCRATCH_STRIDE = 5, SCRATCH = 6, NEXT = 7;
/** 0 while a job is healthy; the index t ≥ 1 of a worker once a part of the job threw there. */
export const FAILED = 8;
export const ARGS = 16, GO_SLOT = 64;
export const go = (t: number): number => GO_SLOT + 16 * t;
/**
 * 1 while worker t sleeps in Atomics.wait (or is about to), 0 while it polls or runs a part: on
 * go[t]'s cache line. The caller notifies only a sleeper, and splits smaller jobs while every
 * worker polls (ThreadPool.workersAwake). The worker raises it before it waits on go[t]; the
 * caller writes go[t] before it reads it: one of them sees the other's store (both sequentially
 * consistent), so a worker that was read as awake finds go[t] changed and never sleeps through
 * a job.
 */
export const asleep = (t: number): number => go(t) + 1;

// Instantiate the same module on the same memory (its imports: the memory and the host Math
// functions it names, e.g. "Math.sqrt"), report ready, then loop: poll go[t] for `spin` rounds,
// sleep in Atomics.wait (asleep[t] raised meanwhile, see `asleep`), run the new generation's
// job through the exported runJob, until shutdown. The loop is JavaScript on purpose (see
// assembly/jobs.ts): each job is a fresh call into wasm, so it runs V8's optimized code once the
// kernels have tiered up.
//
// A part that throws (a wasm trap) must not end the thread: the caller would wait for that part
// forever. It is counted as finished, the job is flagged FAILED (the first failing thread wins)
// and the worker goes on claiming the job's other parts, then waits for the next job as usual.
const WORKER_BODY = `
function start(init, post) {
  let instance;
  try {
    const env = { memory: init.memory };
    for (const { module, name, kind } of WebAssembly.Module.imports(init.module)) {
      if (module === "env" && kind === "function" && name.startsWith("Math.")) env[name] = Math[name.slice(5)];
    }
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
      else {
        Atomics.store(ctrl, go + 1, 1);
        Atomics.wait(ctrl, go, seen);
        Atomics.store(ctrl, go + 1, 0);
      }
    }
    seen = gen;
    if (Atomics.load(ctrl, ${SHUTDOWN}) !== 0) return;
    for (;;) {
      try {
        instance.exports.runJob(init.ctrl, init.index, gen);
        break;
      } catch {
        Atomics.compareExchange(ctrl, ${FAILED}, 0, init.index);
        if (Atomics.add(ctrl, ${DONE}, 1) + 1 >= Atomics.load(ctrl, ${NCHUNKS})) Atomics.notify(ctrl, ${DONE});
      }
    }
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

export interface WorkerInit { module: WebAssembly.Module; memory: WebAssembly.Memory; ctrl: number; index: number }
export interface WorkerHandle { terminate(): unknown }

const isNode = typeof process !== "undefined" && typeof process.versions === "object" && !!process.versions.node;

/**
 * Starts worker `init.index` and resolves once it has instantiated the module. Afterwards
 * `onDeath` is told (once or more) if the worker stops outside dispose: it exited, or threw
 * outside a job part.
 */
export async function spawnWorker(init: WorkerInit, onDeath: (why: string) => void): Promise<WorkerHandle> {
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
    worker.on("error", (error) => onDeath(`threw ${String(error)}`));
    worker.on("exit", (code) => onDeath(`exited with code ${code}`));
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
  worker.onerror = (event) => onDeath(`threw ${event.message}`);
  return worker;
}
