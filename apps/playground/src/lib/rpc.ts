/**
 * Typed calls into a Web Worker. A protocol maps each method to its arguments, its result and
 * the progress events it may send while it runs:
 *
 *   page  ── { id, method, args } ──────────────▶ worker
 *         ◀─ { id, event } … { id, result } ──── (or { id, error: { code, message } })
 *
 * Heavy work (training, model runs) lives in the worker, so the page never freezes; a long job
 * (training) sends events and keeps reading messages between its steps (pause, stop).
 */
export interface Method<Args, Result, Event = never> {
  args: Args;
  result: Result;
  event: Event;
}
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a protocol's methods are each checked where they are declared
export type Protocol = Record<string, Method<any, any, any>>;

interface Request { id: number; method: string; args: unknown }
type Reply =
  | { id: number; event: unknown }
  | { id: number; result: unknown }
  | { id: number; error: { code: string; message: string; name: string } };

/** An error thrown in the worker, re-thrown in the page with its code. */
export class WorkerCallError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
    this.name = "WorkerCallError";
  }
}

export class WorkerClient<P extends Protocol> {
  private next = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; onEvent?: (e: unknown) => void }>();

  constructor(private readonly worker: Worker) {
    worker.onmessage = (message: MessageEvent<Reply>) => {
      const reply = message.data;
      const call = this.pending.get(reply.id);
      if (!call) return;
      if ("event" in reply) call.onEvent?.(reply.event);
      else if ("result" in reply) {
        this.pending.delete(reply.id);
        call.resolve(reply.result);
      } else {
        this.pending.delete(reply.id);
        call.reject(new WorkerCallError(reply.error.code, reply.error.message));
      }
    };
    worker.onerror = (event) => {
      event.preventDefault();
      this.failAll(new WorkerCallError("WORKER_FAILED", `the worker stopped: ${event.message}`));
    };
  }

  call<K extends keyof P & string>(method: K, args: P[K]["args"], onEvent?: (event: P[K]["event"]) => void): Promise<P[K]["result"]> {
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve: resolve, reject, onEvent: onEvent });
      this.worker.postMessage({ id, method, args } satisfies Request);
    });
  }

  /** A message for a running job (pause, resume, stop): delivered as a call with no reply awaited. */
  send<K extends keyof P & string>(method: K, args: P[K]["args"]): void {
    this.worker.postMessage({ id: 0, method, args } satisfies Request);
  }

  terminate(): void {
    this.worker.terminate();
    this.failAll(new WorkerCallError("WORKER_STOPPED", "the page was left"));
  }

  private failAll(error: Error): void {
    for (const call of this.pending.values()) call.reject(error);
    this.pending.clear();
  }
}

export type Handlers<P extends Protocol> = {
  [K in keyof P]: (args: P[K]["args"], emit: (event: P[K]["event"]) => void) => Promise<P[K]["result"]> | P[K]["result"];
};

/**
 * The worker side: runs each request's handler and replies. Requests are handled as they come
 * (a handler that awaits lets the next message in), so a running job can be paused or stopped.
 */
export function serve<P extends Protocol>(handlers: Handlers<P>, transfer: (result: unknown) => Transferable[] = () => []): void {
  const scope = self as unknown as DedicatedWorkerGlobalScope;
  scope.onmessage = async (message: MessageEvent<Request>) => {
    const { id, method, args } = message.data;
    const handler = handlers[method as keyof P];
    try {
      if (!handler) throw new WorkerCallError("UNKNOWN_METHOD", `worker: expected one of ${Object.keys(handlers).join(", ")}, found ${method}`);
      const result = await handler(args, (event) => scope.postMessage({ id, event }));
      if (id !== 0) scope.postMessage({ id, result }, transfer(result));
    } catch (e) {
      const error = e instanceof Error ? e : new Error(String(e));
      const maybeCode = (error as unknown as { code?: unknown }).code;
      const code = typeof maybeCode === "string" ? maybeCode : "ERROR";
      if (id !== 0) scope.postMessage({ id, error: { code, message: error.message, name: error.name } });
    }
  };
}
