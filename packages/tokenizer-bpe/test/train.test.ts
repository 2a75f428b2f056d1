import { describe, expect, it } from "vitest";
import { TokenizerError, exportTokenizerJson, fromTokenizerJson, loadBpeJson, saveBpeJson, trainBpe } from "../src";
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
});

describe("loadBpeJson validation", () => {
  it.each([
    ["not json", "file"],
    [`{"format":"other","version":1}`, "format"],
    [`{"format":"zero-llm-bpe","version":2}`, "version"],
    [`{"format":"zero-llm-bpe","version":1,"pattern":"gpt2","merges":[[1,300]]}`, "merges[0]"],
    [`{"format":"zero-llm-bpe","version":1,"pattern":"gpt2","merges":[],"specialTokens":{"x":3}}`, "specialTokens"],
  ])("names the bad field in %s", (json, field) => {
    expect(() => loadBpeJson(json)).toThrow(field);
  });
});
