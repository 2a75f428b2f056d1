import { describe, expect, it } from "vitest";
import path from "node:path";
import { TokenizerError, fromTokenizerJson } from "../src";
import { GGML_VOCAB, MISSING_FIXTURES, hasFixture } from "./helpers/fixtures";
import { readVocabMetadata } from "./helpers/vocab-files";
import { loadEncoding } from "./helpers/encodings";
import { mulberry32, randomText } from "./helpers/fuzz";

/**
 * GPT-2's tokenizer.json rebuilt from the real GPT-2 vocabulary and merges (read from llama.cpp's
 * ggml-vocab-gpt-2.gguf): loading it through the Hugging Face path must give r50k_base's ids.
 */
const GPT2_GGUF = path.join(GGML_VOCAB, "ggml-vocab-gpt-2.gguf");

function gpt2TokenizerJson(): string {
  const metadata = readVocabMetadata("gpt-2");
  const tokens = metadata.get("tokenizer.ggml.tokens") as string[];
  const vocab: Record<string, number> = {};
  tokens.forEach((t, id) => id !== 50256 && (vocab[t] = id));
  return JSON.stringify({
    model: { type: "BPE", vocab, merges: metadata.get("tokenizer.ggml.merges") },
    normalizer: null,
    pre_tokenizer: { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true },
    added_tokens: [{ id: 50256, content: "<|endoftext|>", special: true }],
  });
}

describe("fromTokenizerJson", () => {
  it.skipIf(!hasFixture(GPT2_GGUF))(`loads GPT-2's tokenizer.json, which encodes like r50k_base${hasFixture(GPT2_GGUF) ? "" : ` (skipped: ${MISSING_FIXTURES})`}`, async () => {
    const tok = fromTokenizerJson(gpt2TokenizerJson());
    const r50k = await loadEncoding("r50k_base");
    const rand = mulberry32(3);
    for (let k = 0; k < 300; k++) {
      const text = randomText(rand, 100, { specials: ["<|endoftext|>"] });
      expect(tok.encode(text, { allowedSpecial: "all" })).toEqual(r50k.encode(text, { allowedSpecial: "all" }));
    }
  }, 60_000);

  it.each([
    ["{", "expected JSON"],
    [`{"model":{"type":"WordPiece"}}`, "model.type"],
    [`{"model":{"type":"BPE","vocab":[],"merges":[]}}`, "model.vocab"],
    [`{"model":{"type":"BPE","vocab":{"a":0},"merges":{}}}`, "model.merges"],
    [`{"model":{"type":"BPE","vocab":{"a":0},"merges":[]},"pre_tokenizer":{"type":"Whitespace"}}`, "pre_tokenizer.type"],
    [`{"model":{"type":"BPE","vocab":{"a":0,"b":1},"merges":["a c"]},"pre_tokenizer":{"type":"ByteLevel"}}`, "model.merges[0]"],
    [`{"model":{"type":"BPE","vocab":{"a":"x"},"merges":[]},"pre_tokenizer":{"type":"ByteLevel"}}`, "model.vocab"],
    [`{"normalizer":{"type":"NFC"},"model":{"type":"BPE","vocab":{},"merges":[]}}`, "normalizer"],
  ])("names the bad field of %s", (json, field) => {
    expect(() => fromTokenizerJson(json)).toThrow(TokenizerError);
    expect(() => fromTokenizerJson(json)).toThrow(field);
  });
});
