import { TokenizerError } from "../errors";
import { SpmTokenizer } from "../spm";
import { TOKEN_TYPE } from "../gguf/token-type";

/**
 * llama2.c `tokenizer.bin`, little-endian:
 *
 *   | max_token_length: u32 |  then per token, until the end of the file:
 *   | score: f32 | len: i32 | bytes: u8 × len |
 *
 * The vocabulary size is not stored (it comes from the checkpoint); we read to the end. Spaces
 * are stored as " " (not "▁"); ids 0, 1, 2 are <unk>, <s>, </s> and 3..258 the byte tokens
 * <0x00>..<0xFF>, llama2.c's conventions.
 */
export interface Llama2cTokenizerFile {
  maxTokenLength: number;
  pieces: string[];
  scores: Float32Array;
}

export function parseLlama2cTokenizer(data: Uint8Array): Llama2cTokenizerFile {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const fail = (what: string, at: number): never => {
    throw new TokenizerError("TOKENIZER_BAD_LLAMA2C", `tokenizer.bin: ${what} at byte ${at} (file is ${data.byteLength} bytes)`);
  };
  if (data.byteLength < 4) fail("expected max_token_length (4 bytes), found end of file", 0);
  const maxTokenLength = view.getUint32(0, true);
  if (maxTokenLength === 0 || maxTokenLength > 1 << 16) fail(`expected max_token_length in 1..65536, found ${maxTokenLength}`, 0);
  const decoder = new TextDecoder("utf-8", { ignoreBOM: true }); // a piece may be U+FEFF itself
  const pieces: string[] = [];
  const scores: number[] = [];
  let at = 4;
  while (at < data.byteLength) {
    if (at + 8 > data.byteLength) fail(`token ${pieces.length}: expected score and length (8 bytes), found ${data.byteLength - at}`, at);
    const score = view.getFloat32(at, true);
    const len = view.getInt32(at + 4, true);
    if (len < 0 || len > maxTokenLength) fail(`token ${pieces.length}: expected length in 0..${maxTokenLength}, found ${len}`, at + 4);
    if (at + 8 + len > data.byteLength) fail(`token ${pieces.length}: expected ${len} bytes of text, found ${data.byteLength - at - 8}`, at + 8);
    pieces.push(decoder.decode(data.subarray(at + 8, at + 8 + len)));
    scores.push(score);
    at += 8 + len;
  }
  return { maxTokenLength, pieces, scores: Float32Array.from(scores) };
}

/** A Llama tokenizer from llama2.c's `tokenizer.bin`. */
export function fromLlama2cTokenizer(data: Uint8Array): SpmTokenizer {
  const file = parseLlama2cTokenizer(data);
  const types = new Int32Array(file.pieces.length).fill(TOKEN_TYPE.normal);
  if (types.length > 2) {
    types[0] = TOKEN_TYPE.unknown;
    types[1] = TOKEN_TYPE.control;
    types[2] = TOKEN_TYPE.control;
  }
  file.pieces.forEach((p, id) => {
    if (/^<0x[0-9A-F]{2}>$/.test(p)) types[id] = TOKEN_TYPE.byte;
  });
  return new SpmTokenizer({ pieces: file.pieces, scores: file.scores, types, unknownId: 0, bosId: 1, eosId: 2, spaceSymbol: " " });
}
