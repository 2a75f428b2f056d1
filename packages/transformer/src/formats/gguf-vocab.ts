import { ggufValue, type GgufValue } from "@zero-llm/tensor";
import { bytesToByteLevel } from "@zero-llm/tokenizer-bpe";

/**
 * Tokenizer metadata for GGUF files we write. llama.cpp refuses a model without a vocabulary,
 * and a checkpoint such as stories260K ships without one, so the writer can embed a minimal
 * but valid vocabulary of exactly vocabSize tokens.
 *
 * llama ("llama", SentencePiece with byte fallback, the layout of llama2.c's tok512/tok32000):
 *
 *   id 0 <unk> (type 2 UNKNOWN) | 1 <s> (3 CONTROL, bos) | 2 </s> (3 CONTROL, eos) |
 *   ids 3 … 258  <0x00> … <0xFF>  (6 BYTE: every byte is encodable, as llama.cpp's byte_to_token needs) |
 *   ids 259 …    "▁a", "▁b", … "▁z", "▁aa", …  (1 NORMAL, score −rank)
 *
 * gpt2 ("gpt2", byte-level BPE): ids 0 … 255 the byte-level characters, then control tokens
 * <|extra_N|>, the last id <|endoftext|> (bos = eos); no merges (an empty list is valid). With
 * fewer than 257 ids it holds the first bytes only; llama.cpp still loads it (it tolerates a
 * missing newline token here, where its SentencePiece loader aborts), so small test models use it.
 */

/** llama.cpp's token types (llama_token_type). */
export const TOKEN_TYPE = { NORMAL: 1, UNKNOWN: 2, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5, BYTE: 6 } as const;

export type GgufEntries = Array<readonly [string, GgufValue]>;

/** "a", "b", … "z", "aa", "ab", …: a distinct lowercase name for every n ≥ 0. */
function letters(n: number): string {
  let s = "";
  for (let k = n + 1; k > 0; k = Math.floor((k - 1) / 26)) s = String.fromCharCode(97 + ((k - 1) % 26)) + s;
  return s;
}

/** tokenizer.ggml.* entries from explicit pieces (SentencePiece-style "llama" model). */
export function llamaVocabularyEntries(tokens: string[], scores: Float32Array, types: Int32Array, ids = { bos: 1, eos: 2, unk: 0 }): GgufEntries {
  return [
    ["tokenizer.ggml.model", ggufValue.string("llama")],
    ["tokenizer.ggml.tokens", ggufValue.array("string", tokens)],
    ["tokenizer.ggml.scores", ggufValue.array("f32", scores)],
    ["tokenizer.ggml.token_type", ggufValue.array("i32", types)],
    ["tokenizer.ggml.bos_token_id", ggufValue.u32(ids.bos)],
    ["tokenizer.ggml.eos_token_id", ggufValue.u32(ids.eos)],
    ["tokenizer.ggml.unknown_token_id", ggufValue.u32(ids.unk)],
    ["tokenizer.ggml.add_bos_token", ggufValue.bool(true)],
    ["tokenizer.ggml.add_eos_token", ggufValue.bool(false)],
  ];
}

/** A minimal valid llama (SentencePiece, byte-fallback) vocabulary of exactly vocabSize tokens. */
export function minimalLlamaVocabulary(vocabSize: number): GgufEntries {
  const tokens: string[] = [];
  const types = new Int32Array(vocabSize);
  const scores = new Float32Array(vocabSize);
  for (let id = 0; id < vocabSize; id++) {
    if (id < 3) {
      tokens.push(["<unk>", "<s>", "</s>"][id]);
      types[id] = id === 0 ? TOKEN_TYPE.UNKNOWN : TOKEN_TYPE.CONTROL;
    } else if (id < 259) {
      tokens.push(`<0x${(id - 3).toString(16).toUpperCase().padStart(2, "0")}>`);
      types[id] = TOKEN_TYPE.BYTE;
    } else {
      tokens.push(`▁${letters(id - 259)}`);
      types[id] = TOKEN_TYPE.NORMAL;
      scores[id] = -(id - 259);
    }
  }
  return llamaVocabularyEntries(tokens, scores, types, { bos: Math.min(1, vocabSize - 1), eos: Math.min(2, vocabSize - 1), unk: 0 });
}

/** A minimal valid gpt2 (byte-level BPE) vocabulary of exactly vocabSize tokens (vocabSize ≥ 257). */
export function minimalGpt2Vocabulary(vocabSize: number): GgufEntries {
  const tokens: string[] = [];
  const types = new Int32Array(vocabSize).fill(TOKEN_TYPE.NORMAL);
  for (let id = 0; id < vocabSize; id++) {
    if (id < 256) tokens.push(bytesToByteLevel(new Uint8Array([id])));
    else if (id === vocabSize - 1) tokens.push("<|endoftext|>");
    else tokens.push(`<|extra_${id - 256}|>`);
    if (id >= 256) types[id] = TOKEN_TYPE.CONTROL;
  }
  const eot = vocabSize - 1;
  return [
    ["tokenizer.ggml.model", ggufValue.string("gpt2")],
    ["tokenizer.ggml.pre", ggufValue.string("gpt-2")],
    ["tokenizer.ggml.tokens", ggufValue.array("string", tokens)],
    ["tokenizer.ggml.token_type", ggufValue.array("i32", types)],
    ["tokenizer.ggml.merges", ggufValue.array("string", [])],
    ["tokenizer.ggml.bos_token_id", ggufValue.u32(eot)],
    ["tokenizer.ggml.eos_token_id", ggufValue.u32(eot)],
  ];
}
