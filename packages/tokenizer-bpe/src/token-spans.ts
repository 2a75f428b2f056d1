import type { TokenSpan } from "./types";
import { decodeUtf8 } from "./utf8";

/** Helpers shared by both tokenizer modes: joining token bytes, display text, and token offsets. */

export function concatTokenBytes(ids: ArrayLike<number>, bytesOf: (id: number) => Uint8Array): Uint8Array {
  let total = 0;
  for (let k = 0; k < ids.length; k++) total += bytesOf(ids[k]).length;
  const out = new Uint8Array(total);
  let at = 0;
  for (let k = 0; k < ids.length; k++) {
    const b = bytesOf(ids[k]);
    out.set(b, at);
    at += b.length;
  }
  return out;
}

/** Text when the bytes are whole UTF-8 characters, else each byte as `<0xAB>` around the valid part. */
export function displayBytes(bytes: Uint8Array): string {
  const text = decodeUtf8(bytes);
  if (!text.includes("\ufffd") || bytes.length === 3 && bytes[0] === 0xef && bytes[1] === 0xbf && bytes[2] === 0xbd) return text;
  let out = "";
  for (const b of bytes) out += `<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`;
  return out;
}

/**
 * Rebuilds token spans from the encoder's record: after each piece, [number of ids so far,
 * piece end]. Inside a piece, each token's byte range [b0, b1) maps to code units through the
 * piece's character boundaries; a token that starts or ends inside a character covers all of it.
 */
export function spansFromPieces(text: string, ids: number[], pieceEnds: number[], lengthOf: (id: number) => number): TokenSpan[] {
  const spans: TokenSpan[] = [];
  const unitAt: number[] = [];
  const byteAt: number[] = [];
  let tokenAt = 0;
  let pieceStart = 0;
  for (let p = 0; p < pieceEnds.length; p += 2) {
    const idsEnd = pieceEnds[p];
    const pieceEnd = pieceEnds[p + 1];
    // Character boundaries of the piece: code unit and byte offset, ending with the piece end.
    unitAt.length = 0;
    byteAt.length = 0;
    let bytes = 0;
    for (let u = pieceStart; u < pieceEnd; u += charUnits(text, u)) {
      unitAt.push(u);
      byteAt.push(bytes);
      bytes += charUtf8Length(text, u);
    }
    unitAt.push(pieceEnd);
    byteAt.push(bytes);
    let b0 = 0;
    let s = 0;
    let e = 0;
    for (; tokenAt < idsEnd; tokenAt++) {
      const id = ids[tokenAt];
      const b1 = b0 + lengthOf(id);
      while (s + 1 < byteAt.length && byteAt[s + 1] <= b0) s++;
      while (e < byteAt.length - 1 && byteAt[e] < b1) e++;
      spans.push({ id, start: unitAt[s], end: unitAt[e] });
      b0 = b1;
    }
    pieceStart = pieceEnd;
  }
  return spans;
}

function charUnits(text: string, i: number): number {
  const c = text.charCodeAt(i);
  if (c >= 0xd800 && c <= 0xdbff) {
    const d = text.charCodeAt(i + 1);
    if (d >= 0xdc00 && d <= 0xdfff) return 2;
  }
  return 1;
}

function charUtf8Length(text: string, i: number): number {
  const c = text.charCodeAt(i);
  if (c < 0x80) return 1;
  if (c < 0x800) return 2;
  return charUnits(text, i) === 2 ? 4 : 3;
}

