import { mergeInWindows } from "./merge-windows";
import { TOKEN_TYPE } from "./gguf/token-type";
import { PairTable } from "./pair-table";
import { CharPairs } from "./char-pairs";
import { SpmMerger, scoreRanks } from "./spm-merge";
import { BigramQueue } from "./spm-queue";
import type { SpanTokens } from "./bpe-merge";
import { concatTokenBytes, displayBytes } from "./token-spans";
import { TokenizerError } from "./errors";
import { SpanEncoder, SpecialMatcher, splitAtSpecials, type Emit } from "./special-split";
import { allowedSet, type EncodeOptions, type Tokenizer } from "./types";
import { decodeUtf8, encodeUtf8 } from "./utf8";
import { SpmVocabulary, type SpmPieceBytes } from "./spm-vocabulary";

/**
 * SentencePiece-style BPE, the Llama 1/2 family (GGUF `tokenizer.ggml.model = "llama"`, llama2.c
 * `tokenizer.bin`). It differs from byte-level BPE in four ways:
 *
 * - no pre-tokenizer: the whole text is one piece, with spaces written as "▁" (U+2581);
 * - a space is put in front of the text (and after each special token): the leading-space rule;
 * - merges are chosen by score: among adjacent pairs whose concatenation is a token, the one
 *   whose token has the highest score merges first (ties: leftmost), starting from characters;
 * - a character left without a token falls back to byte tokens `<0x00>`..`<0xFF>`.
 *
 * This is llama.cpp's `llm_tokenizer_spm` (and llama2.c's `encode`) step for step: `mergeSymbols`
 * and its queue (spm-queue.ts), the plain loop. Texts past a few hundred characters are cut into
 * segments that merge alone (`segmentEnd`), each by the same rule over typed arrays with pieces
 * ranked by score (spm-merge.ts), in windows when a segment is long (merge-windows.ts).
 */

export interface SpmModel {
  /**
   * Token id -> piece text, with spaces as `spaceSymbol`: strings, or their UTF-8 bytes end to
   * end with count + 1 offsets (a GGUF reader's string array, @zero-llm/tensor's
   * GgufStringArray, as it is: the tokenizer then makes no string per piece).
   */
  pieces: readonly string[] | SpmPieceBytes;
  scores: ArrayLike<number>;
  /** GGUF token types (1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte). Default: normal. */
  types?: ArrayLike<number>;
  bosId?: number;
  eosId?: number;
  unknownId?: number;
  /** Put a space in front of the text. Default true (Llama). */
  addSpacePrefix?: boolean;
  /** How a space is written in the pieces: "▁" (SentencePiece, GGUF) or " " (llama2.c). */
  spaceSymbol?: string;
}

/** Segments longer than this (UTF-16 units) merge in windows of WINDOW units. */
const LONG_FRAGMENT = 1 << 16;
const WINDOW = 1 << 13;
/** Fragments up to this long merge as they are; longer ones are cut into segments first. */
const SEGMENTED_FRAGMENT = 256;
/** Units escaped at a time (`escape`). */
const ESCAPE_PIECE = 1 << 16;
/** Windows of one long segment remembered (their text and symbols), in case the next ones repeat them. */
const REPEATED_WINDOWS = 8;
/** The encoder yields (for `encodeChunks`) after this many segments. */
const SEGMENTS_PER_PAUSE = 256;

/** A run of symbols after merging: each one's piece id (-1: byte fallback) and length in UTF-16 units. */
interface Symbols {
  ids: number[];
  lengths: number[];
}

export class SpmTokenizer extends SpanEncoder implements Tokenizer {
  private readonly specials = new SpecialMatcher();
  readonly vocabSize: number;
  readonly specialTokens: ReadonlyMap<string, number>;
  readonly bosId: number | undefined;
  readonly eosId: number | undefined;
  readonly unknownId: number | undefined;
  readonly addSpacePrefix: boolean;
  readonly spaceSymbol: string;
  /** The pieces' bytes and the bytes -> id table (spm-vocabulary.ts): no string per piece. */
  private readonly vocabulary: SpmVocabulary;
  private readonly scores: ArrayLike<number>;
  private readonly types: ArrayLike<number> | undefined;
  private readonly byteIds = new Int32Array(256).fill(-1);
  private readonly bytesCache: (Uint8Array | undefined)[] = [];
  /** The space symbol's bytes, replaced by 0x20 in a piece's bytes (`tokenBytes`); undefined when it is empty or not well-formed UTF-16. */
  private readonly spaceBytes: Uint8Array | undefined;
  /** Every two adjacent code points inside some piece: built with `pairs`, see `segmentEnd`. */
  private joinable: CharPairs | undefined;
  /**
   * (left piece, right piece) -> the piece their texts make, for every such split of every
   * piece: the merge loop's lookup without building strings. Built on the first text longer
   * than SEGMENTED_FRAGMENT (a few tens of ms); shorter texts look the joined text up.
   */
  private pairs: PairTable | undefined;
  /** The typed-array merge loop (spm-merge.ts), built with `pairs`; undefined past MAX_RANK pieces. */
  private merger: SpmMerger | undefined;
  /** Characters that some piece holds but that are no piece themselves: a segment with one merges by the plain queue. */
  private orphans = new Set<number>();
  /**
   * Piece of each BMP character, plus one (0: not looked up yet; 1: none). Zero means "not yet"
   * so the 256 KB need no fill: its pages stay untouched (not resident) for characters never seen.
   */
  private readonly charIds = new Int32Array(0x10000);
  /** The merge loop's queue, reused (the loop never pauses inside). */
  private readonly queue = new BigramQueue();

  constructor(model: SpmModel) {
    super();
    this.vocabulary = isPieceBytes(model.pieces) ? SpmVocabulary.fromBytes(model.pieces) : SpmVocabulary.fromStrings(model.pieces);
    this.scores = model.scores;
    this.types = model.types;
    this.vocabSize = this.vocabulary.size;
    this.bosId = model.bosId;
    this.eosId = model.eosId;
    this.unknownId = model.unknownId;
    this.addSpacePrefix = model.addSpacePrefix ?? true;
    this.spaceSymbol = model.spaceSymbol ?? "\u2581";
    this.spaceBytes = this.spaceSymbol !== "" && !LONE_SURROGATE.test(this.spaceSymbol) ? encodeUtf8(this.spaceSymbol) : undefined;
    if (model.scores.length !== this.vocabSize) {
      throw new TokenizerError("TOKENIZER_BAD_ARGUMENT", `scores: expected one per piece (${this.vocabSize}), found ${model.scores.length}`);
    }
    const specials = new Map<string, number>();
    for (let id = 0; id < this.vocabSize; id++) {
      const byte = this.byteOf(id);
      const type = this.typeOf(id);
      if (byte >= 0 && (type === TOKEN_TYPE.byte || model.types === undefined)) this.byteIds[byte] = id;
      if (type === TOKEN_TYPE.control || type === TOKEN_TYPE.userDefined) specials.set(this.vocabulary.piece(id), id);
    }
    this.specialTokens = specials;
  }

  private typeOf(id: number): number {
    return this.types?.[id] ?? TOKEN_TYPE.normal;
  }

  /** The byte a piece "<0xHH>" (hex digits in either case) stands for, read from its bytes; -1 for any other piece. */
  private byteOf(id: number): number {
    return this.vocabulary.byteTokenValue(id);
  }

  /** Special tokens (when allowed) and the plain text between them, each token with its source range. */
  protected *encodeSpans(text: string, options: EncodeOptions | undefined, emit: Emit): Generator<void, void, undefined> {
    const allowed = allowedSet(this.specialTokens, options?.allowedSpecial);
    if (allowed.size === 0) {
      if (text.length > 0) yield* this.encodeFragment(text, 0, text.length, emit);
      return;
    }
    yield* splitAtSpecials(text, this.specialTokens, this.specials.regexFor(allowed), (from, to) => this.encodeFragment(text, from, to, emit), emit);
  }

  /**
   * One run of plain text (each starts with the leading space, as llama.cpp does after a special
   * token). Long runs merge in windows (merge-windows.ts: same result), so a 50 MB text needs
   * memory for a few windows of symbols, not for 50 M of them.
   */
  private *encodeFragment(text: string, from: number, to: number, emit: Emit): Generator<void, void, undefined> {
    const prefix = this.addSpacePrefix;
    const escaped = this.escape(text, from, to);
    // Offset of escaped[k] in the original text (the prefix maps to the fragment start).
    const shift = prefix ? this.spaceSymbol.length : 0;
    const sourceAt = (k: number): number => from + Math.max(0, k - shift);
    let k = 0; // where the next symbol starts in `escaped`
    const emitSymbol = (id: number, length: number): void => {
      const s = sourceAt(k);
      const e = sourceAt(k + length);
      if (id >= 0) emit(id, s, e);
      else {
        // Byte fallback: one token per UTF-8 byte of the character.
        const piece = escaped.slice(k, k + length);
        for (const byte of encodeUtf8(piece)) {
          const byteId = this.byteIds[byte];
          const fallback = byteId >= 0 ? byteId : this.unknownId;
          if (fallback === undefined) throw new TokenizerError("TOKENIZER_BAD_ARGUMENT", `character ${JSON.stringify(piece)}: expected a piece, a byte token or an unknown token, found none`);
          emit(fallback, s, e);
        }
      }
      k += length;
    };
    if (escaped.length <= SEGMENTED_FRAGMENT) {
      const symbols = this.mergeSymbols(escaped, 0, escaped.length);
      for (let i = 0; i < symbols.ids.length; i++) emitSymbol(symbols.ids[i], symbols.lengths[i]);
      yield;
      return;
    }
    let segments = 0;
    for (let start = 0; start < escaped.length; ) {
      const end = this.segmentEnd(escaped, start);
      if (end - start > LONG_FRAGMENT) {
        // A run (of a letter, of spaces, of "1a") gives the same window text again and again: merge each once.
        const windows = new Map<string, SpanTokens>();
        const mergeWindow = (from: number, to: number): SpanTokens => {
          const text = escaped.slice(start + from, start + to);
          let symbols = windows.get(text);
          if (symbols === undefined) {
            symbols = this.mergeSpan(escaped, start + from, start + to);
            if (windows.size >= REPEATED_WINDOWS) windows.clear();
            windows.set(text, symbols);
          }
          return symbols;
        };
        yield* mergeInWindows(end - start, mergeWindow, {
          window: WINDOW,
          canCut: (p) => (escaped.charCodeAt(start + p) & 0xfc00) !== 0xdc00 || (escaped.charCodeAt(start + p - 1) & 0xfc00) !== 0xd800,
        }, emitSymbol);
      } else if (end - start === 1) {
        emitSymbol(this.charId(escaped.charCodeAt(start)), 1); // one character: nothing to merge (`1a` repeated is only these)
      } else {
        const merger = this.merger;
        const count = merger !== undefined ? this.mergeInto(merger, escaped, start, end) : -1;
        if (merger !== undefined && count >= 0) {
          const { ids, lengths } = merger.out;
          for (let i = 0; i < count; i++) emitSymbol(ids[i], lengths[i]);
        } else {
          const symbols = this.mergeSymbols(escaped, start, end);
          for (let i = 0; i < symbols.ids.length; i++) emitSymbol(symbols.ids[i], symbols.lengths[i]);
        }
      }
      start = end;
      if (++segments === SEGMENTS_PER_PAUSE) {
        segments = 0;
        yield;
      }
    }
  }

  /**
   * text[from, to) with spaces written as the space symbol, and the space prefix. In pieces: one
   * `replaceAll` over 50 MB of spaces held a record of each of its 50 M matches (gigabytes).
   */
  private escape(text: string, from: number, to: number): string {
    let escaped = this.addSpacePrefix ? this.spaceSymbol : "";
    if (this.spaceSymbol === " ") return escaped + text.slice(from, to); // llama2.c: nothing to replace
    for (let k = from; k < to; k += ESCAPE_PIECE) escaped += text.slice(k, Math.min(to, k + ESCAPE_PIECE)).replaceAll(" ", this.spaceSymbol);
    return escaped;
  }

  /**
   * Where the segment starting at `start` ends: at the first two neighbouring characters that no
   * piece holds side by side, or at the end. No merge crosses such a place (every symbol the
   * loop makes is a piece), and the merges on either side do not depend on each other (the
   * queue's order, score then position, restricted to one side is that side's own order), so
   * each segment merges alone to the same symbols. With Llama's vocabularies a word and the "▁"
   * before it are a segment; random letters make segments of seven letters on average.
   */
  private segmentEnd(escaped: string, start: number): number {
    const joinable = this.joinable ?? this.buildPairTables();
    let left = escaped.codePointAt(start)!;
    let p = start + (left > 0xffff ? 2 : 1);
    while (p < escaped.length) {
      const right = escaped.codePointAt(p)!;
      if (!joinable.has(left, right)) break;
      left = right;
      p += right > 0xffff ? 2 : 1;
    }
    return p;
  }

  /**
   * `joinable`, `pairs` (rank: the piece's score rank, scoreRanks), `orphans` and the merger,
   * from each distinct piece's bytes: its characters, and its splits at every character boundary
   * looked up as two pieces.
   */
  private buildPairTables(): CharPairs {
    const joinable = new CharPairs();
    const v = this.vocabulary;
    const pairs = new PairTable(v.distinct * 4);
    const ranks = scoreRanks(this.scores);
    for (let id = 0; id < v.size; id++) {
      const start = v.start(id);
      const end = start + v.byteLength(id);
      if (v.idOfOwnBytes(start, end) !== id) continue; // a repeated piece: its first id stands for it
      let left = -1;
      for (let k = start; k < end; ) {
        const width = utf8Width(v.byteAt(k), end - k);
        const right = codePointAt(v, k, width);
        if (end - start > width && v.idOfOwnBytes(k, k + width) < 0) this.orphans.add(right);
        if (left >= 0) {
          joinable.add(left, right);
          const leftId = v.idOfOwnBytes(start, k);
          const rightId = v.idOfOwnBytes(k, end);
          if (leftId >= 0 && rightId >= 0) pairs.set(leftId, rightId, ranks?.[id] ?? id, id);
        }
        left = right;
        k += width;
      }
    }
    this.pairs = pairs;
    if (ranks !== undefined) this.merger = new SpmMerger(pairs);
    this.joinable = joinable;
    return joinable;
  }

  /**
   * The merge of escaped[from, to) (a window of a long segment) as arrays of its own: by the
   * typed-array loop, else by the plain queue.
   */
  private mergeSpan(escaped: string, from: number, to: number): SpanTokens {
    const merger = this.merger;
    const count = merger !== undefined ? this.mergeInto(merger, escaped, from, to) : -1;
    if (merger === undefined || count < 0) return this.mergeSymbols(escaped, from, to);
    const ids = new Int32Array(count);
    const lengths = new Int32Array(count);
    for (let i = 0; i < count; i++) {
      ids[i] = merger.out.ids[i];
      lengths[i] = merger.out.lengths[i];
    }
    return { ids, lengths };
  }

  /**
   * Merges escaped[from, to) by the typed-array loop (spm-merge.ts) and returns how many symbols
   * it left in `merger.out`; -1 when the span holds an orphan character (one whose pair with a
   * neighbour is found only by its text): the plain queue must do it.
   */
  private mergeInto(merger: SpmMerger, escaped: string, from: number, to: number): number {
    merger.reserve(to - from);
    const { ids, lengths } = merger;
    let count = 0;
    for (let k = from; k < to; ) {
      const c = escaped.charCodeAt(k);
      let id: number;
      let width = 1;
      if (c >= 0xd800 && c <= 0xdbff && k + 1 < to && (escaped.charCodeAt(k + 1) & 0xfc00) === 0xdc00) {
        width = 2;
        id = this.vocabulary.idOfText(escaped, k, k + 2);
        if (id < 0 && this.orphans.has(escaped.codePointAt(k)!)) return -1;
      } else {
        id = this.charId(c);
        if (id < 0 && this.orphans.has(c)) return -1;
      }
      ids[count] = id;
      lengths[count++] = width;
      k += width;
    }
    return merger.merge(count);
  }

  /**
   * The merge loop on escaped[from, to). Symbols start as its characters; `len[i]` is the length
   * of symbol i (0 once merged into its left neighbour) and `prev`/`next` link those still alive.
   * Returns each final symbol's piece id (-1 when it is no piece: byte fallback) and length.
   */
  private mergeSymbols(escaped: string, from: number, to: number): Symbols {
    const start: number[] = [];
    const len: number[] = [];
    for (let k = from; k < to; ) {
      const c = escaped.charCodeAt(k);
      const w = c >= 0xd800 && c <= 0xdbff && k + 1 < to && (escaped.charCodeAt(k + 1) & 0xfc00) === 0xdc00 ? 2 : 1;
      start.push(k);
      len.push(w);
      k += w;
    }
    const n = start.length;
    const prev = start.map((_, i) => i - 1);
    const next = start.map((_, i) => (i + 1 < n ? i + 1 : -1));
    // Each symbol's piece (-1: a character that is none). Every symbol longer than a character is one.
    const ids = start.map((k, i) => (len[i] === 1 ? this.charId(escaped.charCodeAt(k)) : this.vocabulary.idOfText(escaped, k, k + 2)));

    const queue = this.queue;
    queue.length = 0;
    const pairs = this.pairs;
    const tryAdd = (left: number, right: number): void => {
      if (left < 0 || right < 0) return;
      let id: number;
      if (pairs !== undefined && ids[left] >= 0 && ids[right] >= 0) {
        const slot = pairs.find(ids[left], ids[right]);
        if (slot < 0) return;
        id = pairs.mergedAt(slot);
      } else {
        id = this.vocabulary.idOfText(escaped, start[left], start[left] + len[left] + len[right]);
        if (id < 0) return;
      }
      queue.push(this.scores[id], left, right, len[left] + len[right], id);
    };
    for (let i = 1; i < n; i++) tryAdd(i - 1, i);

    while (queue.length > 0) {
      queue.pop();
      const left = queue.topLeft;
      const right = queue.topRight;
      // Stale entries: one side was merged away or has grown since the pair was queued.
      if (len[left] === 0 || len[right] === 0 || len[left] + len[right] !== queue.topSize) continue;
      len[left] = len[left] + len[right];
      len[right] = 0;
      ids[left] = queue.topId;
      next[left] = next[right];
      if (next[right] >= 0) prev[next[right]] = left;
      tryAdd(prev[left], left);
      tryAdd(left, next[left]);
    }

    const out: Symbols = { ids: [], lengths: [] };
    for (let i = n > 0 ? 0 : -1; i !== -1; i = next[i]!) {
      out.ids.push(ids[i]);
      out.lengths.push(len[i]);
    }
    return out;
  }

  private charId(unit: number): number {
    const known = this.charIds[unit];
    if (known !== 0) return known - 1;
    const id = this.vocabulary.idOfText(String.fromCharCode(unit), 0, 1);
    this.charIds[unit] = id + 1;
    return id;
  }

  tokenBytes(id: number): Uint8Array {
    let bytes = this.bytesCache[id];
    if (bytes !== undefined) return bytes;
    if (!this.isId(id)) throw new TokenizerError("TOKENIZER_UNKNOWN_TOKEN_ID", `token id: expected 0..${this.vocabSize - 1}, found ${id}`);
    const type = this.typeOf(id);
    const byte = this.byteOf(id);
    if (byte >= 0 && this.byteIds[byte] === id) bytes = Uint8Array.of(byte);
    else if (type === TOKEN_TYPE.control) bytes = new Uint8Array(0); // <s>, </s> render as nothing, as in llama.cpp
    else if (this.spaceBytes !== undefined) bytes = replaceBytes(this.vocabulary.pieceBytes(id), this.spaceBytes, 0x20);
    else bytes = encodeUtf8(this.vocabulary.piece(id).replaceAll(this.spaceSymbol, " "));
    this.bytesCache[id] = bytes;
    return bytes;
  }

  tokenText(id: number): string {
    const type = this.typeOf(id);
    if (type === TOKEN_TYPE.control || type === TOKEN_TYPE.byte) return this.isId(id) ? this.vocabulary.piece(id) : "";
    return displayBytes(this.tokenBytes(id));
  }

  /** Piece text of a token as stored in the vocabulary ("▁Hello", "<0x0A>", "<s>"). */
  piece(id: number): string {
    if (!this.isId(id)) throw new TokenizerError("TOKENIZER_UNKNOWN_TOKEN_ID", `token id: expected 0..${this.vocabSize - 1}, found ${id}`);
    return this.vocabulary.piece(id);
  }

  private isId(id: number): boolean {
    return Number.isInteger(id) && id >= 0 && id < this.vocabSize;
  }

  score(id: number): number {
    return this.scores[id] ?? 0;
  }

  type(id: number): number {
    return this.typeOf(id);
  }

  decodeBytes(ids: ArrayLike<number>): Uint8Array {
    const bytes = concatTokenBytes(ids, (id) => this.tokenBytes(id));
    // The leading-space rule in reverse: drop the space the encoder put in front.
    if (this.addSpacePrefix && bytes[0] === 0x20) return bytes.subarray(1);
    return bytes;
  }

  decode(ids: ArrayLike<number>): string {
    return decodeUtf8(this.decodeBytes(ids));
  }
}

/** A UTF-16 surrogate without its other half. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * `piece` with each occurrence of `pattern` (left to right, not overlapping) replaced by one
 * byte: the bytes of `text.replaceAll(symbol, " ")` for well-formed `symbol`, since a UTF-8
 * sequence can only match where a character starts (its lead byte fixes its length).
 */
function replaceBytes(piece: Uint8Array, pattern: Uint8Array, by: number): Uint8Array {
  const out = new Uint8Array(piece.length);
  let n = 0;
  for (let i = 0; i < piece.length; ) {
    let match = i + pattern.length <= piece.length;
    for (let k = 0; match && k < pattern.length; k++) match = piece[i + k] === pattern[k];
    if (match) {
      out[n++] = by;
      i += pattern.length;
    } else out[n++] = piece[i++];
  }
  return n === out.length ? out : out.slice(0, n);
}

function isPieceBytes(pieces: readonly string[] | SpmPieceBytes): pieces is SpmPieceBytes {
  return !Array.isArray(pieces);
}

/** Bytes of the character starting with `lead` (a piece's bytes are UTF-8, or WTF-8 for a lone surrogate); at most `left`. */
function utf8Width(lead: number, left: number): number {
  const width = lead < 0xc0 ? 1 : lead < 0xe0 ? 2 : lead < 0xf0 ? 3 : 4;
  return Math.min(width, left);
}

/** The code point of the character at `at` (a lone surrogate's code unit, as `codePointAt` gives it). */
function codePointAt(v: SpmVocabulary, at: number, width: number): number {
  const lead = v.byteAt(at);
  if (width === 1) return lead;
  let c = lead & (width === 2 ? 0x1f : width === 3 ? 0x0f : 0x07);
  for (let i = 1; i < width; i++) c = (c << 6) | (v.byteAt(at + i) & 0x3f);
  return c;
}
