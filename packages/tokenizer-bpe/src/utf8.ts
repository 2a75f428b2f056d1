import { TokenizerError } from "./errors";

/**
 * UTF-8 with one extension: a lone UTF-16 surrogate (which no valid Unicode string contains,
 * but any JS string may) is written as the 3-byte sequence ED A0..BF 80..BF, the way WTF-8
 * does. That keeps `decode(encode(s)) === s` for every JS string. TextEncoder and tiktoken
 * replace lone surrogates with U+FFFD (EF BF BD) instead; the token boundaries are the same
 * either way because a lone surrogate and U+FFFD both fall in the pre-tokenizer's "other" class.
 */

/** Bytes of `text[start, end)`. Fast path for ASCII; surrogate pairs become 4-byte sequences. */
export function encodeUtf8(text: string, start = 0, end = text.length): Uint8Array {
  let n = 0;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < end && isLowSurrogate(text.charCodeAt(i + 1))) {
      n += 4;
      i++;
    } else n += 3;
  }
  const out = new Uint8Array(n);
  writeUtf8(text, start, end, out, 0);
  return out;
}

/** Writes the bytes of `text[start, end)` into `out` at `at`; returns the offset after them. */
export function writeUtf8(text: string, start: number, end: number, out: Uint8Array, at: number): number {
  let o = at;
  for (let i = start; i < end; i++) {
    let c = text.charCodeAt(i);
    if (c < 0x80) {
      out[o++] = c;
    } else if (c < 0x800) {
      out[o++] = 0xc0 | (c >> 6);
      out[o++] = 0x80 | (c & 63);
    } else {
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < end) {
        const d = text.charCodeAt(i + 1);
        if (isLowSurrogate(d)) {
          c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
          out[o++] = 0xf0 | (c >> 18);
          out[o++] = 0x80 | ((c >> 12) & 63);
          out[o++] = 0x80 | ((c >> 6) & 63);
          out[o++] = 0x80 | (c & 63);
          i++;
          continue;
        }
      }
      // BMP character or lone surrogate (WTF-8): 3 bytes.
      out[o++] = 0xe0 | (c >> 12);
      out[o++] = 0x80 | ((c >> 6) & 63);
      out[o++] = 0x80 | (c & 63);
    }
  }
  return o;
}

function isLowSurrogate(c: number): boolean {
  return c >= 0xdc00 && c <= 0xdfff;
}

/** Number of bytes a UTF-8 sequence starting with `lead` claims (1 for a stray continuation byte). */
export function utf8SequenceLength(lead: number): number {
  if (lead < 0xc0) return 1;
  if (lead < 0xe0) return 2;
  if (lead < 0xf0) return 3;
  return 4;
}

/**
 * Length of the longest prefix of `bytes[0, length)` that ends on a character boundary: a trailing
 * sequence that is valid so far but incomplete is held back (at most 3 bytes). Invalid bytes are
 * not held back: they will decode to U+FFFD whatever follows.
 */
export function completePrefixLength(bytes: Uint8Array, length: number): number {
  // Walk back over at most 3 continuation bytes to the last lead byte.
  let i = length - 1;
  let continuation = 0;
  while (i >= 0 && continuation < 3 && (bytes[i] & 0xc0) === 0x80) {
    i--;
    continuation++;
  }
  if (i < 0) return length;
  const lead = bytes[i];
  if (lead < 0xc2 || lead > 0xf4) return length; // ASCII, stray continuation or invalid lead
  const need = utf8SequenceLength(lead);
  if (continuation + 1 >= need) return length; // complete (or over-long: invalid anyway)
  // The second byte of E0/ED/F0/F4 sequences has a narrower range; an out-of-range one can never complete.
  if (continuation >= 1) {
    const second = bytes[i + 1];
    if (lead === 0xe0 && second < 0xa0) return length;
    if (lead === 0xf0 && second < 0x90) return length;
    if (lead === 0xf4 && second > 0x8f) return length;
  }
  return i;
}

const decoder = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });

/**
 * Decodes UTF-8 (plus the WTF-8 lone-surrogate sequences written by `encodeUtf8`). Invalid bytes
 * become U+FFFD, one per maximal invalid subpart, exactly as TextDecoder does.
 */
export function decodeUtf8(bytes: Uint8Array): string {
  if (!hasSurrogateSequence(bytes)) return decoder.decode(bytes);
  // Split around ED A0..BF xx triples: TextDecoder for the rest, the triple by hand.
  let out = "";
  let from = 0;
  for (let i = 0; i + 2 < bytes.length; i++) {
    if (bytes[i] === 0xed && bytes[i + 1] >= 0xa0 && bytes[i + 1] <= 0xbf && (bytes[i + 2] & 0xc0) === 0x80) {
      // Only when the ED starts a sequence, i.e. it is not itself inside a longer one.
      if (from < i) out += decoder.decode(bytes.subarray(from, i));
      out += String.fromCharCode(0xd000 | ((bytes[i + 1] & 63) << 6) | (bytes[i + 2] & 63));
      i += 2;
      from = i + 1;
    }
  }
  if (from < bytes.length) out += decoder.decode(bytes.subarray(from));
  return out;
}

function hasSurrogateSequence(bytes: Uint8Array): boolean {
  let i = bytes.indexOf(0xed);
  while (i >= 0 && i + 1 < bytes.length) {
    const b = bytes[i + 1];
    if (b >= 0xa0 && b <= 0xbf) return true;
    i = bytes.indexOf(0xed, i + 1);
  }
  return false;
}

const strictDecoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * Offset of the first byte that is not part of a well-formed UTF-8 sequence (Unicode's table
 * 3-7: no overlong forms, no surrogates D800..DFFF, nothing past U+10FFFF), or -1 when all of
 * `bytes` is UTF-8.
 */
export function invalidUtf8Offset(bytes: Uint8Array): number {
  for (let i = 0; i < bytes.length; ) {
    const lead = bytes[i];
    if (lead < 0x80) {
      i++;
      continue;
    }
    const need = lead >= 0xc2 && lead <= 0xdf ? 2 : lead >= 0xe0 && lead <= 0xef ? 3 : lead >= 0xf0 && lead <= 0xf4 ? 4 : 0;
    if (need === 0) return i;
    // The second byte's range is narrower after E0, ED, F0 and F4.
    const low = lead === 0xe0 ? 0xa0 : lead === 0xf0 ? 0x90 : 0x80;
    const high = lead === 0xed ? 0x9f : lead === 0xf4 ? 0x8f : 0xbf;
    for (let k = 1; k < need; k++) {
      const b = bytes[i + k];
      if (b === undefined || b < (k === 1 ? low : 0x80) || b > (k === 1 ? high : 0xbf)) return i;
    }
    i += need;
  }
  return -1;
}

/**
 * Strict UTF-8 for input from outside (files, standard input, the network): invalid bytes are a
 * TOKENIZER_INVALID_UTF8 error giving the byte offset, never U+FFFD in disguise. `source` names
 * the input in the message ("--file notes.txt", "standard input").
 */
export function decodeUtf8Strict(bytes: Uint8Array, source = "input"): string {
  try {
    return strictDecoder.decode(bytes);
  } catch (cause) {
    const at = invalidUtf8Offset(bytes);
    const shown = Array.from(bytes.subarray(at, at + 4), (b) => `0x${b.toString(16).toUpperCase().padStart(2, "0")}`).join(" ");
    throw new TokenizerError("TOKENIZER_INVALID_UTF8", `${source}: expected UTF-8 text, found invalid bytes at byte offset ${at} (${shown})`, { cause });
  }
}

/** Bytes as a "binary string" (one char per byte, 0..255): the key type of rank maps. */
export function bytesToBinary(bytes: Uint8Array, start = 0, end = bytes.length): string {
  let s = "";
  for (let i = start; i < end; i++) s += String.fromCharCode(bytes[i]);
  return s;
}

export function binaryToBytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}
