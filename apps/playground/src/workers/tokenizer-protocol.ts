import type { Method } from "../lib/rpc";

/** Vocabularies the page offers: the three tiktoken encodings, the embedded model's, a dropped file, one trained on the page. */
export type VocabId = "r50k_base" | "cl100k_base" | "o200k_base" | "model" | "file" | "trained";

export interface TokenView {
  id: number;
  /** Range in the text (UTF-16 code units), as encodeWithOffsets reports it. */
  start: number;
  end: number;
  /** Range in the token byte stream (each token's bytes laid end to end). */
  byteStart: number;
  byteEnd: number;
  /** The token as the vocabulary shows it (its text, or <0x..> for a partial character). */
  piece: string;
}

export interface Merge { rank: number; left: string; right: string; merged: string; count: number }

export type TokenizerProtocol = {
  load: Method<{ vocab: VocabId; bytes?: Uint8Array; name?: string }, { vocab: VocabId; label: string; vocabSize: number; kind: string; ms: number }>;
  encode: Method<{ vocab: VocabId; text: string; limit: number }, { count: number; bytes: number; tokens: TokenView[]; ms: number }>;
  count: Method<{ vocabs: VocabId[]; texts: string[] }, number[][]>;
  train: Method<{ text: string; vocabSize: number }, { vocabSize: number; merges: number; shortfall: boolean; ms: number; count: number }, { merges: Merge[]; done: number; total: number }>;
};
