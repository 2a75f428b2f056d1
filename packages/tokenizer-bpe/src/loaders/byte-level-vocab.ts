import { byteLevelToBytes } from "../byte-level";
import { BpeTokenizer } from "../bpe";
import { TokenizerError, type TokenizerErrorCode } from "../errors";

/**
 * Shared by the Hugging Face and GGUF loaders: a vocabulary of GPT-2 byte-level strings
 * ("Ġhello"), merges as "left right" strings or [left, right] pairs, and special tokens that are
 * matched in text (when allowed) instead of being merged into.
 */
export interface ByteLevelVocab {
  /** id -> byte-level token text; undefined for holes. */
  tokens: ReadonlyArray<string | undefined>;
  merges: ReadonlyArray<string | readonly [string, string]>;
  /** Ids that are special (matched as a whole, never produced by merges). */
  specialIds: Iterable<number>;
  /** Ids matched in text even when not allowed (GGUF user-defined, HF non-special added tokens). */
  addedIds?: Iterable<number>;
  pattern: string | readonly string[];
  ignoreMerges: boolean;
  unknownId?: number;
  bosId?: number;
  eosId?: number;
  errorCode: TokenizerErrorCode;
  /** Name of the field, for error messages ("model.merges", "tokenizer.ggml.merges"). */
  mergesField: string;
  tokensField: string;
}

export function fromByteLevelVocab(v: ByteLevelVocab): BpeTokenizer {
  const addedIds = new Set(v.addedIds ?? []);
  const specialIds = new Set([...v.specialIds, ...addedIds]);
  const addedTokens: [string, number][] = [];
  const idOf = new Map<string, number>();
  const tokens: (Uint8Array | undefined)[] = [];
  const specialTokens: [string, number][] = [];
  v.tokens.forEach((text, id) => {
    if (text === undefined) return;
    if (specialIds.has(id)) {
      (addedIds.has(id) ? addedTokens : specialTokens).push([text, id]);
      return;
    }
    const bytes = byteLevelToBytes(text);
    if (bytes === undefined) {
      // Not byte-level text (e.g. an added token written plainly): keep it matchable as a special.
      specialTokens.push([text, id]);
      return;
    }
    tokens[id] = bytes;
    if (!idOf.has(text)) idOf.set(text, id);
  });
  const merges: [number, number][] = [];
  v.merges.forEach((merge, k) => {
    let left: string | undefined;
    let right: string | undefined;
    if (typeof merge === "string") {
      const space = merge.indexOf(" ", 1);
      if (space > 0) {
        left = merge.slice(0, space);
        right = merge.slice(space + 1);
      }
    } else if (Array.isArray(merge) && merge.length === 2) {
      [left, right] = merge;
    }
    if (typeof left !== "string" || typeof right !== "string") {
      throw new TokenizerError(v.errorCode, `${v.mergesField}[${k}]: expected "left right" or [left, right], found ${JSON.stringify(merge)}`);
    }
    const a = idOf.get(left);
    const b = idOf.get(right);
    if (a === undefined || b === undefined) {
      throw new TokenizerError(v.errorCode, `${v.mergesField}[${k}]: expected both sides in ${v.tokensField}, found ${JSON.stringify(a === undefined ? left : right)} missing`);
    }
    merges.push([a, b]);
  });
  return new BpeTokenizer({
    tokens,
    merges,
    pattern: v.pattern,
    specialTokens,
    addedTokens,
    ignoreMerges: v.ignoreMerges,
    ...(v.unknownId !== undefined ? { unknownId: v.unknownId } : {}),
    ...(v.bosId !== undefined ? { bosId: v.bosId } : {}),
    ...(v.eosId !== undefined ? { eosId: v.eosId } : {}),
  });
}
