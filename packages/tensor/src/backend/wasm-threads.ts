import { TensorError } from "../errors";
import type { KernelExports } from "./wasm-module";
import { ARGS, DONE, FAILED, KIND, NCHUNKS, NEXT, SCRATCH, SCRATCH_STRIDE, SHUTDOWN, SPIN, asleep, go, spawnWorker, type WorkerHandle } from "./wasm-worker";

export const JOB_MATMUL = 1;
export const JOB_MATVEC = 2;
export const JOB_ATTENTION = 3;
export const JOB_LINEAR = 4;
export const JOB_MATMUL_QUANT = 5;
export const JOB_ATTENTION_PACKED = 6;
export const JOB_ATTENTION_BATCH = 7;
export const JOB_LINEAR_ROWS = 8;
export const JOB_LINEAR_GROUP = 9;
export const JOB_LINEAR_SWIGLU = 10;
export const JOB_ATTENTION_PROJECT = 11;
export const JOB_DECODE_LAYERS = 12;
const JOB_NAMES: Record<number, string> = {
  [JOB_MATMUL]: "matmul", [JOB_MATVEC]: "matvec", [JOB_ATTENTION]: "attention", [JOB_LINEAR]: "linear", [JOB_MATMUL_QUANT]: "matmulQuant",
  [JOB_ATTENTION_PACKED]: "attentionPacked", [JOB_ATTENTION_BATCH]: "attentionBatch", [JOB_LINEAR_ROWS]: "linearEach", [JOB_LINEAR_GROUP]: "linearGroup",
  [JOB_LINEAR_SWIGLU]: "linearSwiglu", [JOB_ATTENTION_PROJECT]: "attentionBatchProject", [JOB_DECODE_LAYERS]: "decodeLayers",
};


/**
 * Caller polls of `done` before it sleeps (where the host allows sleeping): ~50 µs, longer than a
 * part of any job worth splitting takes. A longer wait means a worker was descheduled in the
 * middle of its part; spinning on then only keeps a core from it (and from the HTTP thread)
 * on a machine with no core to spare. Was 20 000 (~260 µs).
 */
const MAIN_SPIN = 4000;
/** Parts per thread: enough that a thread the OS descheduled costs only a small share. */
const PARTS_PER_THREAD = 4;

/** What the pool knows about its workers' lives, written by their exit/error events. */
interface Health {
  failure: TensorError | null;
  stopping: boolean;
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
 *
 * Failures: a part that throws (a wasm trap) is counted as done by the thread that ran it, so a
 * job always completes; the caller then rethrows its own error or throws WORKER_FAILED for a
 * worker's. A worker that dies between jobs (its exit or error event) makes every later run throw
 * WORKER_FAILED. What no blocked caller can see is a worker killed from outside while it holds
 * a part: that would still hang, as nothing in this process ends a worker that way.
 */
export class ThreadPool {
  private readonly ctrlI32: Int32Array;
  /** Whether this thread may sleep in Atomics.wait (not a browser's main thread). */
  readonly blocking = canBlock();
  private generation = 0;
  // The job the caller started and has not finished (start … finish): at most one, parts 0 when
  // none. Fields, not an object, so a job allocates nothing.
  private openKind = 0;
  private openParts = 0;
  /** The first error one of the caller's own parts of the open job threw. */
  private ownError: unknown = null;

  private constructor(
    readonly threads: number,
    private readonly kernels: KernelExports,
    private readonly ctrl: number,
    memory: WebAssembly.Memory,
    private readonly workers: WorkerHandle[],
    private readonly health: Health,
  ) {
    this.ctrlI32 = new Int32Array(memory.buffer, ctrl, (kernels.CTRL_BYTES.value as number) / 4);
  }

  /** Starts threads − 1 workers on `memory` (which must be shared when threads > 1). */
  static async start(
    threads: number, module: WebAssembly.Module, memory: WebAssembly.Memory, kernels: KernelExports,
    ctrl: number, spin: number,
  ): Promise<ThreadPool> {
    new Int32Array(memory.buffer, ctrl, 8)[SPIN] = spin;
    const health: Health = { failure: null, stopping: false };
    const onDeath = (index: number) => (why: string): void => {
      if (health.stopping || health.failure) return;
      health.failure = new TensorError(
        "WORKER_FAILED",
        `wasm backend: expected worker thread ${index} to stay alive until dispose(), found it ${why}; dispose this backend and create a new one`,
      );
    };
    const started = await Promise.allSettled(
      Array.from({ length: threads - 1 }, (_, i) => spawnWorker({ module, memory, ctrl, index: i + 1 }, onDeath(i + 1))),
    );
    const workers = started.flatMap((result) => (result.status === "fulfilled" ? [result.value] : []));
    const failed = started.find((result) => result.status === "rejected");
    if (failed) {
      health.stopping = true;
      await Promise.all(workers.map((worker) => worker.terminate()));
      throw failed.reason;
    }
    return new ThreadPool(threads, kernels, ctrl, memory, workers, health);
  }

  /** The WORKER_FAILED error every run throws once a worker has died, else null. */
  get failure(): TensorError | null {
    return this.health.failure;
  }

  /**
   * Whether every worker is polling for its next job rather than sleeping: it finished one a few
   * µs ago (WasmBackendOptions.spin), so a hand-off costs no wake-up now.
   */
  workersAwake(): boolean {
    for (let t = 1; t < this.threads; t++) if (Atomics.load(this.ctrlI32, asleep(t)) !== 0) return false;
    return true;
  }

  /** Per-thread scratch: thread t uses [base + t·stride, base + (t+1)·stride). */
  setScratch(base: number, stride: number): void {
    this.ctrlI32[SCRATCH] = base;
    this.ctrlI32[SCRATCH_STRIDE] = stride;
  }

  /**
   * Runs job `kind` with `args` on every thread; returns when all its parts are done. Throws
   * the caller's own error if one of its parts threw, WORKER_FAILED if a worker's did (only after
   * every part has finished, so no thread still writes the job's output), and WORKER_FAILED up
   * front once a worker has died.
   */
  run(kind: number, args: ArrayLike<number>, argCount = args.length, parts = this.threads * PARTS_PER_THREAD): void {
    this.start(kind, args, argCount, parts);
    this.finish();
  }

  /**
   * Posts job `kind` and returns at once, the workers taking its parts: the caller runs its own
   * share with runOwnPart (or leaves it to finish()) and must call finish() before any other job.
   */
  start(kind: number, args: ArrayLike<number>, argCount = args.length, parts = this.threads * PARTS_PER_THREAD): void {
    if (this.health.failure) throw this.health.failure;
    if (this.openParts !== 0) {
      throw new TensorError("INVALID_ARGUMENT", `wasm backend: expected no job in flight, found the ${JOB_NAMES[this.openKind]} job unfinished`);
    }
    const c = this.ctrlI32;
    const gen = (this.generation = (this.generation + 1) | 0);
    const tag = (gen & 0xffff) << 16;
    // Close the claim counter before rewriting the job: a worker late from the previous job may
    // have read its `next` (every part claimed) and read nChunks only now; if this job has more
    // parts, its claim would succeed against the old `next` and run a part of a half-written
    // job, its `done` landing after the reset below. Closed (part 0xffff, past any part count),
    // that claim's compare-exchange fails. See assembly/jobs.ts.
    Atomics.store(c, NEXT, tag | 0xffff);
    c[KIND] = kind;
    Atomics.store(c, NCHUNKS, parts);
    for (let i = 0; i < argCount; i++) c[ARGS + i] = args[i];
    Atomics.store(c, FAILED, 0);
    Atomics.store(c, DONE, 0);
    Atomics.store(c, NEXT, tag);
    for (let t = 1; t < this.threads; t++) {
      Atomics.store(c, go(t), gen);
      // a polling worker sees the new generation by itself; waking costs a syscall (see asleep)
      if (Atomics.load(c, asleep(t)) !== 0) Atomics.notify(c, go(t), 1);
    }
    this.openKind = kind;
    this.openParts = parts;
    this.ownError = null;
  }

  /** Whether a job is in flight (started, not finished). */
  get busy(): boolean {
    return this.openParts !== 0;
  }

  /**
   * The calling thread claims and runs one part of the open job: true if it ran one, false when
   * every part is claimed (or no job is open). A part that throws counts as done, as in a worker,
   * and finish() rethrows its error.
   */
  runOwnPart(): boolean {
    if (this.openParts === 0) return false;
    try {
      return this.kernels.runJobPart(this.ctrl, 0, this.generation) >= 0;
    } catch (error) {
      this.ownError ??= error;
      Atomics.add(this.ctrlI32, DONE, 1);
      return true;
    }
  }

  /** Whether every part of the open job has finished (the job itself may still be open). */
  allPartsDone(): boolean {
    return Atomics.load(this.ctrlI32, DONE) >= this.openParts;
  }

  /**
   * Runs what is left of the open job on the calling thread too and returns when all its parts
   * are done (nothing if no job is open). Throws the caller's own error if one of its parts threw,
   * WORKER_FAILED if a worker's did (only after every part has finished, so no thread still
   * writes the job's output).
   */
  finish(): void {
    const parts = this.openParts, kind = this.openKind;
    if (parts === 0) return;
    const c = this.ctrlI32;
    for (;;) {
      try {
        this.kernels.runJob(this.ctrl, 0, this.generation);
        break;
      } catch (error) {
        // as in a worker: the part that threw counts as done, the other parts still run
        this.ownError ??= error;
        Atomics.add(c, DONE, 1);
      }
    }
    for (let polls = 0; ; polls++) {
      const done = Atomics.load(c, DONE);
      if (done >= parts) break;
      if (polls > MAIN_SPIN && this.blocking) Atomics.wait(c, DONE, done);
    }
    this.openParts = 0;
    const ownError = this.ownError;
    this.ownError = null;
    if (ownError !== null) throw ownError;
    const failed = Atomics.load(c, FAILED);
    if (failed !== 0) {
      throw new TensorError(
        "WORKER_FAILED",
        `wasm backend: expected every part of the ${JOB_NAMES[kind] ?? `kind ${kind}`} job to finish, found worker thread ${failed}'s part threw (a kernel trapped); its output is incomplete`,
      );
    }
  }

  /** Ends the workers' loops and terminates them. */
  async dispose(): Promise<void> {
    this.health.stopping = true;
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
