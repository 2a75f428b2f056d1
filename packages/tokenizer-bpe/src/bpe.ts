import { TokenizerError } from "./errors";
import { PairTable } from "./pair-table";
import { compilePattern, patternSource, scannerKind } from "./patterns";
import { cl100kScanner, gpt2Scanner, o200kScanner, regexScanner, type Scanner } from "./scanner";
import { allowedSet, escapeRegExp, type EncodeOptions, type TokenSpan, type Tokenizer } from "./types";
import { concatTokenBytes, displayBytes, spansFromPieces } from "./token-spans";
import { bytesToBinary, decodeUtf8, encodeUtf8 } from "./utf8";

/**
 * Byte-level BPE, the tiktoken / GPT-2 family. Text is split by a pattern into pieces; each
 * piece's UTF-8 bytes start as one token per byte, and the adjacent pair with the lowest merge
 * rank is merged until no pair has a rank (ties: leftmost first). That is tiktoken's
 * `byte_pair_merge`, Hugging Face's BPE model and llama.cpp's `llm_tokenizer_bpe`.
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
  /** Split pattern: a built-in name ("gpt2", "cl100k", "o200k", "llama3", "qwen2") or a regex source. */
  pattern: string;
  specialTokens?: Iterable<readonly [string, number]>;
  /**
   * Added tokens matched in text whether or not they are allowed: Hugging Face added tokens that
   * are not special, GGUF user-defined tokens (e.g. MPT's runs of spaces). They take part in
   * `specialTokens` too.
   */
  addedTokens?: Iterable<readonly [string, number]>;
  /** Look the whole piece up before merging (tiktoken, Llama 3). Default: true without merges, false with. */
  ignoreMerges?: boolean;
  /** Id emitted for a byte that has no token (vocabularies without all 256 bytes). */
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
const NO_RANK = 0x7fffffff;
/** Pieces longer than this (in bytes) merge with a heap instead of repeated scans. */
const LONG_PIECE = 256;

export class BpeTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly specialTokens: ReadonlyMap<string, number>;
  readonly pattern: string;
  readonly merges: ReadonlyArray<readonly [number, number]> | undefined;
  readonly bosId: number | undefined;
  readonly eosId: number | undefined;
  private readonly tokens: ReadonlyArray<Uint8Array | undefined>;
  private readonly bytesToId = new Map<string, number>();
  private readonly byteToId = new Int32Array(256).fill(-1);
  private readonly pairs: PairTable;
  /** tiktoken mode only: id -> bytes as a binary string, to rank pairs on first sight. */
  private readonly binary: string[] | undefined;
  private readonly ignoreMerges: boolean;
  private readonly unknownId: number;
  private readonly scan: Scanner;
  private readonly specialText = new Map<number, string>();
  private readonly alwaysMatched = new Set<string>();
  /** piece text -> its ids (a number when it is a single token, the common case). */
  private readonly cache = new Map<string, number | number[]>();
  private specialRegexCache: { key: string; re: RegExp } | undefined;

  constructor(model: BpeModel) {
    this.tokens = model.tokens;
    this.merges = model.merges;
    this.pattern = patternSource(model.pattern);
    const kind = scannerKind(this.pattern);
    this.scan = kind === "gpt2" ? gpt2Scanner : kind === "cl100k" ? cl100kScanner : kind === "o200k" ? o200kScanner : regexScanner(compilePattern(this.pattern));
    this.ignoreMerges = model.ignoreMerges ?? model.merges === undefined;
    this.unknownId = model.unknownId ?? -1;

    let vocabSize = model.tokens.length;
    model.tokens.forEach((bytes, id) => {
      if (bytes === undefined) return;
      const key = bytesToBinary(bytes);
      if (!this.bytesToId.has(key)) this.bytesToId.set(key, id);
      if (bytes.length === 1 && this.byteToId[bytes[0]!] === -1) this.byteToId[bytes[0]!] = id;
    });
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
    this.vocabSize = vocabSize;
    this.bosId = checkedId("bosId", model.bosId, vocabSize);
    this.eosId = checkedId("eosId", model.eosId, vocabSize);

    if (model.merges !== undefined) {
      this.pairs = new PairTable(model.merges.length);
      model.merges.forEach(([a, b], rank) => {
        const left = model.tokens[a];
        const right = model.tokens[b];
        if (left === undefined || right === undefined) {
          throw new TokenizerError("TOKENIZER_BAD_ARGUMENT", `merges[${rank}]: expected two token ids of the vocabulary, found [${a}, ${b}]`);
        }
        const merged = this.bytesToId.get(bytesToBinary(left) + bytesToBinary(right));
        if (merged !== undefined) this.pairs.set(a, b, rank, merged);
      });
    } else {
      // tiktoken: a pair's rank is the id of the token its bytes concatenate to. Filled lazily by
      // `rankPair`, because enumerating every split of every token up front costs seconds for o200k.
      this.pairs = new PairTable(1 << 16);
      this.binary = model.tokens.map((bytes) => (bytes === undefined ? "" : bytesToBinary(bytes)));
    }
  }

  encode(text: string, options?: EncodeOptions): number[] {
    const out: number[] = [];
    this.encodeInto(text, options, out, undefined);
    return out;
  }

  countTokens(text: string, options?: EncodeOptions): number {
    return this.encode(text, options).length;
  }

  encodeWithOffsets(text: string, options?: EncodeOptions): TokenSpan[] {
    const ids: number[] = [];
    const pieceEnds: number[] = [];
    this.encodeInto(text, options, ids, pieceEnds);
    return spansFromPieces(text, ids, pieceEnds, (id) => this.tokenLength(id));
  }

  /**
   * The encoder's main loop. With `pieceEnds`, also records, after each piece, [ids so far, end
   * of the piece in the text] so offsets can be rebuilt.
   */
  private encodeInto(text: string, options: EncodeOptions | undefined, out: number[], pieceEnds: number[] | undefined): void {
    const allowed = allowedSet(this.specialTokens, options?.allowedSpecial);
    for (const t of this.alwaysMatched) allowed.add(t);
    if (allowed.size === 0) {
      this.encodeOrdinary(text, 0, out, pieceEnds);
      return;
    }
    const re = this.specialRegex(allowed);
    re.lastIndex = 0;
    let last = 0;
    for (let m = re.exec(text); m !== null; m = re.exec(text)) {
      if (m.index > last) this.encodeOrdinary(text.slice(last, m.index), last, out, pieceEnds);
      out.push(this.specialTokens.get(m[0])!);
      last = m.index + m[0].length;
      pieceEnds?.push(out.length, last);
    }
    if (last < text.length) this.encodeOrdinary(last === 0 ? text : text.slice(last), last, out, pieceEnds);
  }

  private encodeOrdinary(text: string, offset: number, out: number[], pieceEnds: number[] | undefined): void {
    const scan = this.scan;
    const cache = this.cache;
    const n = text.length;
    let i = 0;
    while (i < n) {
      const end = scan(text, i);
      const piece = text.slice(i, end);
      let ids = cache.get(piece);
      if (ids === undefined) {
        ids = this.encodePiece(piece);
        if (cache.size >= CACHE_LIMIT) cache.clear();
        cache.set(piece, ids);
      }
      if (typeof ids === "number") out.push(ids);
      else for (let k = 0; k < ids.length; k++) out.push(ids[k]!);
      pieceEnds?.push(out.length, offset + end);
      i = end;
    }
  }

  /** One piece: whole-token lookup (tiktoken), else byte-pair merging. */
  private encodePiece(piece: string): number | number[] {
    const bytes = encodeUtf8(piece);
    if (this.ignoreMerges || bytes.length === 1) {
      const id = this.bytesToId.get(bytesToBinary(bytes));
      if (id !== undefined) return id;
    }
    const ids = this.mergeBytes(bytes);
    return ids.length === 1 ? ids[0]! : ids;
  }

  /**
   * The merge loop over one piece: `parts` are token ids, `ranks[k]` the rank of (parts[k],
   * parts[k+1]). Each step scans for the lowest rank, as tiktoken does: quadratic, and fastest
   * for the short pieces text is made of. Long pieces (a run of 10,000 letters) go to
   * `mergeLong`, which gives the same result in O(n log n).
   */
  mergeBytes(bytes: Uint8Array): number[] {
    if (bytes.length > LONG_PIECE) return this.mergeLong(bytes);
    const parts: number[] = [];
    for (let k = 0; k < bytes.length; k++) {
      const id = this.byteToId[bytes[k]!]!;
      if (id < 0) {
        if (this.unknownId < 0) throw new TokenizerError("TOKENIZER_BAD_ARGUMENT", `byte 0x${bytes[k]!.toString(16)}: expected a token for every byte, found none and no unknown token`);
        parts.push(this.unknownId);
      } else parts.push(id);
    }
    const ranks: number[] = [];
    const merged: number[] = [];
    for (let k = 0; k + 1 < parts.length; k++) this.rankPair(parts, k, ranks, merged);
    for (;;) {
      let best = NO_RANK;
      let at = -1;
      for (let k = 0; k < ranks.length; k++) {
        if (ranks[k]! < best) {
          best = ranks[k]!;
          at = k;
        }
      }
      if (at < 0) break;
      parts[at] = merged[at]!;
      parts.splice(at + 1, 1);
      ranks.splice(at, 1);
      merged.splice(at, 1);
      if (at > 0) this.rankPair(parts, at - 1, ranks, merged);
      if (at < parts.length - 1) this.rankPair(parts, at, ranks, merged);
    }
    return parts;
  }

  /**
   * Heap version of the merge loop. Parts form a linked list over byte positions (`next`,
   * `prev`, `id` indexed by the part's first byte); the heap holds (rank, left position) of
   * candidate pairs, lowest rank then leftmost first, so pops come in the order the scan would
   * choose them. An entry is stale when either part has changed since it was pushed (a part's id
   * only ever changes by growing, so comparing ids is enough) or they are no longer neighbours.
   */
  mergeLong(bytes: Uint8Array): number[] {
    const n = bytes.length;
    const id = new Int32Array(n);
    const next = new Int32Array(n);
    const prev = new Int32Array(n);
    const alive = new Uint8Array(n).fill(1);
    for (let k = 0; k < n; k++) {
      const t = this.byteToId[bytes[k]!]!;
      if (t < 0 && this.unknownId < 0) throw new TokenizerError("TOKENIZER_BAD_ARGUMENT", `byte 0x${bytes[k]!.toString(16)}: expected a token for every byte, found none and no unknown token`);
      id[k] = t < 0 ? this.unknownId : t;
      next[k] = k + 1 < n ? k + 1 : -1;
      prev[k] = k - 1;
    }
    // Heap entries: rank, left and right positions, and the two ids at push time.
    const heapRank: number[] = [];
    const heapLeft: number[] = [];
    const heapRight: number[] = [];
    const heapPair: number[][] = [];
    const less = (i: number, j: number): boolean => heapRank[i]! < heapRank[j]! || (heapRank[i] === heapRank[j] && heapLeft[i]! < heapLeft[j]!);
    const swap = (i: number, j: number): void => {
      [heapRank[i], heapRank[j]] = [heapRank[j]!, heapRank[i]!];
      [heapLeft[i], heapLeft[j]] = [heapLeft[j]!, heapLeft[i]!];
      [heapRight[i], heapRight[j]] = [heapRight[j]!, heapRight[i]!];
      [heapPair[i], heapPair[j]] = [heapPair[j]!, heapPair[i]!];
    };
    const push = (left: number): void => {
      const right = next[left]!;
      if (right < 0) return;
      const pair = [id[left]!, id[right]!];
      const ranks: number[] = [];
      const merged: number[] = [];
      this.rankPair(pair, 0, ranks, merged);
      if (ranks[0] === NO_RANK) return;
      heapRank.push(ranks[0]!);
      heapLeft.push(left);
      heapRight.push(right);
      heapPair.push(pair);
      for (let i = heapRank.length - 1; i > 0; ) {
        const p = (i - 1) >> 1;
        if (!less(i, p)) break;
        swap(i, p);
        i = p;
      }
    };
    const pop = (): void => {
      const last = heapRank.length - 1;
      swap(0, last);
      heapRank.pop();
      heapLeft.pop();
      heapRight.pop();
      heapPair.pop();
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < heapRank.length && less(l, m)) m = l;
        if (r < heapRank.length && less(r, m)) m = r;
        if (m === i) break;
        swap(i, m);
        i = m;
      }
    };
    for (let k = 0; k + 1 < n; k++) push(k);
    while (heapRank.length > 0) {
      const left = heapLeft[0]!;
      const right = heapRight[0]!;
      const [idLeft, idRight] = heapPair[0]!;
      pop();
      if (alive[left] === 0 || next[left] !== right || id[left] !== idLeft || id[right] !== idRight) continue;
      // Merge right into left; the pair's rank is unchanged since both parts are unchanged.
      const pair = [id[left]!, id[right]!];
      const ranks: number[] = [];
      const merged: number[] = [];
      this.rankPair(pair, 0, ranks, merged);
      id[left] = merged[0]!;
      alive[right] = 0;
      next[left] = next[right]!;
      if (next[right]! >= 0) prev[next[right]!] = left;
      if (prev[left]! >= 0) push(prev[left]!);
      push(left);
    }
    const out: number[] = [];
    for (let k = 0; k >= 0; k = next[k]!) out.push(id[k]!);
    return out;
  }

  private rankPair(parts: number[], k: number, ranks: number[], merged: number[]): void {
    const a = parts[k]!;
    const b = parts[k + 1]!;
    let slot = this.pairs.find(a, b);
    if (slot < 0 && this.binary !== undefined) {
      const id = this.bytesToId.get(this.binary[a]! + this.binary[b]!);
      this.pairs.set(a, b, id === undefined ? NO_RANK : id, id ?? -1);
      slot = this.pairs.find(a, b);
    }
    ranks[k] = slot < 0 ? NO_RANK : this.pairs.rankAt(slot); // NO_RANK is also stored for "no such token"
    merged[k] = slot < 0 ? -1 : this.pairs.mergedAt(slot);
  }

  private specialRegex(allowed: Set<string>): RegExp {
    const sorted = [...allowed].sort((a, b) => b.length - a.length || (a < b ? -1 : 1));
    const key = sorted.join("\u0000");
    if (this.specialRegexCache?.key !== key) this.specialRegexCache = { key, re: new RegExp(sorted.map(escapeRegExp).join("|"), "gu") };
    return this.specialRegexCache.re;
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
