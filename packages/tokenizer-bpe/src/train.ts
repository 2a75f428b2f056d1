import { BpeTokenizer } from "./bpe";
import { TokenizerError } from "./errors";
import { patternSource } from "./patterns";
import { scannerFor } from "./pre-tokenizers";
import { encodeUtf8 } from "./utf8";

/**
 * Byte-level BPE training. Start from the 256 byte tokens (id = byte value); split the text with
 * the pattern and count each distinct piece once with its frequency; then repeatedly merge the
 * most frequent adjacent pair into a new token (id 256, 257, ...) until the vocabulary reaches
 * `vocabSize`. Special tokens get the ids after the last merge.
 *
 * A text can run out of pairs before `vocabSize` is reached (every piece already one token).
 * Training then stops there and the vocabulary is smaller, as Hugging Face's BpeTrainer does;
 * `trainBpeWithReport` says so (`shortfall`), and `exact: true` makes it an error instead.
 *
 * Ties between equally frequent pairs go to the smaller (left, right) ids, so training is a
 * pure function of the text and options. Pair counts are kept up to date incrementally: a merge
 * only revisits the pieces that contain the pair, and the most frequent pair comes off a heap
 * whose stale entries are skipped.
 */
export interface TrainProgress {
  /** Merges done so far. */
  merges: number;
  /** Merges wanted in total. */
  total: number;
  /** The pair just merged and how often it occurred. */
  pair: readonly [number, number];
  count: number;
}

export interface TrainOptions {
  /** Final vocabulary size including the 256 byte tokens and the special tokens. */
  vocabSize: number;
  /** Split pattern: built-in name or regex source. Default "cl100k". */
  pattern?: string;
  specialTokens?: readonly string[];
  onProgress?: (progress: TrainProgress) => void;
  /** Call onProgress every this many merges (default 64; the last merge always reports). */
  progressEvery?: number;
  /** Special tokens (from `specialTokens`) recorded as the tokenizer's `bosId` / `eosId`. */
  bosToken?: string;
  eosToken?: string;
  /** Throw TOKENIZER_VOCAB_SHORTFALL when the text cannot fill `vocabSize`. Default false: stop early. */
  exact?: boolean;
}

/** What training produced, next to what was asked for. */
export interface TrainReport {
  tokenizer: BpeTokenizer;
  /** `options.vocabSize`. */
  requestedVocabSize: number;
  /** Merges wanted: requestedVocabSize - 256 - special tokens. */
  requestedMerges: number;
  /** Merges made: fewer than requested when the text ran out of pairs. */
  merges: number;
  /** True when the vocabulary is smaller than requested. */
  shortfall: boolean;
}

/** Max-heap of (count, pair key): larger count first, then smaller key. */
class PairHeap {
  private counts: number[] = [];
  private keys: number[] = [];
  get size(): number {
    return this.counts.length;
  }
  private above(i: number, j: number): boolean {
    return this.counts[i] > this.counts[j] || (this.counts[i] === this.counts[j] && this.keys[i] < this.keys[j]);
  }
  private swap(i: number, j: number): void {
    [this.counts[i], this.counts[j]] = [this.counts[j], this.counts[i]];
    [this.keys[i], this.keys[j]] = [this.keys[j], this.keys[i]];
  }
  push(count: number, key: number): void {
    this.counts.push(count);
    this.keys.push(key);
    for (let i = this.counts.length - 1; i > 0; ) {
      const p = (i - 1) >> 1;
      if (!this.above(i, p)) break;
      this.swap(i, p);
      i = p;
    }
  }
  /** Removes the top; returns [count, key]. */
  pop(): [number, number] {
    const top: [number, number] = [this.counts[0], this.keys[0]];
    const lastCount = this.counts.pop()!;
    const lastKey = this.keys.pop()!;
    if (this.counts.length > 0) {
      this.counts[0] = lastCount;
      this.keys[0] = lastKey;
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < this.counts.length && this.above(l, m)) m = l;
        if (r < this.counts.length && this.above(r, m)) m = r;
        if (m === i) break;
        this.swap(i, m);
        i = m;
      }
    }
    return top;
  }
}

/** Trains and returns the tokenizer; see `trainBpeWithReport` to learn whether `vocabSize` was reached. */
export function trainBpe(text: string | Iterable<string>, options: TrainOptions): BpeTokenizer {
  return trainBpeWithReport(text, options).tokenizer;
}

export function trainBpeWithReport(text: string | Iterable<string>, options: TrainOptions): TrainReport {
  const specials = options.specialTokens ?? [];
  const nMerges = options.vocabSize - 256 - specials.length;
  if (!Number.isInteger(options.vocabSize) || nMerges < 0) {
    throw new TokenizerError("TOKENIZER_BAD_ARGUMENT", `vocabSize: expected an integer >= ${256 + specials.length} (256 bytes + special tokens), found ${options.vocabSize}`);
  }
  for (const field of ["bosToken", "eosToken"] as const) {
    const token = options[field];
    if (token !== undefined && !specials.includes(token)) {
      throw new TokenizerError("TOKENIZER_BAD_ARGUMENT", `${field}: expected one of specialTokens (${specials.map((t) => JSON.stringify(t)).join(", ") || "none given"}), found ${JSON.stringify(token)}`);
    }
  }
  const pattern = patternSource(options.pattern ?? "cl100k");
  const scan = scannerFor(pattern);

  // 1. Distinct pieces and their frequencies.
  const freq = new Map<string, number>();
  for (const chunk of typeof text === "string" ? [text] : text) {
    for (let i = 0; i < chunk.length; ) {
      const end = scan(chunk, i);
      const piece = chunk.slice(i, end);
      freq.set(piece, (freq.get(piece) ?? 0) + 1);
      i = end;
    }
  }
  const words: number[][] = [];
  const counts: number[] = [];
  for (const [piece, n] of freq) {
    const bytes = encodeUtf8(piece);
    if (bytes.length < 2) continue; // nothing to merge
    words.push(Array.from(bytes));
    counts.push(n);
  }

  // 2. Pair counts and, per pair, the words it occurs in. Key = left * V + right.
  const V = options.vocabSize;
  const pairCount = new Map<number, number>();
  const pairWords = new Map<number, number[]>();
  const addPairs = (w: number, sign: number, changed: Set<number>): void => {
    const word = words[w];
    for (let k = 0; k + 1 < word.length; k++) {
      const key = word[k] * V + word[k + 1];
      pairCount.set(key, (pairCount.get(key) ?? 0) + sign * counts[w]);
      changed.add(key);
      if (sign > 0) {
        let list = pairWords.get(key);
        if (list === undefined) pairWords.set(key, (list = []));
        if (list[list.length - 1] !== w) list.push(w);
      }
    }
  };
  const initial = new Set<number>();
  for (let w = 0; w < words.length; w++) addPairs(w, +1, initial);
  const heap = new PairHeap();
  for (const key of initial) heap.push(pairCount.get(key)!, key);

  // 3. Merge loop.
  const tokens: Uint8Array[] = [];
  for (let b = 0; b < 256; b++) tokens.push(Uint8Array.of(b));
  const merges: [number, number][] = [];
  const every = options.progressEvery ?? 64;
  let lastReport: Pick<TrainProgress, "pair" | "count"> | undefined;
  while (merges.length < nMerges && heap.size > 0) {
    const [count, key] = heap.pop();
    if (count <= 0 || pairCount.get(key) !== count) continue; // stale entry
    const a = Math.floor(key / V);
    const b = key % V;
    const id = 256 + merges.length;
    merges.push([a, b]);
    const merged = new Uint8Array(tokens[a].length + tokens[b].length);
    merged.set(tokens[a]);
    merged.set(tokens[b], tokens[a].length);
    tokens.push(merged);

    const changed = new Set<number>();
    for (const w of pairWords.get(key) ?? []) {
      const word = words[w];
      let has = false;
      for (let k = 0; k + 1 < word.length; k++) if (word[k] === a && word[k + 1] === b) has = true;
      if (!has) continue;
      addPairs(w, -1, changed);
      const next: number[] = [];
      for (let k = 0; k < word.length; k++) {
        if (k + 1 < word.length && word[k] === a && word[k + 1] === b) {
          next.push(id);
          k++;
        } else next.push(word[k]);
      }
      words[w] = next;
      addPairs(w, +1, changed);
    }
    pairWords.delete(key);
    for (const k of changed) {
      const c = pairCount.get(k)!;
      if (c > 0) heap.push(c, k);
      else pairCount.delete(k);
    }
    if (options.onProgress !== undefined && (merges.length % every === 0 || merges.length === nMerges)) {
      options.onProgress({ merges: merges.length, total: nMerges, pair: [a, b], count });
    }
    lastReport = { pair: [a, b], count };
  }
  // Ran out of pairs: the last merge made still reports, as promised.
  if (options.onProgress !== undefined && lastReport !== undefined && merges.length < nMerges && merges.length % every !== 0) {
    options.onProgress({ merges: merges.length, total: nMerges, ...lastReport });
  }

  const shortfall = merges.length < nMerges;
  const vocabSize = 256 + merges.length + specials.length;
  if (shortfall && options.exact === true) {
    throw new TokenizerError(
      "TOKENIZER_VOCAB_SHORTFALL",
      `vocabSize: expected ${options.vocabSize} tokens, found the text allows only ${merges.length} of ${nMerges} merges (${vocabSize} tokens); give more text or a smaller vocabSize`,
    );
  }
  const specialTokens = specials.map((s, k): [string, number] => [s, 256 + merges.length + k]);
  const idOf = (token: string | undefined): number | undefined => (token === undefined ? undefined : 256 + merges.length + specials.indexOf(token));
  const bosId = idOf(options.bosToken);
  const eosId = idOf(options.eosToken);
  const tokenizer = new BpeTokenizer({ tokens, merges, pattern, specialTokens, ...(bosId !== undefined ? { bosId } : {}), ...(eosId !== undefined ? { eosId } : {}) });
  return { tokenizer, requestedVocabSize: options.vocabSize, requestedMerges: nMerges, merges: merges.length, shortfall };
}
