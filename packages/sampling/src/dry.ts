import { SamplingError } from "./errors";
import { badId } from "./penalties";
import { expAt, portableLog } from "./portable-math";

/**
 * DRY, "don't repeat yourself" (p-e-w, text-generation-webui; in llama.cpp from koboldcpp): a
 * penalty on the token that would extend a verbatim repetition of earlier text. If the last n
 * tokens already occurred earlier, followed there by token t, then emitting t now repeats n + 1
 * tokens; when n ≥ allowedLength, t's logit is lowered by
 *
 *   multiplier · base^(n − allowedLength)
 *
 * taking for each t the longest such n. Sequence breakers (by default newline, colon, quote and
 * asterisk) end the repetition scan: only the text after the latest breaker counts, and a
 * single-token breaker is never penalised itself, so structured text (lists, dialogue) is free to
 * repeat its punctuation.
 *
 * The repetition lengths for every earlier position come from one Z-function over the reversed
 * window (linear time): z[k] is how many tokens, read backwards from the newest, agree with the
 * ones read backwards from k places earlier.
 *
 * llama.cpp's semantics, step by step: breakers (head token + tail tokens) limit the match length
 * to the tokens after the most recent complete breaker; matches shorter than allowedLength are
 * ignored; the exponent is capped where base^exponent would overflow a float (88.72 / ln base).
 */
export class Dry {
  /** Breaker head id → its tails (an empty tail: the head alone is a breaker). */
  private readonly breakers = new Map<number, Int32Array[]>();
  /** Tokens that are whole breakers on their own: never penalised. */
  private readonly singleTokenBreakers = new Set<number>();
  private readonly maxExponent: number;
  private readonly lnBase: number;
  /** base^exponent is computed in here (a double returned from a call would be boxed). */
  private readonly power = new Float64Array(1);
  private z = new Int32Array(0);
  /** 1 + the longest repetition each token would extend (0: none); cleared after each call via `touched`. */
  private maxRepeat = new Int32Array(0);
  private touched = new Int32Array(0);

  constructor(
    readonly multiplier: number,
    readonly base: number,
    readonly allowedLength: number,
    readonly window: number,
    sequenceBreakers: readonly (readonly number[])[],
  ) {
    for (const breaker of sequenceBreakers) {
      if (breaker.length === 0) throw new SamplingError("SAMPLING_BAD_OPTION", "dryBreakers: expected non-empty token sequences, found []");
      for (const id of breaker) {
        if (!Number.isInteger(id) || id < 0) throw new SamplingError("SAMPLING_BAD_OPTION", `dryBreakers: expected token ids ≥ 0, found ${id}`);
      }
      const tails = this.breakers.get(breaker[0]) ?? [];
      tails.push(Int32Array.from(breaker.slice(1)));
      this.breakers.set(breaker[0], tails);
      if (breaker.length === 1) this.singleTokenBreakers.add(breaker[0]);
    }
    // llama.cpp: FLT_MAX's log over ln base, truncated; 0 (no cap) for a base that is 1 or less
    this.lnBase = portableLog(base);
    this.maxExponent = base > 1.000001 ? Math.trunc(88.7228391 / this.lnBase) : 0;
  }

  get active(): boolean {
    return this.multiplier !== 0 && this.base >= 1 && this.window > 0;
  }

  /** Checks the breakers against the vocabulary size (once per size). */
  checkVocabulary(vocab: number): void {
    for (const [head, tails] of this.breakers) {
      if (head >= vocab) badId("dryBreakers", head, vocab);
      for (const tail of tails) for (const id of tail) if (id >= vocab) badId("dryBreakers", id, vocab);
    }
  }

  apply(row: Float32Array, history: ArrayLike<number>): void {
    const length = this.window >= history.length ? history.length : this.window;
    if (length <= this.allowedLength) return;
    const end = history.length;
    // token i places back from the newest: history[end − 1 − i]
    const limit = this.repetitionLimit(history, end, length);
    if (limit < this.allowedLength) return;

    if (this.z.length < length) this.z = new Int32Array(Math.max(length, 2 * this.z.length));
    if (this.maxRepeat.length !== row.length) {
      this.maxRepeat = new Int32Array(row.length);
      this.touched = new Int32Array(row.length);
    }
    const { z, maxRepeat, touched } = this;
    zFunctionBackwards(z, history, end, length);

    // position p (p = end − 1 − k) ends a copy of the newest z[k] tokens; the token after it
    // would extend that copy
    let nTouched = 0;
    for (let k = 1; k < length; k++) {
      const repeat = Math.min(z[k], limit);
      if (repeat < this.allowedLength) continue;
      const next = history[end - k];
      if (!(next >= 0 && next < row.length)) badId("history", next, row.length, end - k);
      if (maxRepeat[next] === 0) touched[nTouched++] = next;
      if (repeat + 1 > maxRepeat[next]) maxRepeat[next] = repeat + 1;
    }
    for (let t = 0; t < nTouched; t++) {
      const id = touched[t];
      const repeat = maxRepeat[id] - 1;
      maxRepeat[id] = 0;
      if (this.singleTokenBreakers.has(id)) continue;
      let exponent = repeat - this.allowedLength;
      if (this.maxExponent > 0 && exponent > this.maxExponent) exponent = this.maxExponent;
      this.power[0] = exponent * this.lnBase;
      expAt(this.power, 0);
      row[id] -= this.multiplier * this.power[0];
    }
  }

  /**
   * How many of the newest tokens may count as a repetition: the tokens after the most recent
   * complete sequence breaker (all `length` tokens when there is none). Scanning back from the
   * newest token, the first position that starts a breaker whose tail follows it in full wins;
   * among that head's breakers the longest matching tail.
   */
  private repetitionLimit(history: ArrayLike<number>, end: number, length: number): number {
    if (this.breakers.size === 0) return length;
    for (let i = 0; i < length; i++) {
      const tails = this.breakers.get(history[end - 1 - i]);
      if (tails === undefined) continue;
      let longest = -1;
      for (const tail of tails) {
        if (tail.length <= longest || tail.length > i) continue;
        let match = true;
        for (let t = 0; t < tail.length && match; t++) match = tail[t] === history[end - i + t];
        if (match) longest = tail.length;
      }
      if (longest >= 0) return i - longest;
    }
    return length;
  }
}

/**
 * Z-function of the window read backwards from the newest token: s[m] = history[end − 1 − m],
 * z[k] = the largest n with s[0..n) = s[k..k+n) (k ≥ 1). Linear time: [left, right) is the
 * rightmost match found so far, whose inside mirrors the start of s.
 */
function zFunctionBackwards(z: Int32Array, history: ArrayLike<number>, end: number, length: number): void {
  const last = end - 1;
  let left = 0, right = 0;
  z[0] = length;
  for (let k = 1; k < length; k++) {
    let n = k < right ? Math.min(right - k, z[k - left]) : 0;
    while (k + n < length && history[last - n] === history[last - k - n]) n++;
    z[k] = n;
    if (k + n > right) {
      left = k;
      right = k + n;
    }
  }
}

/** A vocabulary as DRY needs it to turn breaker strings into token sequences. */
export interface DryVocabulary {
  /** Number of tokens. */
  readonly size: number;
  /** The bytes token `id` stands for. */
  tokenBytes(id: number): Uint8Array;
  /** Token ids of a text (no special tokens, no BOS). */
  encode(text: string): ArrayLike<number>;
}

/** llama.cpp's default DRY sequence breakers. */
export const DRY_DEFAULT_BREAKERS: readonly string[] = ["\n", ":", "\"", "*"];

/** Longest breaker string accepted, in UTF-8 bytes (llama.cpp's limit). */
const MAX_BREAKER_BYTES = 40;

/**
 * Breaker strings → the token sequences the sampler matches, as llama.cpp does it: every token
 * whose text contains the string is a breaker by itself; a token whose text ends with the start
 * of the string is a breaker head, followed by the tokens of the rest of the string. Works on
 * bytes; a rest that is not whole UTF-8 (the string split inside a character) has no token
 * sequence of its own and is left out.
 */
export function dryBreakersFromStrings(breakers: readonly string[], vocab: DryVocabulary): number[][] {
  const out: number[][] = [];
  const seen = new Set<string>();
  const add = (seq: ArrayLike<number>): void => {
    const key = Array.from(seq).join(",");
    if (!seen.has(key)) {
      seen.add(key);
      out.push(Array.from(seq));
    }
  };
  const utf8 = new TextEncoder();
  const strict = new TextDecoder("utf-8", { fatal: true });
  for (const text of breakers) {
    const s = utf8.encode(text);
    if (s.length === 0 || s.length > MAX_BREAKER_BYTES) {
      throw new SamplingError("SAMPLING_BAD_OPTION", `dry breaker ${JSON.stringify(text)}: expected 1 to ${MAX_BREAKER_BYTES} UTF-8 bytes, found ${s.length}`);
    }
    for (let id = 0; id < vocab.size; id++) {
      const word = vocab.tokenBytes(id);
      if (indexOfBytes(word, s) >= 0) {
        add([id]);
        continue;
      }
      for (let pos = word.indexOf(s[0]); pos >= 0; pos = word.indexOf(s[0], pos + 1)) {
        // the token's tail word[pos..] must be a prefix of s (it is shorter than s: s is not inside word)
        const overlap = word.length - pos;
        if (overlap >= s.length) continue;
        let match = true;
        for (let i = 1; i < overlap && match; i++) match = word[pos + i] === s[i];
        if (!match) continue;
        let rest: string;
        try {
          rest = strict.decode(s.subarray(overlap));
        } catch {
          continue;
        }
        add([id, ...Array.from(vocab.encode(rest))]);
      }
    }
  }
  return out;
}

function indexOfBytes(haystack: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}
