import { TokenizerError } from "../errors";
import { SpmTokenizer } from "../spm";
import { byteTokenValue } from "../byte-token";
import { TOKEN_TYPE } from "../gguf/token-type";
import type { SpmPieceBytes } from "../spm-vocabulary";

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
  const file = readLlama2cPieces(data);
  const decoder = new TextDecoder("utf-8", { ignoreBOM: true }); // a piece may be U+FEFF itself
  const { bytes, offsets } = file.pieces;
  const pieces = Array.from({ length: offsets.length - 1 }, (_, id) => decoder.decode(bytes.subarray(offsets[id], offsets[id + 1])));
  return { maxTokenLength: file.maxTokenLength, pieces, scores: file.scores };
}

/** The file's pieces as one buffer of their bytes and offsets (no string per piece), and their scores. */
function readLlama2cPieces(data: Uint8Array): { maxTokenLength: number; pieces: SpmPieceBytes; scores: Float32Array } {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const fail = (what: string, at: number): never => {
    throw new TokenizerError("TOKENIZER_BAD_LLAMA2C", `tokenizer.bin: ${what} at byte ${at} (file is ${data.byteLength} bytes)`);
  };
  if (data.byteLength < 4) fail("expected max_token_length (4 bytes), found end of file", 0);
  const maxTokenLength = view.getUint32(0, true);
  if (maxTokenLength === 0 || maxTokenLength > 1 << 16) fail(`expected max_token_length in 1..65536, found ${maxTokenLength}`, 0);
  // Pass 1 checks every record and counts; pass 2 copies the text bytes end to end.
  let count = 0;
  let textBytes = 0;
  let at = 4;
  while (at < data.byteLength) {
    if (at + 8 > data.byteLength) fail(`token ${count}: expected score and length (8 bytes), found ${data.byteLength - at}`, at);
    const len = view.getInt32(at + 4, true);
    if (len < 0 || len > maxTokenLength) fail(`token ${count}: expected length in 0..${maxTokenLength}, found ${len}`, at + 4);
    if (at + 8 + len > data.byteLength) fail(`token ${count}: expected ${len} bytes of text, found ${data.byteLength - at - 8}`, at + 8);
    count++;
    textBytes += len;
    at += 8 + len;
  }
  const bytes = new Uint8Array(textBytes);
  const offsets = new Uint32Array(count + 1);
  const scores = new Float32Array(count);
  at = 4;
  for (let id = 0; id < count; id++) {
    scores[id] = view.getFloat32(at, true);
    const len = view.getInt32(at + 4, true);
    for (let k = 0, to = offsets[id]; k < len; k++) bytes[to + k] = data[at + 8 + k]; // short pieces: no subarray each
    offsets[id + 1] = offsets[id] + len;
    at += 8 + len;
  }
  return { maxTokenLength, pieces: { bytes, offsets }, scores };
}

/** A Llama tokenizer from llama2.c's `tokenizer.bin`; its pieces stay bytes (see SpmModel.pieces). */
export function fromLlama2cTokenizer(data: Uint8Array): SpmTokenizer {
  const file = readLlama2cPieces(data);
  const { bytes, offsets } = file.pieces;
  const types = new Int32Array(offsets.length - 1).fill(TOKEN_TYPE.normal);
  if (types.length > 2) {
    types[0] = TOKEN_TYPE.unknown;
    types[1] = TOKEN_TYPE.control;
    types[2] = TOKEN_TYPE.control;
  }
  // llama2.c's byte tokens: "<0xHH>" with upper-case hex digits
  for (let id = 0; id < types.length; id++) if (byteTokenValue(bytes, offsets[id], offsets[id + 1], true) >= 0) types[id] = TOKEN_TYPE.byte;
  return new SpmTokenizer({ pieces: file.pieces, scores: file.scores, types, unknownId: 0, bosId: 1, eosId: 2, spaceSymbol: " " });
}
