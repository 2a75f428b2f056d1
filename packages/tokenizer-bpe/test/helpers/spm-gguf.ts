import { readFileSync } from "node:fs";
import { parseLlama2cTokenizer } from "../../src";
import { LLAMA2C_TOKENIZER } from "./fixtures";
import { readGgufMetadata, type GgufValue } from "./gguf";

/**
 * Metadata of a SentencePiece .gguf (llama-spm, phi-3) ready for `fromGgufMetadata`: tokens and
 * token types always come from the file; the f32 scores too when they are intact. Only when the
 * salvage reader reports `tokenizer.ggml.scores` damaged are they substituted:
 *
 * - ids below 32,000 from llama2.c's tokenizer.bin, the same Llama 2 vocabulary (checked piece
 *   by piece; llama2.c writes "▁" as " " and <s>, </s> as "\n<s>\n", "\n</s>\n");
 * - phi-3's added tokens (ids 0..2 and 32,000..32,010) and [PAD] fillers (32,011..32,063) from
 *   what the damage left of them: each f32 lost only its top byte, and the surviving `00 00 7A`
 *   and `00 40 1C` are the low bytes of -1000 (0xC47A0000) and -10000 (0xC61C4000).
 *
 * `damageEvidence` then checks that all the substitutes damage into exactly the file's bytes.
 */
export interface SpmGguf {
  metadata: Map<string, GgufValue>;
  /** True when the scores had to be substituted (the file is damaged). */
  substituted: boolean;
}

const LLAMA2_VOCAB = 32000;
const ADDED_SCORE = -1000;
const PAD_SCORE = -10000;
const TOKEN_TYPE_UNKNOWN = 2;

export function readSpmGguf(bytes: Uint8Array): SpmGguf {
  const { metadata, damaged } = readGgufMetadata(bytes, { salvage: true });
  const tokens = metadata.get("tokenizer.ggml.tokens") as string[];
  const types = metadata.get("tokenizer.ggml.token_type") as Int32Array;
  const llama2c = parseLlama2cTokenizer(readFileSync(LLAMA2C_TOKENIZER));
  for (let id = 3; id < LLAMA2_VOCAB; id++) {
    if (llama2c.pieces[id] !== tokens[id]!.replaceAll("\u2581", " ")) throw new Error(`token ${id}: expected the Llama 2 piece ${JSON.stringify(llama2c.pieces[id])}, found ${JSON.stringify(tokens[id])}`);
  }
  if (!damaged.includes("tokenizer.ggml.scores")) {
    const scores = metadata.get("tokenizer.ggml.scores");
    if (!(scores instanceof Float32Array) || scores.length !== tokens.length) throw new Error(`tokenizer.ggml.scores: expected ${tokens.length} f32, found ${String(scores)}`);
    return { metadata, substituted: false };
  }
  const scores = new Float32Array(tokens.length);
  scores.set(llama2c.scores.subarray(0, Math.min(LLAMA2_VOCAB, tokens.length)));
  if (tokens.length > LLAMA2_VOCAB) {
    // phi-3: its added tokens (<unk>, <s>, </s> and the chat tokens) and the [PAD] fillers.
    for (const id of [0, 1, 2]) scores[id] = ADDED_SCORE;
    for (let id = LLAMA2_VOCAB; id < tokens.length; id++) scores[id] = types[id] === TOKEN_TYPE_UNKNOWN ? PAD_SCORE : ADDED_SCORE;
  }
  damageEvidence(bytes, scores);
  metadata.set("tokenizer.ggml.scores", scores);
  return { metadata, substituted: true };
}

/**
 * Runs the substituted scores through the same damage (UTF-8 decode with replacement, re-encode)
 * and compares it with the file's bytes just before the next key, whose u64 length follows the
 * last score. Equal bytes mean the substitutes are the values that were there.
 */
function damageEvidence(bytes: Uint8Array, scores: Float32Array): void {
  const nextKey = new TextEncoder().encode("tokenizer.ggml.token_type");
  let keyAt = -1;
  for (let p = 0; p + nextKey.length <= bytes.length && keyAt < 0; p++) if (nextKey.every((b, k) => bytes[p + k] === b)) keyAt = p;
  const end = keyAt - 8;
  const raw = new Uint8Array(scores.byteLength + 1);
  raw.set(new Uint8Array(scores.buffer, scores.byteOffset, scores.byteLength));
  raw[scores.byteLength] = bytes[end]!; // the low byte of the next key's length ends the last sequence
  const damaged = new TextEncoder().encode(new TextDecoder().decode(raw)).subarray(0, -1);
  const found = bytes.subarray(end - damaged.length, end);
  if (Buffer.compare(Buffer.from(found), Buffer.from(damaged)) !== 0) {
    throw new Error(`tokenizer.ggml.scores: expected the damaged bytes of the substitutes (${Buffer.from(damaged.subarray(0, 12)).toString("hex")}...), found ${Buffer.from(found.subarray(0, 12)).toString("hex")}...`);
  }
}
