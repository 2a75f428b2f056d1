import { SpmTokenizer } from "./spm";
import type { Tokenizer } from "./types";
import { completePrefixLength, decodeUtf8 } from "./utf8";

/**
 * Decodes tokens as they arrive (a model generating text) without ever emitting half a
 * character: a token may end in the middle of a multi-byte UTF-8 sequence, so up to 3 trailing
 * bytes are held back until the sequence completes. Bytes that can never complete decode to
 * U+FFFD at once. The concatenation of every `push` and the final `flush` equals
 * `tokenizer.decode(allIds)`.
 */
export class StreamDecoder {
  private pending = new Uint8Array(64);
  private length = 0;
  private first = true;

  constructor(
    private readonly tokenizer: Pick<Tokenizer, "tokenBytes">,
    /** Drop a space at the very start (SentencePiece's leading-space rule in reverse). */
    private readonly stripLeadingSpace = false,
  ) {}

  /** Adds one token or several; returns the text that is now complete. */
  push(ids: number | ArrayLike<number>): string {
    if (typeof ids === "number") this.append(this.tokenizer.tokenBytes(ids));
    else for (let k = 0; k < ids.length; k++) this.append(this.tokenizer.tokenBytes(ids[k]));
    const complete = completePrefixLength(this.pending, this.length);
    return this.take(complete);
  }

  /** Ends the stream: whatever is held back decodes now (to U+FFFD if incomplete). */
  flush(): string {
    return this.take(this.length);
  }

  private append(bytes: Uint8Array): void {
    if (this.first && bytes.length > 0) {
      this.first = false;
      if (this.stripLeadingSpace && bytes[0] === 0x20) bytes = bytes.subarray(1);
    }
    if (this.length + bytes.length > this.pending.length) {
      const grown = new Uint8Array(Math.max(this.pending.length * 2, this.length + bytes.length));
      grown.set(this.pending.subarray(0, this.length));
      this.pending = grown;
    }
    this.pending.set(bytes, this.length);
    this.length += bytes.length;
  }

  private take(n: number): string {
    if (n === 0) return "";
    const text = decodeUtf8(this.pending.subarray(0, n));
    this.pending.copyWithin(0, n, this.length);
    this.length -= n;
    return text;
  }
}

/** A stream decoder with the right settings for `tokenizer`. */
export function createStreamDecoder(tokenizer: Tokenizer): StreamDecoder {
  return new StreamDecoder(tokenizer, tokenizer instanceof SpmTokenizer && tokenizer.addSpacePrefix);
}
