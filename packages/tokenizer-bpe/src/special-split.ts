import { checkedChunkSize, idChunks, runToEnd } from "./id-chunks";
import { escapeRegExp, type EncodeChunksOptions, type EncodeOptions, type TokenSpan } from "./types";

/** A token and the range [start, end) of the input text it came from. */
export type Emit = (id: number, start: number, end: number) => void;

/**
 * The regular expression that finds any of the allowed special tokens, longest first (so
 * "<|end|>" wins over "<|e" when both are tokens). Kept while the allowed set stays the same,
 * which is every call in practice, so encode does not compile a regex per call.
 */
export class SpecialMatcher {
  private cached: { key: string; re: RegExp } | undefined;

  regexFor(allowed: ReadonlySet<string>): RegExp {
    const sorted = [...allowed].sort((a, b) => b.length - a.length || (a < b ? -1 : 1));
    const key = sorted.join("\u0000");
    if (this.cached?.key !== key) this.cached = { key, re: new RegExp(sorted.map(escapeRegExp).join("|"), "gu") };
    return this.cached.re;
  }
}

/**
 * Walks `text` as special tokens and the plain runs between them: `plain(from, to)` encodes each
 * non-empty run, `special(id, start, end)` takes each special token. The regex is shared between
 * calls (SpecialMatcher) and a paused encode may interleave with another, so the search position
 * is set before every search rather than left in `lastIndex`.
 */
export function* splitAtSpecials(
  text: string,
  specials: ReadonlyMap<string, number>,
  re: RegExp,
  plain: (from: number, to: number) => Generator<void, void, undefined>,
  special: Emit,
): Generator<void, void, undefined> {
  let last = 0;
  for (let m = searchFrom(re, text, 0); m !== null; m = searchFrom(re, text, last)) {
    if (m.index > last) yield* plain(last, m.index);
    const end = m.index + m[0].length;
    special(specials.get(m[0])!, m.index, end);
    last = end;
  }
  if (last < text.length) yield* plain(last, text.length);
}

function searchFrom(re: RegExp, text: string, from: number): RegExpExecArray | null {
  re.lastIndex = from;
  return re.exec(text);
}

/**
 * The four ways to encode (all ids, ids in chunks, a count, ids with source ranges) over one
 * core, `encodeSpans`, that emits each token with its range and yields where it may pause (for
 * `encodeChunks`). SentencePiece and WordPiece share it; byte-level BPE has its own core, which
 * records piece ends instead of a range per token.
 */
export abstract class SpanEncoder {
  protected abstract encodeSpans(text: string, options: EncodeOptions | undefined, emit: Emit): Generator<void, void, undefined>;

  encode(text: string, options?: EncodeOptions): number[] {
    const ids: number[] = [];
    runToEnd(this.encodeSpans(text, options, (id) => ids.push(id)));
    return ids;
  }

  encodeChunks(text: string, options?: EncodeChunksOptions): Generator<Uint32Array, void, undefined> {
    return idChunks((out) => this.encodeSpans(text, options, (id) => out.push(id)), checkedChunkSize(options?.chunkSize));
  }

  countTokens(text: string, options?: EncodeOptions): number {
    let count = 0;
    runToEnd(this.encodeSpans(text, options, () => count++));
    return count;
  }

  encodeWithOffsets(text: string, options?: EncodeOptions): TokenSpan[] {
    const out: TokenSpan[] = [];
    runToEnd(this.encodeSpans(text, options, (id, start, end) => out.push({ id, start, end })));
    return out;
  }
}
