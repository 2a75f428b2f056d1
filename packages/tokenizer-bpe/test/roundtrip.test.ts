import { describe, expect, it } from "vitest";
import { StreamDecoder, TokenizerError, createStreamDecoder, decodeUtf8, encodeUtf8, fromTiktoken } from "../src";
import { loadEncoding } from "./helpers/encodings";
import { mulberry32, randomText } from "./helpers/fuzz";

describe("UTF-8 with lone surrogates (WTF-8)", () => {
  it("agrees with TextEncoder on well-formed text", () => {
    const rand = mulberry32(1);
    for (let k = 0; k < 500; k++) {
      const text = randomText(rand, 60);
      expect(encodeUtf8(text)).toEqual(new TextEncoder().encode(text));
    }
  });
  it("keeps lone surrogates: decode(encode(s)) === s", () => {
    for (const s of ["\ud800", "a\udfffb", "\udc00\ud800", "x\ud83d", "\ud83d\ude00\ud83d"]) expect(decodeUtf8(encodeUtf8(s))).toBe(s);
    expect(Array.from(encodeUtf8("\ud800"))).toEqual([0xed, 0xa0, 0x80]);
  });
  it("decodes invalid bytes to U+FFFD like TextDecoder", () => {
    const bad = Uint8Array.of(0x61, 0xff, 0xe2, 0x82, 0x62, 0xc3);
    expect(decodeUtf8(bad)).toBe(new TextDecoder().decode(bad));
  });
});

describe.each(["r50k_base", "cl100k_base", "o200k_base"] as const)("%s", (name) => {
  it("round-trips fuzzed strings, lone surrogates included", async () => {
    const tok = await loadEncoding(name);
    const rand = mulberry32(99);
    for (let k = 0; k < 500; k++) {
      const text = randomText(rand, 1 + Math.floor(rand() * 150), { loneSurrogates: true, specials: [...tok.specialTokens.keys()] });
      expect(tok.decode(tok.encode(text))).toBe(text);
      expect(tok.decode(tok.encode(text, { allowedSpecial: "all" }))).toBe(text);
      expect(tok.countTokens(text)).toBe(tok.encode(text).length);
    }
  });

  it("streams decoding without splitting characters", async () => {
    const tok = await loadEncoding(name);
    const rand = mulberry32(5);
    for (let k = 0; k < 200; k++) {
      const text = randomText(rand, 100);
      const ids = tok.encode(text);
      const stream = createStreamDecoder(tok);
      const parts = ids.map((id) => stream.push(id));
      parts.push(stream.flush());
      expect(parts.join("")).toBe(text);
      for (const p of parts) expect(p.includes("\ufffd") && !text.includes("\ufffd")).toBe(false);
    }
  });

  it("gives offsets that cover the text in order", async () => {
    const tok = await loadEncoding(name);
    const rand = mulberry32(11);
    for (let k = 0; k < 200; k++) {
      const text = randomText(rand, 80, { specials: ["<|endoftext|>"] });
      const spans = tok.encodeWithOffsets(text, { allowedSpecial: "all" });
      expect(spans.map((s) => s.id)).toEqual(tok.encode(text, { allowedSpecial: "all" }));
      let at = 0;
      for (const s of spans) {
        expect(s.start).toBeLessThanOrEqual(at); // a token inside a character shares it with its neighbour
        expect(s.end).toBeGreaterThanOrEqual(at);
        at = s.end;
      }
      expect(at).toBe(text.length);
      // Tokens made of whole characters map to exactly their text.
      for (const s of spans) {
        const bytes = tok.tokenBytes(s.id);
        const piece = text.slice(s.start, s.end);
        if (new TextEncoder().encode(piece).length === bytes.length) expect(tok.decode([s.id])).toBe(piece);
      }
    }
  });
});

describe("StreamDecoder", () => {
  it("holds back an incomplete character and flushes U+FFFD for a truncated one", async () => {
    const tok = await loadEncoding("cl100k_base");
    const emoji = tok.encode("😀");
    expect(emoji.length).toBeGreaterThan(1);
    const s = new StreamDecoder(tok);
    expect(s.push(emoji[0])).toBe("");
    expect(s.flush()).toBe("\ufffd");
  });
});

describe("bad input", () => {
  it("names the field of a malformed rank file", () => {
    expect(() => fromTiktoken({ ranks: "IQ== 0\nnot-base64! 1\n", encoding: "r50k_base" })).toThrow(/tiktoken line 2/);
    expect(() => fromTiktoken({ ranks: { pat_str: "x", special_tokens: {}, bpe_ranks: 5 as unknown as string } })).toThrow(/bpe_ranks/);
    expect(() => fromTiktoken({ ranks: "IQ== 0\n", encoding: "r50k_base" })).toThrow(/every single byte/);
  });
  it("throws TokenizerError for an unknown id", async () => {
    const tok = await loadEncoding("r50k_base");
    expect(() => tok.decode([999_999])).toThrow(TokenizerError);
  });
  it("treats unknown or disallowed special tokens as text", async () => {
    const tok = await loadEncoding("cl100k_base");
    const text = "a<|endoftext|>b<|unknown|>";
    expect(tok.encode(text, { allowedSpecial: ["<|unknown|>"] })).toEqual(tok.encode(text));
    expect(tok.encode(text, { allowedSpecial: ["<|endoftext|>"] })).toContain(100257);
  });
});
