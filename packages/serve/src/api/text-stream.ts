import { createStreamDecoder, type StreamDecoder, type Tokenizer } from "@zero-llm/tokenizer-bpe";

/**
 * Generated ids → text that is safe to send now, with stop strings cut out.
 *
 * Two things hold text back: a token may end inside a UTF-8 character (the tokenizer's
 * StreamDecoder keeps those bytes until the character completes), and the end of the text may be
 * the start of a stop string ("\nus" when "\nuser:" is a stop). Text is released only once no
 * stop string can begin in it, so a stop string that spans several tokens is still cut out whole
 * and never reaches the client. As OpenAI does, the stop string itself is not returned.
 */
export class TextStream {
  private readonly decoder: StreamDecoder;
  private pending = "";
  private stopped = false;

  constructor(tokenizer: Tokenizer, private readonly stops: readonly string[]) {
    this.decoder = createStreamDecoder(tokenizer);
  }

  /** True once a stop string was found: the caller ends the sequence. */
  get hitStop(): boolean {
    return this.stopped;
  }

  /** Adds a generated token; returns the text that can be sent now ("" if none). */
  push(id: number): string {
    if (this.stopped) return "";
    this.pending += this.decoder.push(id);
    return this.release(false);
  }

  /** The sequence ended without a stop string: everything held back (a stop string can still end here). */
  finish(): string {
    if (this.stopped) return "";
    this.pending += this.decoder.flush();
    return this.release(true);
  }

  private release(final: boolean): string {
    const text = this.pending;
    let cut = -1;
    for (const stop of this.stops) {
      const at = text.indexOf(stop);
      if (at >= 0 && (cut < 0 || at < cut)) cut = at;
    }
    if (cut >= 0) {
      this.stopped = true;
      this.pending = "";
      return text.slice(0, cut);
    }
    const keep = final ? 0 : this.partialStopSuffix(text);
    this.pending = text.slice(text.length - keep);
    return text.slice(0, text.length - keep);
  }

  /** Length of the longest end of `text` that is a proper prefix of some stop string. */
  private partialStopSuffix(text: string): number {
    let longest = 0;
    for (const stop of this.stops) {
      for (let len = Math.min(stop.length - 1, text.length); len > longest; len--) {
        if (text.endsWith(stop.slice(0, len))) {
          longest = len;
          break;
        }
      }
    }
    return longest;
  }
}
