import { describe, expect, it } from "vitest";
import path from "node:path";
import { TokenizerError, exportTokenizerJson, fromTokenizerJson, type BpeTokenizer } from "../src";
import { GGML_VOCAB, MISSING_FIXTURES, hasFixture } from "./helpers/fixtures";
import { readVocabTest } from "./helpers/fixtures";
import { VOCAB_FILES, hasVocab, loadVocab, readVocabMetadata, vocabPath } from "./helpers/vocab-files";
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

describe("exportTokenizerJson, read back by fromTokenizerJson", () => {
  const files = VOCAB_FILES.filter((f) => f.model === "gpt2" && f.vectors && hasVocab(f.name)).map((f) => f.name);
  it.each(files)("%s: its split steps (Sequence of Split) and added tokens survive; llama.cpp's vectors still pass", (name) => {
    const tok = loadVocab(name) as BpeTokenizer;
    const again = fromTokenizerJson(exportTokenizerJson(tok));
    expect(again.patterns).toEqual(tok.patterns);
    expect([...again.addedTokens]).toEqual([...tok.addedTokens]);
    for (const { text, ids } of readVocabTest(vocabPath(name))) expect({ text, ids: again.encode(text) }).toEqual({ text, ids });
  }, 300_000);

  const gpt2 = hasVocab("gpt-2");
  it.skipIf(!gpt2)(`Hugging Face's Digits and Punctuation steps read as the patterns they split by${gpt2 ? "" : " (skipped: ../shared/fixtures/ggml-vocab/ggml-vocab-gpt-2.gguf is absent)"}`, () => {
    const base = JSON.parse(exportTokenizerJson(loadVocab("gpt-2") as BpeTokenizer)) as Record<string, unknown>;
    const steps = [
      { type: "Punctuation", behavior: "Contiguous" },
      { type: "ByteLevel", add_prefix_space: false, use_regex: true },
      { type: "Digits", individual_digits: true },
    ];
    const tok = fromTokenizerJson({ ...base, pre_tokenizer: { type: "Sequence", pretokenizers: steps } });
    expect(tok.encode("a,,b 123").map((id) => tok.decode([id]))).toEqual(["a", ",,", "b", " ", "1", "2", "3"]);
    const isolated = fromTokenizerJson({ ...base, pre_tokenizer: { type: "Sequence", pretokenizers: [{ type: "Punctuation" }, steps[1]] } });
    expect(isolated.encode("a,,b").map((id) => isolated.decode([id]))).toEqual(["a", ",", ",", "b"]);
  }, 300_000);
});

describe("fromTokenizerJson", () => {
  it.skipIf(!hasFixture(GPT2_GGUF))(`loads GPT-2's tokenizer.json, which encodes like r50k_base${hasFixture(GPT2_GGUF) ? "" : ` (skipped: ${MISSING_FIXTURES})`}`, async () => {
    const tok = fromTokenizerJson(gpt2TokenizerJson());
    const r50k = await loadEncoding("r50k_base");
    const rand = mulberry32(3);
    for (let k = 0; k < 300; k++) {
      const text = randomText(rand, 100, { specials: ["<|endoftext|>"] });
      expect(tok.encode(text, { allowedSpecial: "all" })).toEqual(r50k.encode(text, { allowedSpecial: "all" }));
    }
  }, 300_000);

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
