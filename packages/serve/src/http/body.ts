import type { IncomingMessage } from "node:http";
import { ServeError } from "../errors";
import { collectBody, type BodyLimits, type BodyRefusal } from "./collect-body";

export type { BodyLimits, BodyRefusal } from "./collect-body";

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

/** The error for a body that could not be read (in either mode: http/collect-body.ts). */
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
 * Reads a request body's bytes within the limits ("main" mode; the front thread runs the same
 * collector): a declared or actual size over the limit is a 413 (refused from Content-Length
 * without reading the rest), a body that does not finish in time a 408, a connection that breaks
 * off a 400.
 */
export function readBodyBytes(req: IncomingMessage, limits: BodyLimits): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    collectBody(req, limits, (outcome) => ("refusal" in outcome ? reject(bodyRefusal(outcome.refusal, outcome.cause)) : resolve(outcome.body)));
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
