import { MAX_RANK, MergeScratch, NO_TOKEN, byteToken, mergeByRankPasses, mergeByScan, type ByteTokens, type PairLookup } from "./bpe-merge";
import { mergeInWindows } from "./merge-windows";
import { checkedChunkSize, idChunks, runToEnd } from "./id-chunks";
import { TokenizerError } from "./errors";
import { PairTable, TiktokenPairs } from "./pair-table";
import { patternSource } from "./patterns";
import { scannerFor } from "./pre-tokenizers";
import type { Scanner } from "./scanner";
import { SpecialMatcher, splitAtSpecials } from "./special-split";
import { allowedSet, type EncodeChunksOptions, type EncodeOptions, type TokenSpan, type Tokenizer } from "./types";
import { concatTokenBytes, displayBytes, spansFromPieces } from "./token-spans";
import { bytesToBinary, decodeUtf8, encodeUtf8 } from "./utf8";

/**
 * Byte-level BPE, the tiktoken / GPT-2 family. Text is split into pieces by the pre-tokenizer
 * (one pattern, or several in sequence); each piece's UTF-8 bytes are merged into tokens by
 * rank (bpe-merge.ts). That is tiktoken's `byte_pair_merge`, Hugging Face's BPE model and
 * llama.cpp's `llm_tokenizer_bpe`.
 *
 * Ranks come in two flavours:
 * - tiktoken: a pair's rank is the rank (= id) of the token its bytes concatenate to;
 * - merges list (Hugging Face, GGUF, our trained files): a pair's rank is its index in the list.
 */
export interface BpeModel {
  /** Token id -> bytes. Holes (undefined) are allowed for ids used only by special tokens. */
  tokens: ReadonlyArray<Uint8Array | undefined>;
  /** Merges as id pairs, highest priority first. Absent: tiktoken ranks (the merged token's id). */
  merges?: ReadonlyArray<readonly [number, number]>;
  /**
   * Split pattern: a built-in name ("gpt2", "cl100k", "o200k", "llama3", "qwen2") or a regex
   * source; or several, applied in sequence (each splits the pieces of the one before), as
   * falcon's or deepseek's pre-tokenizers do (see GGUF_PRE_TOKENIZERS).
   */
  pattern: string | readonly string[];
  specialTokens?: Iterable<readonly [string, number]>;
  /**
   * Added tokens matched in text whether or not they are allowed: Hugging Face added tokens that
   * are not special, GGUF user-defined tokens (e.g. MPT's runs of spaces). They take part in
   * `specialTokens` too.
   */
  addedTokens?: Iterable<readonly [string, number]>;
  /** Look the whole piece up before merging (tiktoken, Llama 3). Default: true without merges, false with. */
  ignoreMerges?: boolean;
  /**
   * Id emitted for a byte that has no token (vocabularies without all 256 bytes). Without one,
   * such bytes are dropped, as llama.cpp and Hugging Face do; `bytesWithoutToken` lists them.
   */
  unknownId?: number;
  /** Beginning / end of sequence ids, for callers that frame prompts; encode never adds them. */
  bosId?: number;
  eosId?: number;
}

function checkedId(field: string, id: number | undefined, vocabSize: number): number | undefined {
  if (id !== undefined && (!Number.isInteger(id) || id < 0 || id >= vocabSize)) {
    throw new TokenizerError("TOKENIZER_BAD_ARGUMENT", `${field}: expected a token id in 0..${vocabSize - 1}, found ${id}`);
  }
  return id;
}

const CACHE_LIMIT = 100_000;
/** Pieces up to this many UTF-16 units are cached; longer ones are rare and would pin memory. */
const CACHED_PIECE = 256;
/** Pieces longer than this (bytes) merge by rank passes instead of repeated scans. */
const SCAN_LIMIT = 256;
/** Pieces longer than this (bytes) merge in windows (merge-windows.ts); below, one rank-pass loop. */
const LONG_PIECE = 1 << 16;
/** Pieces of this many bytes or more build (once) and use TiktokenPairs' complete pair table. */
const COMPLETE_PAIRS_PIECE = 1_000_000;
/** First window size (bytes). Windows double where merges reach further than their margin. */
const WINDOW = 1 << 13;

/** What the package's own modules read beyond the public API: the merge loop's tables, the token bytes. */
export interface MergeTables {
  tokens: ByteTokens;
  pairs: PairLookup;
  /** Token id -> bytes, holes (special or unused ids) undefined. */
  tokenBytes: ReadonlyArray<Uint8Array | undefined>;
}
const mergeTables = new WeakMap<BpeTokenizer, MergeTables>();

/** The next match of a global regex at or after `from`. */
/** Internal (not exported from the package): the merge tables of a tokenizer. */
export function mergeTablesOf(tok: BpeTokenizer): MergeTables {
  return mergeTables.get(tok)!;
}

export class BpeTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly specialTokens: ReadonlyMap<string, number>;
  /** The split patterns in order, in published syntax (built-in names resolved). */
  readonly patterns: readonly string[];
  readonly merges: ReadonlyArray<readonly [number, number]> | undefined;
  /** True when a piece that is a token as a whole is emitted without merging. */
  readonly ignoreMerges: boolean;
  /** Bytes that have no token of their own and no unknown token: encoding drops them. Usually none. */
  readonly bytesWithoutToken: readonly number[];
  readonly bosId: number | undefined;
  readonly eosId: number | undefined;
  private readonly tokens: ReadonlyArray<Uint8Array | undefined>;
  private readonly bytesToId = new Map<string, number>();
  private readonly byteTokens: ByteTokens;
  private readonly pairs: PairLookup;
  private readonly steps: readonly Scanner[];
  private readonly specialText = new Map<number, string>();
  /** Added tokens (`BpeModel.addedTokens`): matched in any text, allowed or not. */
  readonly addedTokens: ReadonlySet<string>;
  private readonly alwaysMatched = new Set<string>();
  /** piece text -> its ids (a number when it is a single token, the common case). */
  private readonly cache = new Map<string, number | number[]>();
  private readonly specials = new SpecialMatcher();
  /** Bytes in the longest token: a longer piece is never one token. */
  private readonly longestToken: number;
  private mergeScratch: MergeScratch | undefined;

  constructor(model: BpeModel) {
    this.tokens = model.tokens;
    this.merges = model.merges;
    this.patterns = (typeof model.pattern === "string" ? [model.pattern] : model.pattern).map(patternSource);
    if (this.patterns.length === 0) throw new TokenizerError("TOKENIZER_BAD_PATTERN", "pattern: expected at least one split pattern, found an empty list");
    this.steps = this.patterns.map(scannerFor);
    this.ignoreMerges = model.ignoreMerges ?? model.merges === undefined;

    let vocabSize = model.tokens.length;
    const byteToId = new Int32Array(256).fill(-1);
    let longest = 0;
    model.tokens.forEach((bytes, id) => {
      if (bytes === undefined) return;
      longest = Math.max(longest, bytes.length);
      const key = bytesToBinary(bytes);
      if (!this.bytesToId.has(key)) this.bytesToId.set(key, id);
      if (bytes.length === 1 && byteToId[bytes[0]] === -1) byteToId[bytes[0]] = id;
    });
    this.longestToken = longest;
    this.byteTokens = { byteToId, unknownId: model.unknownId ?? NO_TOKEN };
    this.bytesWithoutToken = model.unknownId === undefined ? [...byteToId.keys()].filter((b) => byteToId[b] === -1) : [];
    const specials = new Map<string, number>();
    for (const [text, id] of model.specialTokens ?? []) {
      specials.set(text, id);
      this.specialText.set(id, text);
      vocabSize = Math.max(vocabSize, id + 1);
    }
    for (const [text, id] of model.addedTokens ?? []) {
      specials.set(text, id);
      this.specialText.set(id, text);
      this.alwaysMatched.add(text);
      vocabSize = Math.max(vocabSize, id + 1);
    }
    this.specialTokens = specials;
    this.addedTokens = this.alwaysMatched;
    // Ranks and ids pack with a byte position into one double in the merge loop's heap.
    if (vocabSize > MAX_RANK || (model.merges?.length ?? 0) > MAX_RANK) {
      throw new TokenizerError("TOKENIZER_BAD_ARGUMENT", `vocabulary: expected at most ${MAX_RANK} token ids and merges, found ${Math.max(vocabSize, model.merges?.length ?? 0)}`);
    }
    this.vocabSize = vocabSize;
    this.bosId = checkedId("bosId", model.bosId, vocabSize);
    this.eosId = checkedId("eosId", model.eosId, vocabSize);

    if (model.merges !== undefined) {
      const table = new PairTable(model.merges.length);
      model.merges.forEach(([a, b], rank) => {
        const left = model.tokens[a];
        const right = model.tokens[b];
        if (left === undefined || right === undefined) {
          throw new TokenizerError("TOKENIZER_BAD_ARGUMENT", `merges[${rank}]: expected two token ids of the vocabulary, found [${a}, ${b}]`);
        }
        const merged = this.bytesToId.get(bytesToBinary(left) + bytesToBinary(right));
        if (merged !== undefined) table.set(a, b, rank, merged);
      });
      this.pairs = table;
    } else {
      this.pairs = new TiktokenPairs(this.tokens);
    }
    mergeTables.set(this, { tokens: this.byteTokens, pairs: this.pairs, tokenBytes: this.tokens });
  }

  encode(text: string, options?: EncodeOptions): number[] {
    const out: number[] = [];
    runToEnd(this.encodeInto(text, options, out, undefined, Infinity));
    return out;
  }

  encodeChunks(text: string, options?: EncodeChunksOptions): Generator<Uint32Array, void, undefined> {
    return idChunks((out, pauseAt) => this.encodeInto(text, options, out, undefined, pauseAt), checkedChunkSize(options?.chunkSize));
  }

  countTokens(text: string, options?: EncodeOptions): number {
    let count = 0;
    for (const chunk of this.encodeChunks(text, options)) count += chunk.length;
    return count;
  }

  encodeWithOffsets(text: string, options?: EncodeOptions): TokenSpan[] {
    const ids: number[] = [];
    const pieceEnds: number[] = [];
    runToEnd(this.encodeInto(text, options, ids, pieceEnds, Infinity));
    return spansFromPieces(text, ids, pieceEnds, (id) => this.tokenLength(id));
  }

  /**
   * The encoder's main loop: appends the ids to `out`, and yields (where a piece ends, or a
   * window of a long piece) once `out` holds `pauseAt` ids or more, so that `encodeChunks` can
   * pass them on. With `pieceEnds`, also records, after each piece, [ids so far, end of the
   * piece in the text] so offsets can be rebuilt.
   */
  private *encodeInto(text: string, options: EncodeOptions | undefined, out: number[], pieceEnds: number[] | undefined, pauseAt: number): Generator<void, void, undefined> {
    const allowed = allowedSet(this.specialTokens, options?.allowedSpecial);
    for (const t of this.alwaysMatched) allowed.add(t);
    if (allowed.size === 0) {
      yield* this.encodeOrdinary(text, 0, out, pieceEnds, pauseAt);
      return;
    }
    yield* splitAtSpecials(
      text,
      this.specialTokens,
      this.specials.regexFor(allowed),
      (from, to) => this.encodeOrdinary(text.slice(from, to), from, out, pieceEnds, pauseAt),
      (id, _start, end) => {
        out.push(id);
        pieceEnds?.push(out.length, end);
      },
    );
  }

  /** Text without special tokens: split by the first pattern, each piece by the next, then merge. */
  private *encodeOrdinary(text: string, offset: number, out: number[], pieceEnds: number[] | undefined, pauseAt: number, step = 0): Generator<void, void, undefined> {
    if (step === this.steps.length - 1) {
      yield* this.encodePieces(text, this.steps[step], offset, out, pieceEnds, pauseAt);
      return;
    }
    const scan = this.steps[step];
    for (let i = 0; i < text.length; ) {
      const end = scan(text, i);
      yield* this.encodeOrdinary(text.slice(i, end), offset + i, out, pieceEnds, pauseAt, step + 1);
      i = end;
    }
  }

  /** The last split and the merge of each piece: the hot loop (one pattern, as for tiktoken, comes straight here). */
  private *encodePieces(text: string, scan: Scanner, offset: number, out: number[], pieceEnds: number[] | undefined, pauseAt: number): Generator<void, void, undefined> {
    const cache = this.cache;
    const n = text.length;
    let i = 0;
    while (i < n) {
      const end = scan(text, i);
      if (end - i > LONG_PIECE) {
        // Straight into `out` (and never cached): a long run makes its ids once, window by window.
        const bytes = encodeUtf8(text.slice(i, end));
        const id = this.ignoreMerges && bytes.length <= this.longestToken ? this.bytesToId.get(bytesToBinary(bytes)) : undefined;
        if (id !== undefined) out.push(id);
        else yield* this.mergeLong(bytes, out);
        pieceEnds?.push(out.length, offset + end);
        i = end;
        continue;
      }
      const piece = text.slice(i, end);
      let ids = cache.get(piece);
      if (ids === undefined) {
        ids = this.encodePiece(piece);
        if (piece.length <= CACHED_PIECE) {
          if (cache.size >= CACHE_LIMIT) cache.clear();
          cache.set(piece, ids);
        }
      }
      if (typeof ids === "number") out.push(ids);
      else for (let k = 0; k < ids.length; k++) out.push(ids[k]);
      pieceEnds?.push(out.length, offset + end);
      i = end;
      if (out.length >= pauseAt) yield;
    }
  }

  /** One piece: whole-token lookup (tiktoken, Llama 3), else byte-pair merging. */
  private encodePiece(piece: string): number | number[] {
    const bytes = encodeUtf8(piece);
    if ((this.ignoreMerges && bytes.length <= this.longestToken) || bytes.length === 1) {
      const id = this.bytesToId.get(bytesToBinary(bytes));
      if (id !== undefined) return id;
    }
    const ids = this.merge(bytes);
    return ids.length === 1 ? ids[0] : ids;
  }

  /** The merge loop for one piece's bytes, by the variant that suits its length (same result). */
  private merge(bytes: Uint8Array): number[] {
    let ids: number[];
    if (bytes.length === 1) ids = [byteToken(this.byteTokens, bytes[0])];
    else if (bytes.length <= SCAN_LIMIT) ids = mergeByScan(bytes, this.byteTokens, this.pairs);
    else if (bytes.length <= LONG_PIECE) ids = Array.from(mergeByRankPasses(bytes, this.byteTokens, this.pairs, this.scratch()).ids);
    else runToEnd(this.mergeLong(bytes, (ids = [])));
    return this.bytesWithoutToken.length === 0 ? ids : ids.filter((id) => id !== NO_TOKEN);
  }

  /**
   * A piece longer than LONG_PIECE bytes, merged in windows (merge-windows.ts): its ids go to
   * `out` as they become final, and it yields after each window.
   */
  private *mergeLong(bytes: Uint8Array, out: number[]): Generator<void, void, undefined> {
    const scratch = this.scratch();
    // tiktoken ranks: a megabyte of merging pays for building the complete pair table.
    const pairs = this.pairs instanceof TiktokenPairs && bytes.length >= COMPLETE_PAIRS_PIECE ? this.pairs.complete() : this.pairs;
    const emit = this.bytesWithoutToken.length === 0 ? (id: number): void => void out.push(id) : (id: number): void => void (id !== NO_TOKEN && out.push(id));
    yield* mergeInWindows(bytes.length, (from, to) => mergeByRankPasses(bytes.subarray(from, to), this.byteTokens, pairs, scratch), { window: WINDOW }, emit);
  }

  /** The merge loop's arrays, kept for the next long piece (they grow to the longest window). */
  private scratch(): MergeScratch {
    return (this.mergeScratch ??= new MergeScratch());
  }

  tokenBytes(id: number): Uint8Array {
    const bytes = this.tokens[id];
    if (bytes !== undefined) return bytes;
    const special = this.specialText.get(id);
    if (special !== undefined) return encodeUtf8(special);
    throw new TokenizerError("TOKENIZER_UNKNOWN_TOKEN_ID", `token id: expected one of the vocabulary's ids (0..${this.vocabSize - 1}), found ${id}`);
  }

  private tokenLength(id: number): number {
    return this.tokenBytes(id).length;
  }

  /** Id of the token with exactly these bytes, if any. */
  tokenId(bytes: Uint8Array): number | undefined {
    return this.bytesToId.get(bytesToBinary(bytes));
  }

  tokenText(id: number): string {
    return displayBytes(this.tokenBytes(id));
  }

  decodeBytes(ids: ArrayLike<number>): Uint8Array {
    return concatTokenBytes(ids, (id) => this.tokenBytes(id));
  }

  decode(ids: ArrayLike<number>): string {
    return decodeUtf8(this.decodeBytes(ids));
  }
}
