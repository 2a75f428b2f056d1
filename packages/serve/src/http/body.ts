import type { IncomingMessage } from "node:http";
import { ServeError } from "../errors";

export interface BodyLimits {
  /** Largest body accepted (413 beyond). */
  maxBytes: number;
  /** The whole body must arrive within this (408 otherwise): a client trickling bytes cannot hold a connection. */
  timeoutMs: number;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Parses a request body as JSON. Refuses, each with its own 400: bytes that are not UTF-8
 * (invalid_utf8) and text that is not JSON (invalid_json). Any JSON value comes back; the route
 * checks it is an object.
 */
export function parseJsonBody(bytes: Uint8Array): unknown {
  if (bytes.length === 0) throw new ServeError("invalid_json", "Invalid request body: expected a JSON object, found an empty body.");
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch (e) {
    throw new ServeError("invalid_utf8", `Invalid request body: expected UTF-8 text, found invalid UTF-8 at or after byte ${firstInvalidUtf8(bytes)}.`, { cause: e });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new ServeError("invalid_json", `Invalid request body: expected JSON, found a parse error: ${e instanceof Error ? e.message : String(e)}.`, { cause: e });
  }
}

/**
 * Why a body could not be read, as plain data: the front thread (http/front-source.ts) reads
 * bodies and sends this across; `bodyRefusal` makes the error on the engine's side.
 */
export type BodyRefusal =
  | { readonly kind: "too_large"; readonly maxBytes: number; readonly found: string }
  | { readonly kind: "timeout"; readonly timeoutMs: number; readonly size: number }
  | { readonly kind: "incomplete"; readonly reason: string };

export function bodyRefusal(refusal: BodyRefusal, cause?: Error): ServeError {
  switch (refusal.kind) {
    case "too_large":
      return new ServeError("body_too_large", `Request body too large: expected at most ${refusal.maxBytes} bytes, found ${refusal.found}.`);
    case "timeout":
      return new ServeError("request_timeout", `Request body: expected all of it within ${refusal.timeoutMs} ms, found ${refusal.size} bytes by then.`);
    case "incomplete":
      return new ServeError("invalid_json", `Request body: expected a complete body, found ${refusal.reason}.`, cause ? { cause } : {});
  }
}

/**
 * Reads a request body's bytes within the limits: a declared or actual size over the limit is a
 * 413 (refused from Content-Length without reading the rest), a body that does not finish in time
 * a 408, a connection that breaks off a 400.
 */
export function readBodyBytes(req: IncomingMessage, limits: BodyLimits): Promise<Uint8Array> {
  const declared = req.headers["content-length"];
  if (declared !== undefined && Number(declared) > limits.maxBytes) {
    return Promise.reject(bodyRefusal({ kind: "too_large", maxBytes: limits.maxBytes, found: `${declared} (Content-Length)` }));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const settle = (refusal: BodyRefusal | undefined, cause?: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onError);
      req.off("aborted", onAborted);
      if (refusal) {
        // stop reading: the rest is not wanted (the response closes the connection)
        req.pause();
        reject(bodyRefusal(refusal, cause));
      } else resolve(Buffer.concat(chunks));
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limits.maxBytes) settle({ kind: "too_large", maxBytes: limits.maxBytes, found: `more (${size} bytes read so far)` });
      else chunks.push(chunk);
    };
    const onEnd = (): void => settle(undefined);
    const onError = (e: Error): void => settle({ kind: "incomplete", reason: `a read error: ${e.message}` }, e);
    const onAborted = (): void => settle({ kind: "incomplete", reason: "the connection closed" });
    const timer = setTimeout(() => settle({ kind: "timeout", timeoutMs: limits.timeoutMs, size }), limits.timeoutMs);
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onError);
    req.on("aborted", onAborted);
  });
}

/**
 * Offset of the first byte that starts an ill-formed UTF-8 sequence (for the error message), by
 * the Unicode table of well-formed sequences: lead C2–DF takes 1 continuation, E0–EF 2, F0–F4 3,
 * with E0 → A0–BF, ED → 80–9F (no surrogates), F0 → 90–BF, F4 → 80–8F (≤ U+10FFFF) second bytes.
 */
function firstInvalidUtf8(bytes: Uint8Array): number {
  for (let i = 0; i < bytes.length; ) {
    const b = bytes[i];
    if (b < 0x80) {
      i++;
      continue;
    }
    const extra = b >= 0xc2 && b <= 0xdf ? 1 : b >= 0xe0 && b <= 0xef ? 2 : b >= 0xf0 && b <= 0xf4 ? 3 : -1;
    if (extra < 0) return i;
    const lo = b === 0xe0 ? 0xa0 : b === 0xf0 ? 0x90 : 0x80;
    const hi = b === 0xed ? 0x9f : b === 0xf4 ? 0x8f : 0xbf;
    for (let k = 1; k <= extra; k++) {
      const c = bytes[i + k];
      if (c === undefined || c < (k === 1 ? lo : 0x80) || c > (k === 1 ? hi : 0xbf)) return i;
    }
    i += extra + 1;
  }
  return bytes.length;
}
