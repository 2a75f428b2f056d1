/** What every tokenizer of this package offers, whichever vocabulary it was loaded from. */
export interface EncodeOptions {
  /**
   * Special tokens recognised in the text. Others are encoded as plain text, as tiktoken does
   * with `disallowed_special=()`. Default: none.
   */
  allowedSpecial?: "all" | Iterable<string>;
}

/** `encodeChunks`: the encode options, and how many ids a chunk holds at most. */
export interface EncodeChunksOptions extends EncodeOptions {
  /** Ids per chunk, at most (every chunk but the last is full). Default 65,536. */
  chunkSize?: number;
}

/** One token and the UTF-16 range [start, end) of the input it came from. */
export interface TokenSpan {
  id: number;
  start: number;
  end: number;
}

export interface Tokenizer {
  /** One more than the largest token id. */
  readonly vocabSize: number;
  /** Special tokens by text. */
  readonly specialTokens: ReadonlyMap<string, number>;
  /** Beginning / end of sequence ids when the vocabulary names them (GGUF, llama2.c, our format). Encoding never adds them. */
  readonly bosId?: number | undefined;
  readonly eosId?: number | undefined;
  encode(text: string, options?: EncodeOptions): number[];
  /**
   * The ids of `encode(text, options)`, in order, in chunks of at most `chunkSize` as they are
   * made: memory stays bounded whatever the length of the text (a writer can pass each chunk on
   * before asking for the next). Each chunk is a new array, the caller's to keep.
   */
  encodeChunks(text: string, options?: EncodeChunksOptions): Generator<Uint32Array, void, undefined>;
  /** Tokens with their source ranges, for highlighting. A token that holds part of a character covers the whole character. */
  encodeWithOffsets(text: string, options?: EncodeOptions): TokenSpan[];
  countTokens(text: string, options?: EncodeOptions): number;
  decode(ids: ArrayLike<number>): string;
  decodeBytes(ids: ArrayLike<number>): Uint8Array;
  /** The bytes a token stands for (special tokens: their UTF-8 text). */
  tokenBytes(id: number): Uint8Array;
  /** Human-readable form of a token for display: its text, or `<0xAB>`-style bytes for partial characters. */
  tokenText(id: number): string;
}

/** Normalises `allowedSpecial` into the set of allowed special token texts. */
export function allowedSet(specials: ReadonlyMap<string, number>, allowed: EncodeOptions["allowedSpecial"]): Set<string> {
  if (allowed === undefined) return new Set();
  if (allowed === "all") return new Set(specials.keys());
  const out = new Set<string>();
  for (const s of allowed) if (specials.has(s)) out.add(s);
  return out;
}

export function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/-]/g, "\\$&");
}
