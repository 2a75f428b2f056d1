import { SamplingError } from "./errors";

/**
 * Stop strings matched while streaming, on bytes. Tokens arrive one at a time and a stop string
 * may span several of them ("\n\nUser:" as "\n", "\nUser", ":"), or split a UTF-8 character, so
 * the matcher holds back exactly the bytes that could still turn into a stop string (the longest
 * tail that is the start of one) and releases everything before them at once.
 *
 * When several stop strings match, the one that ends first wins (the longest among those ending
 * at the same byte): the result is the same as feeding the text one byte at a time, so it does
 * not depend on how the text was split into tokens. The output is the text before the match; the
 * stop string itself is not part of it (as the OpenAI API does).
 */
export class StopStrings {
  private readonly stops: Uint8Array[];
  private readonly longest: number;
  private pending = new Uint8Array(64);
  private length = 0;
  /** The stop string that matched, or null. */
  matched: string | null = null;

  constructor(readonly strings: readonly string[]) {
    const utf8 = new TextEncoder();
    this.stops = strings.map((s, i) => {
      if (typeof s !== "string" || s.length === 0) {
        throw new SamplingError("SAMPLING_BAD_OPTION", `stop[${i}]: expected a non-empty string, found ${JSON.stringify(s)}`);
      }
      return utf8.encode(s);
    });
    this.longest = this.stops.reduce((m, s) => Math.max(m, s.length), 0);
  }

  /** Bytes held back because they may still become a stop string. */
  get heldBytes(): number {
    return this.length;
  }

  /**
   * The next token's bytes in; out: the bytes that are now certain to be text (possibly none; with
   * no stop strings, `bytes` itself). After a match, `matched` is set and the bytes returned are
   * those before it.
   */
  push(bytes: Uint8Array): Uint8Array {
    if (this.matched !== null) {
      throw new SamplingError("SAMPLING_BAD_STATE", `stop strings: expected no more text after the stop ${JSON.stringify(this.matched)} matched, found ${bytes.length} more bytes`);
    }
    if (this.stops.length === 0) return bytes; // nothing to hold back (a server streams every token through here)
    this.append(bytes);
    const text = this.pending;
    const n = this.length;
    // the first end position where any stop string is complete
    for (let end = 1; end <= n; end++) {
      let best = -1;
      for (let s = 0; s < this.stops.length; s++) {
        const stop = this.stops[s];
        if (stop.length > end || (best >= 0 && stop.length <= this.stops[best].length)) continue;
        if (endsWith(text, end, stop)) best = s;
      }
      if (best >= 0) {
        this.matched = this.strings[best];
        const before = text.slice(0, end - this.stops[best].length);
        this.length = 0;
        return before;
      }
    }
    // hold back the longest tail that a stop string starts with
    let hold = Math.max(0, Math.min(n, this.longest - 1));
    for (; hold > 0; hold--) if (this.stops.some((stop) => startsWithTail(stop, text, n, hold))) break;
    const out = text.slice(0, n - hold);
    text.copyWithin(0, n - hold, n);
    this.length = hold;
    return out;
  }

  /** Generation ended another way (EOS, max tokens): the held bytes are plain text after all. */
  flush(): Uint8Array {
    const out = this.pending.slice(0, this.length);
    this.length = 0;
    return out;
  }

  private append(bytes: Uint8Array): void {
    if (this.length + bytes.length > this.pending.length) {
      const grown = new Uint8Array(Math.max(2 * this.pending.length, this.length + bytes.length));
      grown.set(this.pending.subarray(0, this.length));
      this.pending = grown;
    }
    this.pending.set(bytes, this.length);
    this.length += bytes.length;
  }
}

/** text[end − |stop| .. end) equals stop. */
function endsWith(text: Uint8Array, end: number, stop: Uint8Array): boolean {
  const start = end - stop.length;
  for (let i = 0; i < stop.length; i++) if (text[start + i] !== stop[i]) return false;
  return true;
}

/** The last `tail` bytes of text[0..n) are the first `tail` bytes of stop (tail < |stop|). */
function startsWithTail(stop: Uint8Array, text: Uint8Array, n: number, tail: number): boolean {
  if (tail >= stop.length) return false;
  for (let i = 0; i < tail; i++) if (stop[i] !== text[n - tail + i]) return false;
  return true;
}

/** TextDecoder's options for text that goes on: one object for every call (this runs once per streamed token). */
const STREAM: TextDecodeOptions = { stream: true };

/** Why generation ended. */
export type StopReason = "eos" | "stop" | "maxTokens";

export interface StopOptions {
  /** Token ids that end generation (not part of the output). */
  eos?: readonly number[];
  /** Strings that end generation (not part of the output). */
  stop?: readonly string[];
  /** The most tokens to generate. Default: no limit. */
  maxTokens?: number;
}

/**
 * All of a request's stop conditions, fed one generated token at a time, producing the text to
 * stream: EOS ids, stop strings across token boundaries (with held-back text) and a token budget.
 * The text is decoded from bytes with incomplete UTF-8 characters held back too, so what is
 * streamed never contains half a character.
 *
 *   const stops = new StopConditions({ eos: [2], stop: ["\n\n"], maxTokens: 64 });
 *   for (const id of tokens) { out.write(stops.push(id, tokenizer.tokenBytes(id))); if (stops.reason) break; }
 *   out.write(stops.finish());
 */
export class StopConditions {
  private readonly eos: ReadonlySet<number>;
  private readonly strings: StopStrings;
  private readonly maxTokens: number;
  private readonly decoder = new TextDecoder("utf-8");
  /** Tokens accepted as output (an EOS id is not counted). */
  generated = 0;
  reason: StopReason | null = null;

  constructor(options: StopOptions = {}) {
    this.eos = new Set(options.eos ?? []);
    this.strings = new StopStrings(options.stop ?? []);
    this.maxTokens = options.maxTokens ?? Infinity;
    if (!(this.maxTokens === Infinity || (Number.isInteger(this.maxTokens) && this.maxTokens >= 0))) {
      throw new SamplingError("SAMPLING_BAD_OPTION", `maxTokens: expected an integer ≥ 0, found ${options.maxTokens}`);
    }
  }

  /** The stop string that ended generation, if one did. */
  get matched(): string | null {
    return this.strings.matched;
  }

  /** One generated token in; the text that can be shown now out. Check `reason` after each call. */
  push(id: number, bytes: Uint8Array): string {
    if (this.reason !== null) {
      throw new SamplingError("SAMPLING_BAD_STATE", `stop conditions: expected no tokens after the stop (${this.reason}), found token ${id}`);
    }
    if (this.eos.has(id)) {
      this.reason = "eos";
      return this.finish();
    }
    this.generated++;
    const text = this.decoder.decode(this.strings.push(bytes), STREAM);
    if (this.strings.matched !== null) {
      this.reason = "stop";
      return text + this.decoder.decode();
    }
    if (this.generated >= this.maxTokens) {
      this.reason = "maxTokens";
      return text + this.finish();
    }
    return text;
  }

  /** The text still held back (call once generation is over for any reason). */
  finish(): string {
    return this.decoder.decode(this.strings.flush());
  }
}
