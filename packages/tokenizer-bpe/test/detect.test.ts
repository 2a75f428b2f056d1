import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { TokenizerError, detectVocabulary, loadVocabulary, saveBpeJson, trainBpe } from "../src";
import { FIXTURES, LLAMA2C_TOKENIZER, MISSING_FIXTURES, hasFixture } from "./helpers/fixtures";

/**
 * Vocabulary files are recognised by content. Files of no supported kind are refused with
 * TOKENIZER_UNRECOGNISED_FILE and a message listing what was expected, instead of being handed to
 * the llama2.c parser (which used to report a bogus "max_token_length").
 */
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

function safetensorsLike(): Uint8Array {
  const header = utf8(JSON.stringify({ "model.embed_tokens.weight": { dtype: "F32", shape: [2, 2], data_offsets: [0, 16] } }));
  const bytes = new Uint8Array(8 + header.length + 16);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(header.length), true);
  bytes.set(header, 8);
  return bytes;
}

/** A llama2.c checkpoint header (7 × i32) followed by f32 weights: small first word, like a tokenizer.bin. */
function llama2cCheckpointLike(): Uint8Array {
  const bytes = new Uint8Array(28 + 4 * 256);
  const view = new DataView(bytes.buffer);
  [64, 172, 5, 8, 4, 512, 512].forEach((v, k) => view.setInt32(4 * k, v, true));
  for (let k = 0; k < 256; k++) view.setFloat32(28 + 4 * k, Math.sin(k) * 0.02, true);
  return bytes;
}

function unrecognisedMessage(bytes: Uint8Array): string {
  try {
    loadVocabulary(bytes);
  } catch (err) {
    expect(err).toBeInstanceOf(TokenizerError);
    expect((err as TokenizerError).code).toBe("TOKENIZER_UNRECOGNISED_FILE");
    return (err as TokenizerError).message;
  }
  return expect.unreachable();
}

describe("detectVocabulary / loadVocabulary", () => {
  it.each([
    ["plain text", utf8("hello world, this is not a vocabulary\n"), 'text starting "hello world, thi"'],
    ["an empty file", new Uint8Array(0), "an empty file"],
    ["a safetensors file", safetensorsLike(), "bytes starting"],
    ["a llama2.c checkpoint", llama2cCheckpointLike(), "bytes starting 40 00 00 00 ac 00 00 00"],
    ["a model's config.json", utf8(`{"model_type":"llama","vocab_size":32000}`), 'JSON without "model" (tokenizer.json) or "format": "zero-llm-bpe"'],
  ])("refuses %s as an unrecognised vocabulary file", (_label, bytes, found) => {
    expect(detectVocabulary(bytes)).toBe(bytes[0] === 0x7b ? "tokenizer.json" : "unknown");
    const message = unrecognisedMessage(bytes);
    expect(message).toMatch(/^unrecognised vocabulary file: expected a GGUF file \(magic "GGUF"\), tokenizer\.json, zero-llm-bpe JSON, a \.tiktoken rank file or a llama2\.c tokenizer\.bin, found /);
    expect(message).toContain(found);
  });

  const checkpoint = path.join(FIXTURES, "llama2c/stories260K.bin");
  it.skipIf(!hasFixture(checkpoint))(`refuses a real llama2.c checkpoint (stories260K.bin)${hasFixture(checkpoint) ? "" : ` (skipped: ${MISSING_FIXTURES})`}`, () => {
    expect(detectVocabulary(new Uint8Array(readFileSync(checkpoint)))).toBe("unknown");
  });

  it.skipIf(!hasFixture(LLAMA2C_TOKENIZER))(`still recognises a llama2.c tokenizer.bin, even truncated, and names the cut-off token${hasFixture(LLAMA2C_TOKENIZER) ? "" : ` (skipped: ${MISSING_FIXTURES})`}`, () => {
    const bytes = new Uint8Array(readFileSync(LLAMA2C_TOKENIZER));
    expect(detectVocabulary(bytes)).toBe("llama2c");
    expect(detectVocabulary(bytes.subarray(0, 5000))).toBe("llama2c");
    expect(() => loadVocabulary(bytes.subarray(0, 5000))).toThrow(/tokenizer\.bin: token \d+: expected/);
  });

  it("recognises GGUF by its magic, our JSON and tokenizer.json", () => {
    expect(detectVocabulary(utf8("GGUF\u0003\u0000\u0000\u0000"))).toBe("gguf");
    expect(() => loadVocabulary(utf8("GGUF\u0003\u0000\u0000\u0000"))).toThrow(/fromGgufMetadata/);
    const ours = utf8(saveBpeJson(trainBpe("abcabc", { vocabSize: 258 })));
    expect(detectVocabulary(ours)).toBe("zero-llm-bpe");
    expect(loadVocabulary(ours).encode("abcabc")).toEqual([257, 257]);
    expect(detectVocabulary(utf8(`{"model":{"type":"BPE"}}`))).toBe("tokenizer.json");
    // A tokenizer.json with a broken field is still a tokenizer.json: its own error, naming the field.
    expect(() => loadVocabulary(utf8(`{"model":{"type":"BPE"}}`))).toThrow(/tokenizer\.json model\.vocab: expected/);
  });
});
