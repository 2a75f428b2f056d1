import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { GgufFile } from "@zero-llm/tensor";
import { BpeTokenizer, fromGgufMetadata, fromTokenizerJson } from "@zero-llm/tokenizer-bpe";
import { describe, expect, it } from "vitest";
import { TOKEN_TYPE, TransformerError, bpeVocabularyEntries, llamaCppPreName, serializeGgufModel } from "../src/index";
import { loadModel } from "../src/node/index";

const here = path.dirname(fileURLToPath(import.meta.url));
const defaultModel = path.resolve(here, "../../../models/default");
const haveDefault = existsSync(path.join(defaultModel, "tokenizer.json"));

/** 256 byte tokens, then "bc", "ab", "abc" with merges (b c) before (a b): "abc" itself merges to a + bc. */
function tokenizerWhereMergesMissAToken(): BpeTokenizer {
  const tokens: Uint8Array[] = Array.from({ length: 256 }, (_, b) => new Uint8Array([b]));
  tokens.push(new TextEncoder().encode("bc"), new TextEncoder().encode("ab"), new TextEncoder().encode("abc"));
  return new BpeTokenizer({ tokens, merges: [[98, 99], [97, 98], [257, 99]], pattern: "cl100k", specialTokens: [["<|endoftext|>", 259]] });
}

describe("a trained BPE tokenizer as GGUF tokenizer.ggml.* metadata", () => {
  it.skipIf(!haveDefault)("the default model's tokenizer: every field, and our own GGUF reader gives the same tokenizer back", async () => {
    const tokenizer = fromTokenizerJson(readFileSync(path.join(defaultModel, "tokenizer.json"), "utf8"));
    const model = await loadModel(defaultModel);
    const file = GgufFile.parse(serializeGgufModel(model.config, model.weights, { tokenizer, tokenizerOptions: { addBosToken: true } }));
    expect(file.get("tokenizer.ggml.model")).toBe("gpt2");
    expect(file.get("tokenizer.ggml.pre")).toBe("llama-bpe");
    const tokens = file.get("tokenizer.ggml.tokens") as string[];
    const types = file.get("tokenizer.ggml.token_type") as Int32Array;
    expect(tokens.length).toBe(2048);
    expect(tokens[2047]).toBe("<|endoftext|>");
    expect(types[2047]).toBe(TOKEN_TYPE.CONTROL);
    expect(types.slice(0, 2047).every((t) => t === TOKEN_TYPE.NORMAL)).toBe(true);
    expect(tokens.indexOf("Ġthe")).toBe(tokenizer.encode(" the")[0]);
    const merges = file.get("tokenizer.ggml.merges") as string[];
    expect(merges.length).toBe(1791);
    expect(merges[0]).toBe("Ġ t"); // tokenizer.json's first merge, same spelling
    expect(file.get("tokenizer.ggml.bos_token_id")).toBe(2047);
    expect(file.get("tokenizer.ggml.eos_token_id")).toBe(2047);
    expect(file.get("tokenizer.ggml.add_bos_token")).toBe(true);

    const back = fromGgufMetadata(new Map([...file.metadata].map(([k, v]) => [k, v.value])));
    const text = "The jury said it was ``a fair trial'' -- in 1961, didn't they?\n\n  Yes.";
    expect(back.encode(text)).toEqual(tokenizer.encode(text));
  });

  it("chooses llama-bpe only when whole-piece lookup cannot change a result, else dbrx (same regex, merges always)", () => {
    const odd = tokenizerWhereMergesMissAToken();
    expect(odd.mergeBytes(new TextEncoder().encode("abc"))).toEqual([97, 256]); // a + bc, not abc
    expect(llamaCppPreName(odd)).toBe("dbrx");
    const entries = new Map(bpeVocabularyEntries(odd, 300));
    expect(entries.get("tokenizer.ggml.pre")?.value).toBe("dbrx");
    // padded to the model's 300 ids with UNUSED tokens; the special is CONTROL
    const tokens = entries.get("tokenizer.ggml.tokens")?.value as string[];
    const types = entries.get("tokenizer.ggml.token_type")?.value as Int32Array;
    expect(tokens.length).toBe(300);
    expect([tokens[259], types[259]]).toEqual(["<|endoftext|>", TOKEN_TYPE.CONTROL]);
    expect([tokens[299], types[299]]).toEqual(["[PAD299]", TOKEN_TYPE.UNUSED]);
    expect(entries.get("tokenizer.ggml.merges")?.value).toEqual(["b c", "a b", "ab c"]);
  });

  it("refuses a tokenizer larger than the model, or a split pattern llama.cpp has no name for, with typed errors", () => {
    const odd = tokenizerWhereMergesMissAToken();
    expect(() => bpeVocabularyEntries(odd, 100)).toThrow(TransformerError);
    expect(() => bpeVocabularyEntries(odd, 100)).toThrow(/at most the model's 100 token ids, found a tokenizer with 260/);
    const custom = new BpeTokenizer({ tokens: Array.from({ length: 256 }, (_, b) => new Uint8Array([b])), merges: [], pattern: String.raw`\w+|\s+` });
    expect(() => bpeVocabularyEntries(custom, 256)).toThrow(/split pattern llama\.cpp knows by name/);
    expect(() => bpeVocabularyEntries(odd, 300, { bosTokenId: 300 })).toThrow(/bosTokenId: expected an id in \[0, 300\), found 300/);
  });
});
