import { describe, expect, it } from "vitest";
import { TokenizerError, exportTokenizerJson, fromTokenizerJson, loadBpeJson, saveBpeJson, trainBpe, trainBpeWithReport, type TrainProgress } from "../src";
import { loadBrownText } from "./helpers/brown";
import { mulberry32, randomText } from "./helpers/fuzz";

/**
 * Training checked against a direct transcription of the algorithm (count all pairs, merge the
 * most frequent, smallest ids on ties), deterministic output, and save/load/export round trips.
 */
function referenceTrain(text: string, vocabSize: number, pieces: string[]): [number, number][] {
  const words = pieces.map((p) => Array.from(new TextEncoder().encode(p)));
  const merges: [number, number][] = [];
  for (let id = 256; id < vocabSize; id++) {
    const counts = new Map<string, number>();
    for (const w of words) for (let k = 0; k + 1 < w.length; k++) counts.set(`${w[k]},${w[k + 1]}`, (counts.get(`${w[k]},${w[k + 1]}`) ?? 0) + 1);
    let best: [number, number] | undefined;
    let bestCount = 0;
    for (const [key, c] of counts) {
      const [a, b] = key.split(",").map(Number) as [number, number];
      if (c > bestCount || (c === bestCount && best !== undefined && (a < best[0] || (a === best[0] && b < best[1])))) {
        best = [a, b];
        bestCount = c;
      }
    }
    if (best === undefined) break;
    merges.push(best);
    for (const w of words) for (let k = 0; k + 1 < w.length; k++) if (w[k] === best[0] && w[k + 1] === best[1]) w.splice(k, 2, id);
  }
  void text;
  return merges;
}

describe("trainBpe", () => {
  const sample = loadBrownText().slice(0, 200_000);

  it("makes the same merges as the textbook algorithm", () => {
    const tok = trainBpe(sample, { vocabSize: 256 + 60, pattern: "gpt2" });
    const pieces: string[] = [];
    const re = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;
    for (const m of sample.matchAll(re)) pieces.push(m[0]);
    expect(tok.merges).toEqual(referenceTrain(sample, 256 + 60, pieces));
  });

  it("is deterministic and reaches the requested size with specials after the merges", () => {
    const progress: number[] = [];
    const a = trainBpe(sample, { vocabSize: 1000, specialTokens: ["<|endoftext|>"], onProgress: (p) => progress.push(p.merges) });
    const b = trainBpe(sample, { vocabSize: 1000, specialTokens: ["<|endoftext|>"] });
    expect(a.merges).toEqual(b.merges);
    expect(a.vocabSize).toBe(1000);
    expect(a.specialTokens.get("<|endoftext|>")).toBe(999);
    expect(progress[progress.length - 1]).toBe(743);
    expect(a.encode("<|endoftext|>", { allowedSpecial: "all" })).toEqual([999]);
  });

  it("round-trips text and compresses it", () => {
    const tok = trainBpe(sample, { vocabSize: 1000 });
    const text = loadBrownText().slice(300_000, 350_000);
    const ids = tok.encode(text);
    expect(tok.decode(ids)).toBe(text);
    expect(ids.length).toBeLessThan(new TextEncoder().encode(text).length / 2.5);
  });

  it("saves and loads its own format, and exports tokenizer.json that loads back identically", () => {
    const tok = trainBpe(sample, { vocabSize: 600, specialTokens: ["<|endoftext|>"] });
    const again = loadBpeJson(saveBpeJson(tok));
    const hf = fromTokenizerJson(exportTokenizerJson(tok));
    const rand = mulberry32(7);
    for (let k = 0; k < 100; k++) {
      const text = randomText(rand, 80, { specials: ["<|endoftext|>"] });
      const ids = tok.encode(text, { allowedSpecial: "all" });
      expect(again.encode(text, { allowedSpecial: "all" })).toEqual(ids);
      expect(hf.encode(text, { allowedSpecial: "all" })).toEqual(ids);
    }
  });

  it("rejects a vocabulary size below 256 + specials", () => {
    expect(() => trainBpe("abc", { vocabSize: 256, specialTokens: ["<s>"] })).toThrow(TokenizerError);
  });

  it("trains with a custom split pattern: no token crosses its pieces, same merges as the textbook", () => {
    // Digits in pairs and letters apart from what follows them: unlike any built-in pattern.
    const pattern = "\\p{L}+|\\p{N}{1,2}|[^\\p{L}\\p{N}]+";
    const text = sample.slice(0, 50_000) + " 1234567 8675309 2026-12-01 ".repeat(200);
    const tok = trainBpe(text, { vocabSize: 256 + 80, pattern });
    expect(tok.patterns).toEqual([pattern]);
    const pieces = [...text.matchAll(new RegExp(pattern, "gu"))].map((m) => m[0]);
    expect(pieces.join("")).toBe(text);
    expect(tok.merges).toEqual(referenceTrain(text, 256 + 80, pieces));
    const whole = new RegExp(`^(?:${pattern})$`, "u");
    for (let id = 256; id < tok.vocabSize; id++) expect(tok.decode([id])).toMatch(whole);
    // "12" is a token, "123" can never be: the pattern cuts digit runs after two.
    expect(tok.encode("12")).toHaveLength(1);
    expect(tok.encode("1234").map((id) => tok.decode([id]))).toEqual(["12", "34"]);
    const again = loadBpeJson(saveBpeJson(tok));
    expect(again.patterns).toEqual([pattern]);
    expect(again.encode(text.slice(0, 5000))).toEqual(tok.encode(text.slice(0, 5000)));
  });

  it("refuses an invalid custom pattern with its own code", () => {
    try {
      trainBpe("abc", { vocabSize: 300, pattern: "(unclosed" });
      expect.unreachable();
    } catch (err) {
      expect((err as TokenizerError).code).toBe("TOKENIZER_BAD_PATTERN");
    }
  });

  it("stops early when the text runs out of pairs, and says so", () => {
    const progress: TrainProgress[] = [];
    const report = trainBpeWithReport("abcabc abd", { vocabSize: 5000, specialTokens: ["<|endoftext|>"], onProgress: (p) => progress.push(p) });
    // Pieces "abcabc", " abd" (cl100k): merges ab, abc, " ab" (a tie with abcabc, smaller ids
    // first), abcabc, " abd", and then every piece is one token.
    expect(report).toMatchObject({ requestedVocabSize: 5000, requestedMerges: 4743, merges: 5, shortfall: true });
    expect(report.tokenizer.vocabSize).toBe(256 + 5 + 1);
    expect(report.tokenizer.specialTokens.get("<|endoftext|>")).toBe(261);
    expect(report.tokenizer.encode("abcabc abd")).toEqual([259, 260]);
    expect(progress.at(-1)).toMatchObject({ merges: 5, total: 4743 });
    expect(trainBpe("abcabc abd", { vocabSize: 5000 }).vocabSize).toBe(261);
  });

  it("with exact: true, a shortfall is a TOKENIZER_VOCAB_SHORTFALL error naming both sizes", () => {
    try {
      trainBpe("abcabc abd", { vocabSize: 5000, exact: true });
      expect.unreachable();
    } catch (err) {
      expect((err as TokenizerError).code).toBe("TOKENIZER_VOCAB_SHORTFALL");
      expect((err as TokenizerError).message).toMatch(/expected 5000 tokens, found the text allows only 5 of 4744 merges \(261 tokens\)/);
    }
    expect(trainBpeWithReport(sample, { vocabSize: 300, exact: true }).shortfall).toBe(false);
  });

  it("records bos / eos among the special tokens, and keeps them through both file formats", () => {
    const tok = trainBpe(sample, { vocabSize: 400, specialTokens: ["<|endoftext|>", "<|bos|>"], bosToken: "<|bos|>", eosToken: "<|endoftext|>" });
    expect([tok.bosId, tok.eosId]).toEqual([399, 398]);
    const saved = saveBpeJson(tok);
    expect(JSON.parse(saved)).toMatchObject({ bosId: 399, eosId: 398 });
    const again = loadBpeJson(saved);
    expect([again.bosId, again.eosId]).toEqual([399, 398]);
    const exported = exportTokenizerJson(tok);
    expect(JSON.parse(exported)).toMatchObject({ bos_token_id: 399, eos_token_id: 398 });
    const hf = fromTokenizerJson(exported);
    expect([hf.bosId, hf.eosId]).toEqual([399, 398]);
    // Without them, neither file mentions them.
    const plain = trainBpe(sample, { vocabSize: 300 });
    expect(saveBpeJson(plain)).not.toMatch(/bosId|eosId/);
    expect(exportTokenizerJson(plain)).not.toMatch(/bos_token_id|eos_token_id/);
    expect([loadBpeJson(saveBpeJson(plain)).bosId, fromTokenizerJson(exportTokenizerJson(plain)).eosId]).toEqual([undefined, undefined]);
  });

  it("refuses a bos / eos token that is not one of the special tokens", () => {
    expect(() => trainBpe("abc", { vocabSize: 300, specialTokens: ["<s>"], bosToken: "<bos>" })).toThrow(/bosToken: expected one of specialTokens \("<s>"\), found "<bos>"/);
  });
});

describe("loadBpeJson validation", () => {
  it.each([
    ["not json", "file"],
    [`{"format":"other","version":1}`, "format"],
    [`{"format":"zero-llm-bpe","version":2}`, "version"],
    [`{"format":"zero-llm-bpe","version":1,"pattern":"gpt2","merges":[[1,300]]}`, "merges[0]"],
    [`{"format":"zero-llm-bpe","version":1,"pattern":"gpt2","merges":[],"specialTokens":{"x":3}}`, "specialTokens"],
    [`{"format":"zero-llm-bpe","version":1,"pattern":"gpt2","merges":[],"specialTokens":{"x":256},"eosId":257}`, "eosId: expected a token id in 0..256"],
    [`{"format":"zero-llm-bpe","version":1,"pattern":"gpt2","merges":[],"bosId":1.5}`, "bosId"],
  ])("names the bad field in %s", (json, field) => {
    expect(() => loadBpeJson(json)).toThrow(field);
  });
  it("names a bad bos_token_id in tokenizer.json", () => {
    const json = JSON.parse(exportTokenizerJson(trainBpe("abcabc", { vocabSize: 258 }))) as Record<string, unknown>;
    expect(() => fromTokenizerJson({ ...json, bos_token_id: 999 })).toThrow(/bos_token_id: expected a token id in 0..257, found 999/);
  });
});
