import type { IncomingMessage } from "node:http";

/**
 * The one body reader, for both places node:http can run: on the engine's thread ("main" mode,
 * through readBodyBytes in http/body.ts) and on the front thread ("worker" mode), whose source
 * (http/front-source.ts) embeds this function's own text, taken with Function.prototype.toString.
 * One copy of the rules, so a fix reaches both modes.
 *
 * That is why it is written as it is: it must run where nothing of this module exists. It imports
 * nothing at run time (the import above is a type), refers to nothing in module scope (no helper,
 * no constant), names no function of its own from inside (a bundler may rename it), and uses only
 * globals every thread has (setTimeout, clearTimeout, Uint8Array). What it hands back is plain
 * data that can cross to the engine's thread. test/body-rules.test.ts runs its text in an empty
 * context to hold it to that, and runs the same table of bodies through both modes.
 */

export interface BodyLimits {
  /** Largest body accepted (413 beyond). */
  maxBytes: number;
  /** The whole body must arrive within this (408 otherwise): a client trickling bytes cannot hold a connection. */
  timeoutMs: number;
}

/**
 * Why a body could not be read, as plain data (it crosses from the front thread to the engine's);
 * `bodyRefusal` in http/body.ts makes the error the client gets.
 */
export type BodyRefusal =
  | { readonly kind: "too_large"; readonly maxBytes: number; readonly found: string }
  | { readonly kind: "timeout"; readonly timeoutMs: number; readonly size: number }
  | { readonly kind: "incomplete"; readonly reason: string };

/**
 * The body's bytes, in a buffer of their own (transferable to another thread: a Buffer may be a
 * view of node's shared pool), or why they cannot be had; `cause` is the stream's error, when one
 * broke the read (it stays on the thread that read the body).
 */
export type BodyOutcome = { readonly body: Uint8Array } | { readonly refusal: BodyRefusal; readonly cause?: Error };

/** What the collector needs of a request: node's IncomingMessage has it. */
export type BodySource = Pick<IncomingMessage, "headers" | "on" | "off" | "pause" | "resume" | "destroy">;

/**
 * Reads `req`'s body within `limits` and calls `done` once. A declared size over the limit is
 * refused from Content-Length before a byte of it is kept; an actual size over it as soon as the
 * read passes it (413); a body not complete within `timeoutMs` is a timeout (408); a connection
 * that breaks off or a read error leaves it incomplete (400).
 *
 * After a 413 the rest of the body is still read, and thrown away (a lingering close, as web
 * servers do it). The client is usually still sending when the 413 goes out. Were the socket
 * closed with its bytes unread, the kernel would answer them with a reset, and a reset can
 * destroy the 413 before the client reads it: the client would see a broken connection, not the
 * answer. Read to its end, the body also leaves the connection usable for the next request. What
 * is read this way is bounded: past four times the limit (at least 16 MiB) more, or after
 * `timeoutMs` more, the connection is closed. After a 408 or a broken read the request is paused,
 * and the response closes the connection.
 */
export function collectBody(req: BodySource, limits: BodyLimits, done: (outcome: BodyOutcome) => void): void {
  const discardRest = (): void => {
    const bound = Math.max(4 * limits.maxBytes, 16 * 1024 * 1024);
    let discarded = 0;
    const stop = (close: boolean): void => {
      clearTimeout(lingerTimer);
      req.off("data", onDiscard);
      req.off("end", onOver);
      req.off("close", onOver);
      req.off("error", onOver);
      if (close) req.destroy();
    };
    const onDiscard = (chunk: Uint8Array): void => {
      discarded += chunk.length;
      if (discarded > bound) stop(true);
    };
    const onOver = (): void => stop(false);
    const lingerTimer = setTimeout(() => stop(true), limits.timeoutMs);
    req.on("data", onDiscard);
    req.on("end", onOver);
    req.on("close", onOver);
    req.on("error", onOver);
    req.resume();
  };
  const declared = req.headers["content-length"];
  if (declared !== undefined && Number(declared) > limits.maxBytes) {
    discardRest();
    done({ refusal: { kind: "too_large", maxBytes: limits.maxBytes, found: `${declared} (Content-Length)` } });
    return;
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  let settled = false;
  const settle = (outcome: BodyOutcome): void => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    req.off("data", onData);
    req.off("end", onEnd);
    req.off("error", onError);
    req.off("aborted", onAborted);
    if ("refusal" in outcome) {
      if (outcome.refusal.kind === "too_large") discardRest();
      else req.pause();
    }
    done(outcome);
  };
  const onData = (chunk: Uint8Array): void => {
    size += chunk.length;
    if (size > limits.maxBytes) settle({ refusal: { kind: "too_large", maxBytes: limits.maxBytes, found: `more (${size} bytes read so far)` } });
    else chunks.push(chunk);
  };
  const onEnd = (): void => {
    const body = new Uint8Array(size);
    let at = 0;
    for (const chunk of chunks) {
      body.set(chunk, at);
      at += chunk.length;
    }
    settle({ body });
  };
  const onError = (e: Error): void => settle({ refusal: { kind: "incomplete", reason: `a read error: ${e.message}` }, cause: e });
  const onAborted = (): void => settle({ refusal: { kind: "incomplete", reason: "the connection closed" } });
  const timer = setTimeout(() => settle({ refusal: { kind: "timeout", timeoutMs: limits.timeoutMs, size } }), limits.timeoutMs);
  req.on("data", onData);
  req.on("end", onEnd);
  req.on("error", onError);
  req.on("aborted", onAborted);
}
