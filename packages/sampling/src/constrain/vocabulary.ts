import { ConstraintError } from "./errors";

/**
 * What constrained decoding needs to know about a tokenizer: the bytes each token adds to the
 * output, and which tokens end generation. Byte-level BPE tokens that hold part of a UTF-8
 * character are fine: constraints work on bytes.
 */
export interface TokenVocabulary {
  /**
   * Bytes of each token id as they appear in the output text; `null` (or empty) for tokens that
   * never appear in text (BOS, EOS, control and unused tokens): those are never allowed, except
   * that EOS ids are allowed when the constraint can end.
   */
  readonly tokens: readonly (Uint8Array | null)[];
  /** Ids that end generation. */
  readonly eos: readonly number[];
}

/** The parts of a `@zero-llm/tokenizer-bpe` tokenizer this module reads (structurally typed: no dependency). */
export interface TokenizerLike {
  readonly vocabSize: number;
  readonly specialTokens: ReadonlyMap<string, number>;
  readonly eosId?: number | undefined;
  tokenBytes(id: number): Uint8Array;
}

/**
 * A {@link TokenVocabulary} from a tokenizer: special tokens (and `exclude`d ids, the unknown
 * token of SentencePiece vocabularies for example) never appear in text; `eos` defaults to the
 * tokenizer's EOS id.
 */
export function tokenVocabulary(tokenizer: TokenizerLike, options: { eos?: readonly number[]; exclude?: readonly number[] } = {}): TokenVocabulary {
  const hidden = new Set<number>([...tokenizer.specialTokens.values(), ...(options.exclude ?? [])]);
  const unknownId = (tokenizer as { unknownId?: unknown }).unknownId;
  if (typeof unknownId === "number") hidden.add(unknownId);
  const tokens: (Uint8Array | null)[] = [];
  for (let id = 0; id < tokenizer.vocabSize; id++) tokens.push(hidden.has(id) ? null : bytesOf(tokenizer, id));
  const eos = options.eos ?? (tokenizer.eosId === undefined ? [] : [tokenizer.eosId]);
  return { tokens, eos };
}

/** A token's bytes; null for an id the vocabulary leaves unused (cl100k_base has such gaps). */
function bytesOf(tokenizer: TokenizerLike, id: number): Uint8Array | null {
  try {
    return tokenizer.tokenBytes(id);
  } catch (e) {
    if ((e as { code?: unknown }).code === "TOKENIZER_UNKNOWN_TOKEN_ID") return null;
    throw new ConstraintError("CONSTRAINT_BAD_VOCABULARY", `vocabulary: the bytes of token ${id} could not be read`, { cause: e });
  }
}

/**
 * The vocabulary as a byte trie laid out in preorder: node i's subtree is the contiguous range
 * i ..< end[i], and the tokens ending in that subtree are the contiguous range
 * tokenStart[i] ..< tokenStart[end[i]] of `tokenIds`. A mask walk can therefore skip a dead
 * subtree in one step, or hand a whole subtree to the "check at run time" list as one range.
 *
 *   node:   0(root) 1"a" 2"ab" 3"abc" 4"b" …      depth: 0 1 2 3 1 …    end: n 4 4 4 …
 */
export class VocabularyTrie {
  readonly vocabSize: number;
  readonly nodeCount: number;
  /** Byte on the edge into node i (node 0, the root, has none). */
  readonly byte: Uint8Array;
  readonly depth: Int32Array;
  readonly end: Int32Array;
  readonly tokenStart: Int32Array;
  /** Token ids in trie (= byte-lexicographic) order. */
  readonly tokenIds: Int32Array;
  /** All token bytes back to back: token t is tokenBytes[tokenOffset[t] ..< tokenOffset[t + 1]]. */
  readonly tokenBytes: Uint8Array;
  readonly tokenOffset: Int32Array;
  readonly maxTokenLength: number;
  readonly eos: Int32Array;
  /** Number of tokens that can appear in text (those in the trie). */
  readonly textTokens: number;

  constructor(vocab: TokenVocabulary) {
    const { tokens } = vocab;
    const V = tokens.length;
    if (V === 0) throw new ConstraintError("CONSTRAINT_BAD_VOCABULARY", "vocabulary: expected at least one token, found none");
    for (const id of vocab.eos) {
      if (!Number.isInteger(id) || id < 0 || id >= V) throw new ConstraintError("CONSTRAINT_BAD_VOCABULARY", `vocabulary: expected EOS ids in 0..${V - 1}, found ${id}`);
    }
    this.vocabSize = V;
    this.eos = Int32Array.from(vocab.eos);
    const offset = new Int32Array(V + 1);
    for (let t = 0; t < V; t++) offset[t + 1] = offset[t] + (tokens[t]?.length ?? 0);
    const bytes = new Uint8Array(offset[V]);
    for (let t = 0; t < V; t++) {
      const b = tokens[t];
      if (b) bytes.set(b, offset[t]);
    }
    this.tokenBytes = bytes;
    this.tokenOffset = offset;

    const eosSet = new Set(vocab.eos);
    const ids: number[] = [];
    for (let t = 0; t < V; t++) if (offset[t + 1] > offset[t] && !eosSet.has(t)) ids.push(t);
    ids.sort((a, b) => compareBytes(bytes, offset[a], offset[a + 1], offset[b], offset[b + 1]) || a - b);
    this.tokenIds = Int32Array.from(ids);
    this.textTokens = ids.length;

    // Sorted order is preorder: walk it keeping the path from the root.
    const nodeByte: number[] = [0], nodeDepth: number[] = [0], nodeEnd: number[] = [0], firstToken: number[] = [0];
    const path: number[] = [0];
    let maxLength = 0;
    let previous = -1;
    ids.forEach((t, k) => {
      const start = offset[t], len = offset[t + 1] - start;
      maxLength = Math.max(maxLength, len);
      let common = 0;
      if (previous >= 0) {
        const ps = offset[previous], plen = offset[previous + 1] - ps;
        while (common < len && common < plen && bytes[ps + common] === bytes[start + common]) common++;
      }
      while (path.length - 1 > common) nodeEnd[path.pop() ?? 0] = nodeByte.length;
      for (let d = common; d < len; d++) {
        const node = nodeByte.length;
        nodeByte.push(bytes[start + d]);
        nodeDepth.push(d + 1);
        nodeEnd.push(0);
        firstToken.push(k);
        path.push(node);
      }
      previous = t;
    });
    while (path.length > 0) nodeEnd[path.pop() ?? 0] = nodeByte.length;
    const n = nodeByte.length;
    this.nodeCount = n;
    this.byte = Uint8Array.from(nodeByte);
    this.depth = Int32Array.from(nodeDepth);
    this.end = Int32Array.from(nodeEnd);
    // tokenStart[i]: first token (in sorted order) at node i or after it in preorder
    const tokenStart = new Int32Array(n + 1);
    tokenStart[n] = ids.length;
    for (let i = n - 1; i >= 0; i--) tokenStart[i] = i === 0 ? 0 : firstToken[i];
    // a node's first token is the first sorted token whose path passes through it; tokens at the node itself come first
    this.tokenStart = tokenStart;
    this.maxTokenLength = maxLength;
  }
}

function compareBytes(bytes: Uint8Array, a0: number, a1: number, b0: number, b1: number): number {
  const n = Math.min(a1 - a0, b1 - b0);
  for (let i = 0; i < n; i++) {
    const d = bytes[a0 + i] - bytes[b0 + i];
    if (d !== 0) return d;
  }
  return a1 - a0 - (b1 - b0);
}

const trieCache = new WeakMap<TokenVocabulary, VocabularyTrie>();

/** The trie of a vocabulary, built once per vocabulary object and shared by every constraint on it. */
export function vocabularyTrie(vocab: TokenVocabulary): VocabularyTrie {
  let trie = trieCache.get(vocab);
  if (trie === undefined) {
    trie = new VocabularyTrie(vocab);
    trieCache.set(vocab, trie);
  }
  return trie;
}
